// The video grid: one tile per participant (ourselves first), names on every tile, the
// active speaker outlined, muted microphones and cameras shown, an "Auto-framed" badge on a
// camera the others see framed (framing.js). Remote audio plays through
// hidden <audio> elements so the video elements can stay muted (autoplay policies allow
// muted video without a gesture).
import { initials } from './names.js';

const SELF = 'self';
const SCREEN = ':screen'; // suffix of the key of a participant's screen-share tile

function countClass(n) {
  return n <= 9 ? String(n) : 'many';
}

class Tile {
  constructor(key, isSelf) {
    this.key = key;
    this.trackId = null;
    this.name = '';
    this.presentedFrames = 0;
    this.lastFrameAt = 0;
    this.alive = true;
    this.el = document.createElement('figure');
    this.el.className = isSelf ? 'tile self' : 'tile';
    this.el.dataset.participant = key;
    this.video = document.createElement('video');
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.video.muted = true;
    this.avatar = document.createElement('div');
    this.avatar.className = 'avatar';
    this.avatar.setAttribute('aria-hidden', 'true');
    const caption = document.createElement('figcaption');
    this.nameEl = document.createElement('span');
    this.nameEl.className = 'name';
    const micOff = document.createElement('span');
    micOff.className = 'icon mic-off';
    micOff.setAttribute('role', 'img');
    micOff.setAttribute('aria-label', 'microphone muted');
    const hand = document.createElement('span');
    hand.className = 'icon hand';
    hand.setAttribute('role', 'img');
    hand.setAttribute('aria-label', 'hand raised');
    caption.append(hand, this.nameEl, micOff);
    // Shown by CSS while the tile's `data-framing` is "on" (or, dimmed, "starting").
    this.framingBadge = document.createElement('span');
    this.framingBadge.className = 'framing-badge';
    this.framingBadge.textContent = 'Auto-framed';
    this.framingBadge.setAttribute('aria-hidden', 'true');
    this.el.append(this.video, this.avatar, this.framingBadge, caption);
    this.#watchFrames();
  }

  // requestVideoFrameCallback counts frames actually presented (Chromium, Firefox >= 132);
  // older browsers fall back to getVideoPlaybackQuality() when asked.
  #watchFrames() {
    if (!('requestVideoFrameCallback' in HTMLVideoElement.prototype)) return;
    const step = (now, meta) => {
      this.presentedFrames = meta.presentedFrames;
      this.lastFrameAt = now;
      if (this.alive) this.video.requestVideoFrameCallback(step);
    };
    this.video.requestVideoFrameCallback(step);
  }

  frames() {
    if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) return this.presentedFrames;
    const q = this.video.getVideoPlaybackQuality ? this.video.getVideoPlaybackQuality() : null;
    return q ? q.totalVideoFrames : 0;
  }

  setTrack(track) {
    const id = track ? track.id : null;
    if (id === this.trackId) return;
    this.trackId = id;
    this.video.srcObject = track ? new MediaStream([track]) : null;
    if (track) this.video.play().catch(() => {});
  }

  update({ name, caption, cameraOff, micMuted, speaking, label, hand = false, screen = false, framing = 'off' }) {
    this.el.dataset.framing = framing;
    this.framingBadge.textContent = framing === 'starting' ? 'Auto-framing…' : 'Auto-framed';
    this.el.classList.toggle('hand-raised', hand);
    this.el.classList.toggle('screen', screen);
    this.name = name;
    this.nameEl.textContent = caption;
    this.avatar.textContent = initials(name);
    this.el.setAttribute('aria-label', label);
    this.el.classList.toggle('camera-off', cameraOff);
    this.el.classList.toggle('mic-muted', micMuted);
    this.el.classList.toggle('speaking', speaking);
  }

  remove() {
    this.alive = false;
    this.video.srcObject = null;
    this.el.remove();
  }
}

export class Grid extends EventTarget {
  #tiles = new Map(); // participant sid (or 'self') -> Tile
  #audio = new Map(); // track sid -> <audio>
  #blockedAudio = false;

  constructor(container, audioSink) {
    super();
    this.container = container;
    this.audioSink = audioSink;
  }

