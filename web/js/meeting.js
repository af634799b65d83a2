// One participation in a meeting: the signalling socket, the peer connection, and what we know
// about the room (settings, chat) and about ourselves (role, rights, hand). The roster
// (roster.js), the waiting room (lobby.js), our screen share (screen-share.js) and what hosts
// do to us (host-commands.js) live in their own modules.
// Emits 'change' whenever the view should be redrawn, 'notice' (detail: {code, message}) for
// a non-fatal error to show, 'alert' (detail: {code, message}) for something a host did to us
// or that we may not do, 'waiting' once we are in the lobby, 'knock' and 'lobby-left' (hosts:
// someone arrives in or leaves the lobby), 'chat' (detail: message), 'recording' (detail:
// {previous, current, wire}: the room's recording changed, recording.js), 'transcription'
// (detail: {previous, current, wire}, transcription.js), 'caption' (detail: the server's
// `caption` message), 'summary' (detail: {meeting_id}: the meeting's summary is ready) and
// 'ended' (detail: {reason, message}) once the participation is over. Auto-framing
// (framing.js) tells its news through 'alert'.
import { HostCommands } from './host-commands.js';
import { Lobby } from './lobby.js';
import { MeetingError, closeMessage } from './meeting-error.js';
import { PeerSession } from './peer.js';
import { RecordingStatus } from './recording.js';
import { handOf, mergeRoom, permissionsOf } from './room-policy.js';
import { Roster } from './roster.js';
import { FramingStatus, framingRefusalText } from './framing.js';
import { ScreenShare } from './screen-share.js';
import { SignalClient } from './signal.js';
import { TranscriptionStatus, refusalText } from './transcription.js';

const JOIN_TIMEOUT_MS = 15000;
const LEAVE_TIMEOUT_MS = 2000;
const MAX_CHAT_MESSAGES = 500;
const MAX_ALERTS = 50;

const CANNOT_UNMUTE = "You can't unmute: raise your hand to ask the host.";

