// Getting into a meeting (the page /r/<room> before the meeting starts): camera and
// microphone preview, the required name, the meeting password when the server asks for one
// (docs/protocol.md, "Password"), and the waiting room until a host lets us in ("Waiting
// room (lobby)"). A joined Meeting is handed to the page's `enter`.
import { ApiError, guestToken } from './api.js';
import { LocalMedia } from './media.js';
import { Meeting } from './meeting.js';
import { MeetingError } from './meeting-error.js';
import { nameProblem, rememberName } from './names.js';
import { setToggle } from './toggle-button.js';

// Fatal join errors that end on their own screen rather than back on the pre-join card.
const TURNED_AWAY = {
  lobby_denied: ['The host did not let you in', 'You can ask to join again, or contact the host.'],
  lobby_timeout: ['Nobody let you in', 'You waited a long time in the waiting room without a host admitting you. You can ask to join again.'],
};

export class Prejoin {
  media = null;
  mediaReady = Promise.resolve(); // settles once camera and microphone were asked for
  pending = null; // the meeting being joined (or waited for in the lobby)
  needPassword = false;
  #page;

  /**
   * @param {(id: string) => HTMLElement} $ getElementById
   * @param {string} room
   * @param {SessionToken} token
   * @param {{phase: () => string, show: (phase: string) => void,
   *          showEnded: (title: string, text: string) => void, enter: (meeting, token) => void,
   *          renderMeeting: () => void, guarded: (action) => Promise<void>}} page
   */
  constructor($, room, token, page) {
    this.$ = $;
    this.room = room;
    this.token = token;
    this.#page = page;
  }

  wire() {
    const $ = this.$;
    $('prejoin-form').addEventListener('submit', (event) => this.#onSubmit(event));
    $('display-name').addEventListener('input', () => {
      $('display-name').removeAttribute('aria-invalid');
      this.#problem('');
    });
    $('prejoin-mic').addEventListener('click', () => this.media.setMicEnabled(!this.media.micEnabled));
    $('prejoin-camera').addEventListener('click', () => this.#page.guarded(async () => {
      await this.media.setCameraEnabled(!this.media.cameraEnabled);
    }));
    $('waiting-leave').addEventListener('click', () => this.#page.guarded(() => (this.pending ? this.pending.leave() : undefined)));
  }

  async startPreview() {
    this.media = new LocalMedia();
    this.media.addEventListener('change', () => {
      if (this.#page.phase() === 'meeting') this.#page.renderMeeting();
      else this.renderDevices();
    });
    this.$('device-message').textContent = 'Starting camera and microphone…';
    this.mediaReady = this.media.start();
    await this.mediaReady;
    this.renderDevices();
  }

  renderDevices() {
    const $ = this.$;
    const media = this.media;
    setToggle($('prejoin-mic'), media.micEnabled, 'Microphone on', 'Microphone off', media.micAvailable);
    setToggle($('prejoin-camera'), media.cameraEnabled, 'Camera on', 'Camera off', media.cameraAvailable);
    const video = $('preview-video');
    const cameraOn = media.cameraEnabled && media.camera;
    if (cameraOn && (!video.srcObject || video.srcObject.getVideoTracks()[0] !== media.camera)) {
      video.srcObject = new MediaStream([media.camera]);
    } else if (!cameraOn) {
      video.srcObject = null;
    }
    $('preview-off').hidden = Boolean(cameraOn);
    $('preview-off').textContent = media.cameraAvailable ? 'Camera is off' : 'No camera';
    $('device-message').textContent = media.problems.join(' ');
  }

  stopMedia() {
    if (this.media) this.media.stop();
    this.$('preview-video').srcObject = null;
  }

  /** In the meeting: no more password prompt. */
  entered() {
    this.needPassword = false;
    this.$('password-row').hidden = true;
  }

  #problem(text) {
    this.$('prejoin-message').textContent = text;
  }

  async #onSubmit(event) {
    event.preventDefault();
    if (this.#page.phase() !== 'prejoin') return;
    const $ = this.$;
    const input = $('display-name');
    const problem = nameProblem(input.value);
    if (problem) {
      input.setAttribute('aria-invalid', 'true');
      this.#problem(problem);
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    this.#problem('');
    const name = input.value.trim();
    const password = this.needPassword ? $('meeting-password').value : null;
    if (this.needPassword && !password) {
      this.#problem('This meeting has a password. Enter it to join.');
      $('meeting-password').focus();
      return;
    }
    rememberName(name);
    const button = $('join-button');
    button.disabled = true;
    button.textContent = 'Joining…';
    this.#page.show('joining');
    try {
      // Join with the devices we will have, not before the browser has answered for them.
      await this.mediaReady;
      await this.#joinAs(name, password);
    } catch (err) {
      this.pending = null;
      const code = err && err.code;
      if (code === 'left') {
        this.stopMedia();
        this.#page.showEnded('You left the waiting room', '');
        return;
      }
      if (TURNED_AWAY[code]) {
        this.stopMedia();
        this.#page.showEnded(...TURNED_AWAY[code]);
        return;
      }
      this.#page.show('prejoin');
      const text = err instanceof ApiError || err instanceof MeetingError ? err.message : 'Could not join the meeting.';
      if (code === 'name_required') input.setAttribute('aria-invalid', 'true');
      this.#problem(text);
      if (code === 'password_required' || (code === 'invalid_token' && this.needPassword)) this.#askPassword();
      else console.error('sparkle: join failed', err);
    } finally {
      button.disabled = false;
      button.textContent = 'Join meeting';
    }
  }

  #askPassword() {
    const $ = this.$;
    this.needPassword = true;
    $('password-row').hidden = false;
    $('meeting-password').value = '';
    $('meeting-password').focus();
  }

  async #joinAs(name, password) {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const token = this.token.value || (await guestToken(this.room, name, password));
      const meeting = new Meeting({ token, name, media: this.media, password });
      this.pending = meeting;
      meeting.addEventListener('waiting', () => {
        this.$('waiting-room').textContent = this.room;
        this.#page.show('waiting');
        this.$('waiting-leave').focus();
      });
      try {
        await meeting.join();
        this.pending = null;
        this.#page.enter(meeting, token);
        return;
      } catch (err) {
        const retry = err instanceof MeetingError && err.code === 'invalid_token' && this.token.fromStorage;
        if (err instanceof MeetingError && err.code === 'invalid_token') this.token.forget();
        if (!retry) throw err;
        // A token kept from an earlier visit has expired: carry on as a guest.
      }
    }
  }
}
