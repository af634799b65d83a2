// What a host's commands (docs/protocol.md, "Hosts") do to this participant: the server has
// already applied them in the media plane, so the client switches the same thing off locally
// (the buttons must tell the truth) and says who did it.

const ALERTED = new Set(['muted_by_host', 'unmute_requested', 'share_stopped', 'camera_off']);

function byName(by) {
  return by && typeof by.name === 'string' && by.name ? `The host (${by.name})` : 'The host';
}

export class HostCommands {
  #context;

  /**
   * @param {{alert: (code: string, message: string) => void, muteMicrophone: () => void,
   *          stopCamera: () => void, stopScreenShare: () => void,
   *          nameOf: (sid: string) => string|null}} context what they act on
   */
  constructor(context) {
    this.#context = context;
  }

  /** True when `m` was one of the host-command messages (and has been acted on). */
  handle(m) {
    if (!ALERTED.has(m.type)) return false;
    const ctx = this.#context;
    switch (m.type) {
      case 'muted_by_host':
        this.#mutedByHost(m.source, m.by);
        break;
      case 'unmute_requested':
        ctx.alert('unmute_requested', `${byName(m.by)} asks you to unmute. Press Unmute when you are ready to speak.`);
        break;
      case 'share_stopped':
        ctx.alert('share_stopped', `${byName(m.by)} stopped your screen share.`);
        ctx.stopScreenShare();
        break;
      case 'camera_off': {
        // Hosts only, with require_camera on.
        const name = ctx.nameOf(m.participant_sid);
        if (name !== null) ctx.alert('camera_off', `${name} turned the camera off (this meeting requires it).`);
        break;
      }
      default:
        break;
    }
    return true;
  }

  #mutedByHost(source, by) {
    const ctx = this.#context;
    if (source === 'microphone') {
      // The SFU already drops our audio; switch the track off too so the button tells the truth.
      ctx.muteMicrophone();
      if (by) ctx.alert('muted_by_host', `${byName(by)} muted you.`);
      else ctx.alert('muted_on_entry', 'You joined muted: this meeting mutes people when they join.');
    } else if (source === 'camera') {
      ctx.stopCamera();
      ctx.alert('camera_stopped_by_host', `${byName(by)} turned off your camera.`);
    }
  }
}