export class Meeting extends EventTarget {
  phase = 'idle'; // idle | joining | waiting | joined | leaving | left | failed
  room = null; // settings object (room-policy.js)
  self = null; // Participant
  held = false; // require_camera: in, but nothing is shared with us until our camera runs
  lobby = new Lobby((event) => this.dispatchEvent(event)); // hosts: who waits
  chat = []; // chat messages as the server sent them
  alerts = []; // recent {code, message}: what hosts did to us, what we may not do
  roster = new Roster();
  notices = []; // recent {code, message}
  peer = null;
  #joinWaiter = null;
  #mutesSent = false;
  #byeReason = null;
  #unmuteId = null; // id of our last `mute` false, to undo it when the server refuses it
  #screen = new ScreenShare({
    peer: () => this.peer,
    allowed: () => this.permissions().screen_share,
    joined: () => this.phase === 'joined',
    changed: () => this.#changed(),
  });

  #recording = new RecordingStatus((previous, current, wire) => {
    this.dispatchEvent(new CustomEvent('recording', { detail: { previous, current, wire } }));
  }, () => this.#changed());

  #transcription = new TranscriptionStatus({
    changed: (previous, current, wire) => {
      this.dispatchEvent(new CustomEvent('transcription', { detail: { previous, current, wire } }));
    },
    summary: (meetingId) => this.dispatchEvent(new CustomEvent('summary', { detail: { meeting_id: meetingId } })),
    settled: () => this.#changed(),
  });

  #framing = new FramingStatus({
    selfSid: () => (this.self ? this.self.sid : null),
    nameOf: (sid) => this.participants.get(sid)?.name ?? null,
    alert: (code, message) => this.#alert(code, message),
    settled: () => this.#changed(),
  });

  #hostCommands = new HostCommands({
    alert: (code, message) => this.#alert(code, message),
    muteMicrophone: () => {
      this.#unmuteId = null;
      this.media.setMicEnabled(false);
    },
    stopCamera: () => {
      if (this.media.cameraEnabled) this.#setCamera(false).catch(() => {});
    },
    stopScreenShare: () => this.stopScreenShare(),
    nameOf: (sid) => this.participants.get(sid)?.name ?? null,
  });

  constructor({ token, name, media, password = null }) {
    super();
    this.token = token;
    this.name = name;
    this.media = media;
    this.password = password;
    this.signal = new SignalClient();
    this.signal.addEventListener('message', (e) => this.#onMessage(e.detail));
    this.signal.addEventListener('close', (e) => this.#onClose(e.detail));
    this.signal.addEventListener('state', () => this.#changed());
  }

  /** Others in the room: sid -> Participant. */
  get participants() {
    return this.roster.participants;
  }

  /** Tracks of the others: track sid -> Track. */
  get tracks() {
    return this.roster.tracks;
  }

  get activeSpeaker() {
    return this.roster.activeSpeaker;
  }

  /** The room's recording under way ({id, state, started_at, by}, recording.js), or null. */
  get recording() {
    return this.#recording.current;
  }

  /** True while a recording command of ours awaits the server's answer. */
  get recordingPending() {
    return this.#recording.pending;
  }

  /** The room's transcription under way ({state, by, meeting_id}, transcription.js), or null. */
  get transcription() {
    return this.#transcription.current;
  }

  /** True while a transcription command of ours awaits the server's answer. */
  get transcriptionPending() {
    return this.#transcription.pending;
  }

  /** The last meeting seen transcribed (its summary is worth a link), or null. */
  get transcribedMeetingId() {
    return this.#transcription.meetingId;
  }

  /** Our screen-share track, while we share. */
  get screenTrack() {
    return this.#screen.track;
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
        // In the lobby only a host decides, and the server bounds the wait
        // (lobby_wait_timeout): no client-side limit.
        waiting: () => clearTimeout(timer),
      };
    });
    const join = { type: 'join', v: 1, token: this.token, name: this.name };
    if (this.password) join.password = this.password;
    this.signal.send(join);
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
    this.room = mergeRoom(null, message.room);
    this.self = message.participant || null;
    this.held = message.camera_required === true;
    this.roster.reset(message);
    this.#recording.reset(message.recording);
    this.#transcription.reset(message.transcription);
    this.#framing.reset(message.framing);
    this.#adoptTimeZone();
    // Joining muted (mute_on_entry, or no right to speak): the microphone starts switched off,
    // and #onMapping tells the others once the track exists.
    if (!this.isHost() && (this.room.mute_on_entry || !this.permissions().speak)) this.media.setMicEnabled(false);
    if (this.held) {
      this.#alert('camera_required', 'This meeting requires your camera: turn it on to see and hear the others.');
    }
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

  /** A host whose room has no time zone yet gives it the browser's, so "by Friday" in this
   * room's action items means the host's Friday (docs/transcription.md). */
  #adoptTimeZone() {
    if (!this.isHost() || this.room.time_zone) return;
    let zone = '';
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
    } catch {
      return;
    }
    if (zone) this.command('update_room', { settings: { time_zone: zone } });
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
      if (m.type === 'lobby_waiting') {
        this.#joinWaiter.waiting();
        this.phase = 'waiting';
        this.dispatchEvent(new Event('waiting'));
        this.#changed();
        return undefined;
      }
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
      case 'participant_updated':
        this.#onParticipantUpdated(m.participant);
        break;
      case 'room_updated':
        this.room = mergeRoom(this.room, m.room);
        break;
      case 'camera_accepted':
        this.held = false;
        this.roster.reset(m);
        if (Array.isArray(m.framing)) this.#framing.reset(m.framing);
        break;
      case 'participant_left':
        this.#framing.forget(m.participant_sid);
        this.roster.apply(m);
        break;
      case 'chat':
        if (!m.message || typeof m.message !== 'object') return;
        this.chat.push(m.message);
        if (this.chat.length > MAX_CHAT_MESSAGES) this.chat.shift();
        this.dispatchEvent(new CustomEvent('chat', { detail: m.message }));
        break;
      case 'caption':
        this.dispatchEvent(new CustomEvent('caption', { detail: m }));
        return;
      case 'error':
        this.#onError(m);
        return;
      case 'bye':
        this.#byeReason = m.reason || 'left';
        return;
      default:
        // pong and anything newer than this client are ignored
        if (
          !this.roster.apply(m) && !this.lobby.apply(m) && !this.#hostCommands.handle(m) &&
          !this.#recording.apply(m) && !this.#transcription.apply(m) && !this.#framing.apply(m)
        ) return;
    }
    this.#changed();
  }

  async #onError(m) {
    if (m.id !== undefined && m.id === this.#unmuteId && m.code === 'forbidden') {
      // The server keeps dropping our audio (no `speak`): show the microphone as it is.
      this.#unmuteId = null;
      this.media.setMicEnabled(false);
      this.#alert('cannot_unmute', CANNOT_UNMUTE);
      return;
    }
    if (this.#recording.refused(m.id)) {
      this.#changed();
      const text = m.code === 'storage_full'
        ? 'The meeting cannot be recorded: the server is short of disk space.'
        : m.message || 'The recording command was refused.';
      this.#notice(m.code, text);
      return;
    }
    if (this.#transcription.refused(m.id)) {
      this.#changed();
      this.#alert(m.code, refusalText(m.code, m.message));
      return;
    }
    if (this.#framing.refused(m.id)) {
      this.#changed();
      this.#alert('framing_refused', framingRefusalText(m.code, m.message));
      return;
    }
    if (this.peer && m.id !== undefined) await this.peer.handleOfferError(m.id);
    if (m.fatal) {
      this.#end('failed', m.message || 'The server ended the connection.');
      return;
    }
    this.#notice(m.code, m.message || 'Something went wrong.');
  }

  #alert(code, message) {
    this.alerts.push({ code, message });
    if (this.alerts.length > MAX_ALERTS) this.alerts.shift();
    this.dispatchEvent(new CustomEvent('alert', { detail: { code, message } }));
  }

  #notice(code, message) {
    this.notices.push({ code, message });
    if (this.notices.length > 20) this.notices.shift();
    this.dispatchEvent(new CustomEvent('notice', { detail: { code, message } }));
  }

  #onClose({ code }) {
    if (this.phase === 'joining' && this.#joinWaiter) {
      this.#joinWaiter.reject(new MeetingError('closed', closeMessage(code, 'The server closed the connection.')));
      return;
    }
    if (this.phase === 'leaving' || this.phase === 'left') return;
    if (this.phase === 'joined') {
      this.#end('failed', closeMessage(code, 'The connection to the meeting server was lost.'));
    }
  }

  /** Mutes or unmutes; returns false (and says why) when we may not unmute. */
  async toggleMic() {
    const on = !this.media.micEnabled;
    if (on && !this.permissions().speak) {
      this.#alert('cannot_unmute', CANNOT_UNMUTE);
      return false;
    }
    this.media.setMicEnabled(on);
    const id = this.#sendMute('microphone', !on);
    if (on) this.#unmuteId = id;
    this.#changed();
    return true;
  }

  async toggleCamera() {
    await this.#setCamera(!this.media.cameraEnabled);
  }

  async #setCamera(on) {
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
      return this.signal.send({ type: 'mute', source, muted });
    }
    return null;
  }

  #onParticipantUpdated(p) {
    if (!p || !p.sid) return;
    if (this.self && p.sid === this.self.sid) {
      const wasHost = this.isHost();
      this.self = p;
      if (wasHost && !this.isHost()) this.lobby.clear();
      if (!wasHost && this.isHost()) this.#alert('promoted', 'You are now a host of this meeting.');
    } else {
      this.roster.update(p);
    }
  }

  // ---- what we may do --------------------------------------------------------------------

  isHost() {
    return Boolean(this.self && this.self.host);
  }

  /** Our effective {speak, screen_share, file_share}. */
  permissions() {
    return permissionsOf(this.self, this.room);
  }

  hand() {
    return handOf(this.self);
  }

  // ---- commands ------------------------------------------------------------------------

  /** Sends any command to the server once joined; returns its id, or null when not sent. */
  command(type, fields = {}) {
    if (this.phase !== 'joined') return null;
    return this.signal.send({ ...fields, type });
  }

  raiseHand(raised) {
    return this.command('raise_hand', { raised: Boolean(raised) });
  }

  /** `to`: null (everyone), 'hosts' or a participant sid. */
  sendChat(text, to = null, fileId = null) {
    const message = { text };
    if (to) message.to = to;
    if (fileId) message.file_id = fileId;
    return this.command('chat', message);
  }

  /** Hosts: `action` 'start' | 'stop' | 'pause' | 'resume' the room's recording. */
  recordingCommand(action) {
    const id = this.command(`${action}_recording`);
    this.#recording.sent(id);
    this.#changed();
    return id;
  }

  /** Hosts: turn the room's transcription on (true) or off (false). */
  transcriptionCommand(on) {
    const id = this.command(on ? 'start_transcription' : 'stop_transcription');
    this.#transcription.sent(id);
    this.#changed();
    return id;
  }

  // ---- auto-framing (framing.js) --------------------------------------------------------

  /** 'off' | 'starting' | 'on': a participant's auto-framing (ours with our own sid). */
  framingOf(sid) {
    return this.#framing.stateOf(sid);
  }

  /** True while a set_framing of ours about `sid` awaits the server's answer. */
  framingPending(sid) {
    return this.#framing.pending(sid);
  }

  /** Whether `sid`'s framing is (or, our command pending, is about to be) on. */
  framingWanted(sid) {
    return this.#framing.wanted(sid);
  }

  /** True when we publish a camera (auto-framing has something to frame). */
  hasCamera() {
    return Boolean(this.media.cameraAvailable && this.peer && this.peer.hasSource('camera'));
  }

  /** Turns auto-framing on or off for our own camera (`sid` null) or, hosts, for anyone's. */
  setFraming(enabled, sid = null) {
    const fields = { enabled: Boolean(enabled) };
    const self = this.self ? this.self.sid : null;
    if (sid && sid !== self) fields.participant_sid = sid;
    const id = this.command('set_framing', fields);
    if (id === null) {
      this.#alert('framing_refused', 'Not connected to the meeting.');
      return null;
    }
    this.#framing.sent(id, sid || self, Boolean(enabled));
    this.#changed();
    return id;
  }

  /** Asks for a screen (or window) and publishes it as `screen_share` (screen-share.js). */
  startScreenShare() {
    return this.#screen.start();
  }

  /** Stops our screen share; the server unpublishes it. */
  stopScreenShare() {
    return this.#screen.stop();
  }

  /** Leaves politely: `leave`, then wait (bounded) for the server's `bye`. */
  async leave() {
    if (this.phase !== 'joined' && this.phase !== 'joining' && this.phase !== 'waiting') return;
    const waiter = this.#joinWaiter;
    this.phase = 'leaving';
    const closed = new Promise((resolve) => {
      const timer = setTimeout(resolve, LEAVE_TIMEOUT_MS);
      this.signal.addEventListener('close', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
    if (this.signal.send({ type: 'leave' }) !== null) await closed;
    if (waiter) waiter.reject(new MeetingError('left', 'You left the waiting room.'));
    this.#end('left', 'You left the meeting.');
  }

  #end(phase, message) {
    if (this.phase === 'left' || this.phase === 'failed') return;
    this.phase = phase;
    this.#screen.end();
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

  /** Remote participants with the tracks that currently reach us (roster.js). */
  remoteView() {
    return this.roster.view(this.peer ? this.peer.receiveSlots() : []);
  }

  #changed() {
    this.dispatchEvent(new Event('change'));
  }
}
