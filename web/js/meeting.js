// One participation in a meeting: the signalling socket, the peer connection, and what we know
// about the room (participants, tracks, who speaks). Emits 'change' whenever the view should
// be redrawn, 'notice' (detail: {code, message}) for a non-fatal error to show, and 'ended'
// (detail: {reason, message}) once the participation is over.
import { PeerSession } from './peer.js';
import { SignalClient } from './signal.js';

const JOIN_TIMEOUT_MS = 15000;
const LEAVE_TIMEOUT_MS = 2000;

const CLOSE_MESSAGES = {
  1009: 'A message was too large for the server.',
  4400: 'This page is out of date; reload it.',
  4401: 'Your invitation is invalid or has expired.',
  4408: 'The server closed the connection because joining took too long.',
  4409: 'You joined this meeting from another window or device.',
  4410: 'The meeting was ended.',
  4429: 'The meeting is full.',
};

export class MeetingError extends Error {
  constructor(code, message, fatal = true) {
    super(message);
    this.name = 'MeetingError';
    this.code = code;
    this.fatal = fatal;
  }
}

export class Meeting extends EventTarget {
  phase = 'idle'; // idle | joining | joined | leaving | left | failed
  room = null; // {name, sid}
  self = null; // Participant
  participants = new Map(); // sid -> Participant (others)
  tracks = new Map(); // track sid -> Track
  activeSpeaker = null;
  notices = []; // recent {code, message}
  peer = null;
  #joinWaiter = null;
  #mutesSent = false;
  #byeReason = null;

