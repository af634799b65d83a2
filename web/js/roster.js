// Who else is in the room and what they publish, as the server announces it (docs/protocol.md,
// "Server → client"): participants, tracks, the active speaker; and, given our receive slots,
// which of those tracks reach us.
import { handOf } from './room-policy.js';

const ROSTER_MESSAGES = new Set([
  'participant_joined',
  'participant_left',
  'track_published',
  'track_unpublished',
  'track_muted',
  'active_speaker',
]);

export class Roster {
  participants = new Map(); // sid -> Participant (others)
  tracks = new Map(); // track sid -> Track
  activeSpeaker = null;

  /** Replaces everything with the lists of `joined` or `camera_accepted`. */
  reset(message) {
    this.participants.clear();
    this.tracks.clear();
    for (const p of message.participants || []) if (p && p.sid) this.participants.set(p.sid, p);
    for (const t of message.tracks || []) if (t && t.sid) this.tracks.set(t.sid, t);
  }

  /** True when `m` was a roster message (and has been applied). */
  apply(m) {
    if (!ROSTER_MESSAGES.has(m.type)) return false;
    switch (m.type) {
      case 'participant_joined':
        if (m.participant && m.participant.sid) this.participants.set(m.participant.sid, m.participant);
        break;
      case 'participant_left':
        this.participants.delete(m.participant_sid);
        for (const [sid, t] of this.tracks) if (t.participant_sid === m.participant_sid) this.tracks.delete(sid);
        if (this.activeSpeaker === m.participant_sid) this.activeSpeaker = null;
        break;
      case 'track_published':
        if (m.track && m.track.sid) this.tracks.set(m.track.sid, m.track);
        break;
      case 'track_unpublished':
        this.tracks.delete(m.track_sid);
        break;
      case 'track_muted': {
        const track = this.tracks.get(m.track_sid);
        if (track) track.muted = Boolean(m.muted);
        break;
      }
      case 'active_speaker':
        this.activeSpeaker = m.participant_sid || null;
        break;
      default:
        break;
    }
    return true;
  }

  /** An updated participant we already know (`participant_updated` about someone else). */
  update(p) {
    if (this.participants.has(p.sid)) this.participants.set(p.sid, p);
  }

  /** Remote participants with the tracks that currently reach us through `receiveSlots`. */
  view(receiveSlots) {
    const slots = new Map();
    for (const slot of receiveSlots) slots.set(slot.trackSid, slot);
    const view = [];
    for (const p of this.participants.values()) {
      const own = [...this.tracks.values()].filter((t) => t.participant_sid === p.sid);
      const camera = own.find((t) => t.source === 'camera');
      const mic = own.find((t) => t.source === 'microphone');
      const cameraSlot = camera ? slots.get(camera.sid) : undefined;
      const screen = own.find((t) => t.source === 'screen_share');
      const screenSlot = screen ? slots.get(screen.sid) : undefined;
      view.push({
        sid: p.sid,
        name: p.name,
        host: Boolean(p.host),
        cameraTrackSid: camera ? camera.sid : null,
        videoTrack: cameraSlot ? cameraSlot.track : null,
        cameraMuted: !camera || Boolean(camera.muted),
        microphoneMuted: !mic || Boolean(mic.muted),
        audio: own
          .filter((t) => t.kind === 'audio' && slots.has(t.sid))
          .map((t) => ({ trackSid: t.sid, track: slots.get(t.sid).track })),
        speaking: this.activeSpeaker === p.sid,
        hand: handOf(p),
        screenTrack: screenSlot && !screen.muted ? screenSlot.track : null,
      });
    }
    return view;
  }
}
