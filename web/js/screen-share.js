// Our own screen share: asks the browser for a screen, window or tab (getDisplayMedia) and
// publishes it as the `screen_share` source. The server forwards it only while we have the
// `screen_share` permission (docs/protocol.md, "Floor"); a host may stop it (`share_stopped`).
import { MeetingError } from './meeting-error.js';

const CAPTURE = { video: { frameRate: { ideal: 15, max: 30 } }, audio: false };

export class ScreenShare {
  track = null; // the capture track, while we share
  #context;

  /**
   * @param {{peer: () => PeerSession|null, allowed: () => boolean, joined: () => boolean,
   *          changed: () => void}} context what the share needs of its meeting
   */
  constructor(context) {
    this.#context = context;
  }

  /** Asks for a screen (or window) and publishes it as `screen_share`. */
  async start() {
    const ctx = this.#context;
    if (this.track || !ctx.peer()) return;
    if (!ctx.allowed()) {
      throw new MeetingError('forbidden', 'The host has not allowed you to share your screen.', false);
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
      throw new MeetingError('unsupported', 'This browser cannot share a screen.', false);
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia(CAPTURE);
    } catch (err) {
      if (err && err.name === 'NotAllowedError') return; // the person cancelled the picker
      throw new MeetingError('screen', `The screen could not be shared: ${(err && err.message) || err}`, false);
    }
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    const peer = ctx.peer();
    if (!ctx.joined() || !peer) {
      track.stop();
      return;
    }
    this.track = track;
    // The browser's own "Stop sharing" bar ends the track.
    track.addEventListener('ended', () => this.stop());
    peer.publish('screen_share', 'video', track, stream);
    peer.negotiate();
    ctx.changed();
  }

  /** Stops our screen share; the m-section goes inactive, so the server unpublishes it. */
  async stop() {
    const track = this.track;
    if (!track) return;
    this.track = null;
    track.stop();
    const peer = this.#context.peer();
    if (peer) await peer.unpublish('screen_share');
    this.#context.changed();
  }

  /** The participation is over: stop capturing, with no connection left to tell. */
  end() {
    if (this.track) this.track.stop();
    this.track = null;
  }
}