  constructor({ token, name, media }) {
    super();
    this.token = token;
    this.name = name;
    this.media = media;
    this.signal = new SignalClient();
    this.signal.addEventListener('message', (e) => this.#onMessage(e.detail));
    this.signal.addEventListener('close', (e) => this.#onClose(e.detail));
    this.signal.addEventListener('state', () => this.#changed());
  }

  /** Connects and joins; rejects with a MeetingError a person can read. */
  async join() {
    this.phase = 'joining';
    this.#changed();
    try {
      await this.signal.open();
    } catch (err) {
      this.phase = 'failed';
      throw new MeetingError('network', err.message);
    }
    const joined = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new MeetingError('timeout', 'The server did not let us in in time.')), JOIN_TIMEOUT_MS);
      this.#joinWaiter = {
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
    });
    this.signal.send({ type: 'join', v: 1, token: this.token, name: this.name });
    let message;
    try {
      message = await joined;
    } catch (err) {
      this.phase = 'failed';
      this.signal.close();
      throw err;
    } finally {
      this.#joinWaiter = null;
    }
    this.#onJoined(message);
  }

  #onJoined(message) {
    this.phase = 'joined';
    this.room = message.room || { name: '', sid: '' };
    this.self = message.participant || null;
    for (const p of message.participants || []) this.participants.set(p.sid, p);
    for (const t of message.tracks || []) this.tracks.set(t.sid, t);
    const iceServers = (message.ice_servers || []).map((s) => {
      const server = { urls: s.urls };
      if (s.username) server.username = s.username;
      if (s.credential) server.credential = s.credential;
      return server;
    });
    const peer = new PeerSession(iceServers, (m) => this.signal.send(m));
    this.peer = peer;
    peer.addEventListener('mapping', () => this.#onMapping());
    peer.addEventListener('state', () => this.#changed());
    peer.addEventListener('error', (e) => this.#notice('negotiation', `Media negotiation failed: ${e.detail}`));
    const media = this.media;
    if (media.micAvailable) peer.publish('microphone', 'audio', media.mic, media.stream);
    if (media.cameraAvailable) peer.publish('camera', 'video', media.camera, media.stream);
    // The first offer carries our own tracks and a receive slot for every track `joined`
    // listed, so we see and hear the others without waiting for a `renegotiate` round trip.
    const others = [...this.tracks.values()].filter((t) => !this.self || t.participant_sid !== this.self.sid);
    peer.setReceiveSlots({
      audio: others.filter((t) => t.kind === 'audio').length,
      video: others.filter((t) => t.kind === 'video').length,
    });
    this.#changed();
  }

  #onMapping() {
    if (!this.#mutesSent) {
      // Tell the others what is switched off, once our tracks exist on the server.
      this.#mutesSent = true;
      if (this.peer.hasSource('microphone') && !this.media.micEnabled) this.#sendMute('microphone', true);
      if (this.peer.hasSource('camera') && !this.media.cameraEnabled) this.#sendMute('camera', true);
    }
    this.#changed();
  }

  #onMessage(m) {
    if (this.#joinWaiter) {
      if (m.type === 'joined') return this.#joinWaiter.resolve(m);
      if (m.type === 'error') {
        return this.#joinWaiter.reject(new MeetingError(m.code, m.message || 'Could not join.', Boolean(m.fatal)));
      }
    }
    switch (m.type) {
      case 'answer':
        if (this.peer) this.peer.handleAnswer(m);
        break;
      case 'renegotiate':
        if (this.peer) this.peer.setReceiveSlots(m.recv);
        break;
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
      case 'error':
        this.#onError(m);
        return;
      case 'bye':
        this.#byeReason = m.reason || 'left';
        return;
      default:
        return; // pong and anything newer than this client
    }
    this.#changed();
  }

  async #onError(m) {
    if (this.peer && m.id !== undefined) await this.peer.handleOfferError(m.id);
    if (m.fatal) {
      this.#end('failed', m.message || 'The server ended the connection.');
      return;
    }
    this.#notice(m.code, m.message || 'Something went wrong.');
  }

  #notice(code, message) {
    this.notices.push({ code, message });
    if (this.notices.length > 20) this.notices.shift();
    this.dispatchEvent(new CustomEvent('notice', { detail: { code, message } }));
  }

  #onClose({ code }) {
    if (this.phase === 'joining' && this.#joinWaiter) {
      this.#joinWaiter.reject(new MeetingError('closed', CLOSE_MESSAGES[code] || 'The server closed the connection.'));
      return;
    }
    if (this.phase === 'leaving' || this.phase === 'left') return;
    if (this.phase === 'joined') {
      this.#end('failed', CLOSE_MESSAGES[code] || 'The connection to the meeting server was lost.');
    }
  }

  async toggleMic() {
    const on = !this.media.micEnabled;
    this.media.setMicEnabled(on);
    this.#sendMute('microphone', !on);
    this.#changed();
  }

  async toggleCamera() {
    const on = !this.media.cameraEnabled;
    if (on) {
      const track = await this.media.setCameraEnabled(true);
      if (this.peer) await this.peer.replaceTrack('camera', track);
    } else {
      if (this.peer) await this.peer.replaceTrack('camera', null);
      await this.media.setCameraEnabled(false);
    }
    this.#sendMute('camera', !on);
    this.#changed();
  }

  #sendMute(source, muted) {
    if (this.phase === 'joined' && this.peer && this.peer.hasSource(source) && this.#mutesSent) {
      this.signal.send({ type: 'mute', source, muted });
    }
  }

  /** Leaves politely: `leave`, then wait (bounded) for the server's `bye`. */
  async leave() {
    if (this.phase !== 'joined' && this.phase !== 'joining') return;
    this.phase = 'leaving';
    const closed = new Promise((resolve) => {
      const timer = setTimeout(resolve, LEAVE_TIMEOUT_MS);
      this.signal.addEventListener('close', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
    if (this.signal.send({ type: 'leave' }) !== null) await closed;
    this.#end('left', 'You left the meeting.');
  }

  #end(phase, message) {
    if (this.phase === 'left' || this.phase === 'failed') return;
    this.phase = phase;
    if (this.peer) this.peer.close();
    this.signal.close();
    this.#changed();
    this.dispatchEvent(new CustomEvent('ended', { detail: { reason: phase === 'left' ? 'left' : this.#byeReason || 'error', message } }));
  }

  /** 'connecting' | 'connected' | 'failed' | 'closed' with a short text for the indicator. */
  connection() {
    const ws = this.signal.state;
    const pc = this.peer ? this.peer.state : 'new';
    if (ws === 'closed') return { state: 'closed', text: 'Disconnected', ws, pc };
    if (ws !== 'open') return { state: 'connecting', text: 'Connecting…', ws, pc };
    if (pc === 'connected' || pc === 'completed') return { state: 'connected', text: 'Connected', ws, pc };
    if (pc === 'failed') return { state: 'failed', text: 'Media connection failed', ws, pc };
    if (pc === 'disconnected') return { state: 'connecting', text: 'Reconnecting media…', ws, pc };
    return { state: 'connecting', text: 'Connecting media…', ws, pc };
  }

  /** Remote participants with the tracks that currently reach us. */
  remoteView() {
    const slots = new Map();
    if (this.peer) for (const slot of this.peer.receiveSlots()) slots.set(slot.trackSid, slot);
    const view = [];
    for (const p of this.participants.values()) {
      const own = [...this.tracks.values()].filter((t) => t.participant_sid === p.sid);
      const camera = own.find((t) => t.source === 'camera');
      const mic = own.find((t) => t.source === 'microphone');
      const cameraSlot = camera ? slots.get(camera.sid) : undefined;
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
      });
    }
    return view;
  }

  #changed() {
    this.dispatchEvent(new Event('change'));
  }
}
