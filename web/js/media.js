// Local camera and microphone. Turning the camera off stops its track (the camera light goes
// out) and turning it on asks for a new one; the microphone is muted with `enabled = false`
// so unmuting is instant. Emits 'change' whenever a track or a switch changes.

const VIDEO = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24, max: 30 } };
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

function describe(err) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'permission was denied';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'no device was found';
  if (name === 'NotReadableError') return 'the device is in use by another application';
  return (err && err.message) || 'it could not be started';
}

export class LocalMedia extends EventTarget {
  stream = new MediaStream();
  mic = null;
  camera = null;
  micAvailable = false;
  cameraAvailable = false;
  micEnabled = true;
  cameraEnabled = true;
  problems = [];

  /** Asks for camera and microphone; whatever is refused is reported in `problems`. */
  async start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.problems.push('This browser cannot use a camera or microphone here (a secure https page is needed).');
      return;
    }
    try {
      const both = await navigator.mediaDevices.getUserMedia({ audio: AUDIO, video: VIDEO });
      both.getAudioTracks().forEach((t) => this.#setMic(t));
      both.getVideoTracks().forEach((t) => this.#setCamera(t));
    } catch {
      // Try each on its own: a missing camera must not cost the microphone.
      await this.#tryOne('audio');
      await this.#tryOne('video');
    }
    this.#changed();
  }

  async #tryOne(kind) {
    try {
      const s = await navigator.mediaDevices.getUserMedia(kind === 'audio' ? { audio: AUDIO } : { video: VIDEO });
      if (kind === 'audio') this.#setMic(s.getAudioTracks()[0]);
      else this.#setCamera(s.getVideoTracks()[0]);
    } catch (err) {
      const what = kind === 'audio' ? 'Microphone' : 'Camera';
      this.problems.push(`${what} unavailable: ${describe(err)}. You can still join.`);
      if (kind === 'audio') this.micEnabled = false;
      else this.cameraEnabled = false;
    }
  }

  #setMic(track) {
    if (!track) return;
    this.mic = track;
    this.micAvailable = true;
    track.enabled = this.micEnabled;
    this.stream.addTrack(track);
  }

  #setCamera(track) {
    if (!track) return;
    if (this.camera) this.stream.removeTrack(this.camera);
    this.camera = track;
    this.cameraAvailable = true;
    this.stream.addTrack(track);
  }

  setMicEnabled(on) {
    if (!this.micAvailable) return;
    this.micEnabled = on;
    if (this.mic) this.mic.enabled = on;
    this.#changed();
  }

  /** Stops or restarts the camera; resolves to the new camera track (or null). */
  async setCameraEnabled(on) {
    if (!this.cameraAvailable) return null;
    if (!on) {
      this.cameraEnabled = false;
      if (this.camera) {
        this.camera.stop();
        this.stream.removeTrack(this.camera);
        this.camera = null;
      }
      this.#changed();
      return null;
    }
    if (!this.camera) {
      const s = await navigator.mediaDevices.getUserMedia({ video: VIDEO });
      this.#setCamera(s.getVideoTracks()[0]);
    }
    this.cameraEnabled = true;
    this.#changed();
    return this.camera;
  }

  stop() {
    for (const track of this.stream.getTracks()) track.stop();
    this.mic = null;
    this.camera = null;
  }

  #changed() {
    this.dispatchEvent(new Event('change'));
  }
}