  /** Re-draws from the meeting's state; cheap enough to call on every change. */
  render(meeting) {
    const wanted = new Set([SELF]);
    const self = this.#tile(SELF, true);
    const media = meeting.media;
    const selfSid = meeting.self ? meeting.self.sid : null;
    self.setTrack(media.cameraEnabled ? media.camera : null);
    // Our own preview stays the local camera; the badge says the others see it framed.
    const selfFraming = meeting.framingOf(selfSid);
    self.update({
      name: meeting.name,
      caption: `${meeting.name} (you)`,
      label: selfFraming === 'on' ? `${meeting.name} (you), auto-framed` : `${meeting.name} (you)`,
      cameraOff: !media.cameraEnabled || !media.camera,
      micMuted: !media.micEnabled,
      speaking: selfSid !== null && meeting.activeSpeaker === selfSid,
      hand: meeting.hand() !== null,
      framing: selfFraming,
    });

    const audioWanted = new Set();
    for (const p of meeting.remoteView()) {
      wanted.add(p.sid);
      const tile = this.#tile(p.sid, false);
      tile.setTrack(p.videoTrack);
      const framing = meeting.framingOf(p.sid);
      const states = [
        p.hand !== null ? 'hand raised' : null,
        p.microphoneMuted ? 'microphone muted' : null,
        p.cameraMuted ? 'camera off' : null,
        framing === 'on' ? 'auto-framed' : null,
      ].filter(Boolean);
      tile.update({
        name: p.name,
        caption: p.host ? `${p.name} (host)` : p.name,
        label: states.length ? `${p.name}, ${states.join(', ')}` : p.name,
        cameraOff: p.cameraMuted || !p.videoTrack,
        micMuted: p.microphoneMuted,
        speaking: p.speaking,
        hand: p.hand !== null,
        framing,
      });
      if (p.screenTrack) {
        // A shared screen gets a tile of its own, next to its sharer's camera.
        const key = p.sid + SCREEN;
        wanted.add(key);
        const screen = this.#tile(key, false);
        screen.setTrack(p.screenTrack);
        screen.update({
          name: p.name,
          caption: `${p.name}'s screen`,
          label: `${p.name}'s screen`,
          cameraOff: false,
          micMuted: false,
          speaking: false,
          screen: true,
        });
      }
      for (const a of p.audio) {
        audioWanted.add(a.trackSid);
        this.#playAudio(a.trackSid, a.track);
      }
    }
    for (const [key, tile] of this.#tiles) {
      if (!wanted.has(key)) {
        tile.remove();
        this.#tiles.delete(key);
      }
    }
    for (const [sid, el] of this.#audio) {
      if (!audioWanted.has(sid)) {
        el.srcObject = null;
        el.remove();
        this.#audio.delete(sid);
      }
    }
    this.container.dataset.count = countClass(this.#tiles.size);
  }

  #tile(key, isSelf) {
    let tile = this.#tiles.get(key);
    if (!tile) {
      tile = new Tile(key, isSelf);
      this.#tiles.set(key, tile);
      if (isSelf) this.container.prepend(tile.el);
      else this.container.append(tile.el);
    }
    return tile;
  }

  #playAudio(trackSid, track) {
    let el = this.#audio.get(trackSid);
    if (el && el.srcObject && el.srcObject.getTracks()[0] === track) return;
    if (!el) {
      el = document.createElement('audio');
      el.autoplay = true;
      el.dataset.track = trackSid;
      this.audioSink.append(el);
      this.#audio.set(trackSid, el);
    }
    el.srcObject = new MediaStream([track]);
    el.play().catch(() => {
      // Autoplay policy: sound needs a click on this page first.
      this.#blockedAudio = true;
      this.dispatchEvent(new Event('audio-blocked'));
    });
  }

  /** After a user gesture: retry playing every remote audio element. */
  resumeAudio() {
    this.#blockedAudio = false;
    for (const el of this.#audio.values()) el.play().catch(() => { this.#blockedAudio = true; });
    return !this.#blockedAudio;
  }

  /** Remote tiles for the debug hook: [{participantSid, trackId, frames, width, height, ...}]. */
  remoteTiles() {
    const out = [];
    for (const [key, tile] of this.#tiles) {
      if (key === SELF || key.endsWith(SCREEN)) continue;
      out.push({
        participantSid: key,
        name: tile.name,
        hasVideo: tile.trackId !== null,
        framesPresented: tile.frames(),
        videoWidth: tile.video.videoWidth,
        videoHeight: tile.video.videoHeight,
        cameraOff: tile.el.classList.contains('camera-off'),
        microphoneMuted: tile.el.classList.contains('mic-muted'),
        speaking: tile.el.classList.contains('speaking'),
        handRaised: tile.el.classList.contains('hand-raised'),
        framing: tile.el.dataset.framing || 'off',
      });
    }
    return out;
  }

  videoElement(key) {
    const tile = this.#tiles.get(key);
    return tile ? tile.video : null;
  }

  clear() {
    for (const tile of this.#tiles.values()) tile.remove();
    this.#tiles.clear();
    for (const el of this.#audio.values()) {
      el.srcObject = null;
      el.remove();
    }
    this.#audio.clear();
  }
}
