// The meeting page's side of the embed API (issue 7; docs/embedding.md, web/embed.js): the
// page at /embed/<room>?key=<API key id>, framed by an integrator's page, takes its token,
// name and config from that page by postMessage, runs its commands (Jitsi's iframe API names)
// and tells it what happens (events).
//
// Who may talk to us: only our parent window (event.source === window.parent), and only from
// an origin the API key allows (the server lists them in <meta name="sparkle-embed-origins">,
// the same list its frame-ancestors header names). The first `init` pins the parent's origin:
// later messages must come from it, and every event goes to it alone (postMessage
// targetOrigin), never to "*" (chat lines and names are not for whoever framed us next).
// Anything else is ignored, with a console.debug line. Our `ready` goes to "*" because it
// says nothing, and until it is answered we know nothing to say.
import { handOf } from './room-policy.js';

const EMBED_RE = /^\/embed\/([A-Za-z0-9_-]{1,64})\/?$/;
const MAX_TEXT = 2000;
const HOST_ONLY = new Set([
  'muteEveryone',
  'kickParticipant',
  'toggleLobby',
  'answerKnockingParticipant',
  'startRecording',
  'stopRecording',
  'endConference',
]);

/** The room of an /embed/<room> path, or null. */
export function embedRoom(pathname = location.pathname) {
  const match = EMBED_RE.exec(pathname);
  return match ? match[1] : null;
}

/** The origins allowed to embed this page, or null when this is not the embed page. */
export function embedOrigins() {
  const meta = document.querySelector('meta[name="sparkle-embed-origins"]');
  if (!meta) return null;
  return (meta.getAttribute('content') || '').split(/\s+/).filter(Boolean);
}

function plain(value) {
  // Events cross into another origin: plain JSON data only, never live objects.
  return value === undefined ? {} : JSON.parse(JSON.stringify(value));
}

export class EmbedBridge {
  #origins;
  #page;
  #parentOrigin = null; // pinned by the first accepted `init`
  #meeting = null;
  #joinAttempted = false;
  #last = null; // {mic, camera, screen} as last told
  #hands = new Map(); // sid -> hand (timestamp) or null
  #selfSid = null;
  #fatalCode = null; // the server's last fatal error code, to say why we were put out

  /**
   * @param {string[]} origins the origins allowed to embed us (from the server)
   * @param {{$: (id: string) => HTMLElement, room: string, phase: () => string,
   *          meeting: () => object|null, prejoin: object, captions: object,
   *          toggleChat: () => void}} page
   */
  constructor(origins, page) {
    this.#origins = origins;
    this.#page = page;
    // The page moves focus to its main control at each step (prejoin.js, room.js); inside a
    // frame, a plain focus() also scrolls the embedding page to bring the frame's control
    // into view, so the integrator's page would jump as the meeting loads. Focus without
    // scrolling (HTML "focusing steps", FocusOptions.preventScroll).
    const focus = HTMLElement.prototype.focus;
    HTMLElement.prototype.focus = function focusInFrame(options) {
      return focus.call(this, { ...options, preventScroll: true });
    };
  }

  /** Listens, then tells the parent we are ready for `init`. */
  start() {
    if (window.parent === window) return;
    window.addEventListener('message', (event) => this.#receive(event));
    window.parent.postMessage({ sparkle: 'ready' }, '*');
  }

  // ---- from the room page -------------------------------------------------------------

  /** The page's phase changed (room.js `show`): join outcomes before the meeting. */
  phaseChanged(phase) {
    if (!this.#joinAttempted) return;
    if (phase === 'prejoin') {
      this.#joinAttempted = false;
      // prejoin.js shows the form before it marks the password as needed: look once it has.
      setTimeout(() => {
        if (this.#page.prejoin.needPassword) this.#emit('passwordRequired', {});
        else this.#error('join_failed', this.#page.$('prejoin-message').textContent || 'Could not join the meeting.', false);
      }, 0);
    } else if (phase === 'ended' && !this.#meeting) {
      this.#joinAttempted = false;
      this.#error('join_failed', this.#page.$('ended-title').textContent, true);
      this.#emit('readyToClose', {});
    }
  }

  /** We are in: room.js `enterMeeting`. */
  entered(meeting) {
    this.#joinAttempted = false;
    this.#meeting = meeting;
    this.#selfSid = meeting.self ? meeting.self.sid : null;
    this.#last = this.#localState(meeting);
    this.#hands.clear();
    if (meeting.self) this.#hands.set(meeting.self.sid, handOf(meeting.self));
    for (const p of meeting.participants.values()) this.#hands.set(p.sid, handOf(p));
    // Registered after the Meeting's own listeners: its state is up to date when we look.
    meeting.signal.addEventListener('message', (e) => this.#onServerMessage(meeting, e.detail));
    meeting.addEventListener('change', () => this.#onChange(meeting));
    meeting.addEventListener('chat', (e) => this.#onChat(meeting, e.detail));
    meeting.addEventListener('knock', (e) => this.#emit('knockingParticipant', { participant: { id: e.detail.sid, name: e.detail.name } }));
    meeting.addEventListener('recording', (e) => this.#onRecording(e.detail));
    meeting.addEventListener('caption', (e) => this.#onCaption(meeting, e.detail));
    meeting.addEventListener('notice', (e) => this.#error(e.detail.code, e.detail.message, false));
    meeting.addEventListener('alert', (e) => {
      if (e.detail.code === 'cannot_unmute') this.#error('forbidden', e.detail.message, false);
    });
    meeting.addEventListener('ended', (e) => this.#onEnded(meeting, e.detail));
    this.#emit('videoConferenceJoined', {
      roomName: this.#page.room,
      id: this.#selfSid,
      displayName: meeting.self ? meeting.self.name : meeting.name,
      breakoutRoom: false,
    });
  }

  // ---- messages from the parent ----------------------------------------------------------

  #receive(event) {
    const data = event.data;
    const pinned = this.#parentOrigin === null || event.origin === this.#parentOrigin;
    if (event.source !== window.parent || !this.#origins.includes(event.origin) || !pinned) {
      console.debug('sparkle: ignored a message from', event.origin, '(not the embedding page)');
      return;
    }
    if (!data || typeof data !== 'object' || typeof data.sparkle !== 'string') return;
    if (data.sparkle === 'init') {
      if (this.#parentOrigin !== null) {
        console.debug('sparkle: ignored a second init');
        return;
      }
      this.#parentOrigin = event.origin;
      this.#init(data);
    } else if (data.sparkle === 'command' && this.#parentOrigin !== null) {
      const args = Array.isArray(data.args) ? data.args : [];
      this.#run(String(data.name), args).catch((err) => {
        this.#error('command_failed', (err && err.message) || String(err), false, data.name);
      });
    } else {
      console.debug('sparkle: ignored an embed message', data.sparkle);
    }
  }

  async #init({ token, name, config }) {
    if (typeof token !== 'string' || !token) {
      this.#error('invalid_token', 'The embedding page sent no room token.', true);
      return;
    }
    const cfg = config && typeof config === 'object' ? config : {};
    const { $, prejoin } = this.#page;
    // Held in memory only: never in a URL, and not in storage either.
    prejoin.token.value = token;
    prejoin.token.fromStorage = false;
    if (typeof name === 'string' && name.trim()) $('display-name').value = name.trim();
    await prejoin.mediaReady;
    if (prejoin.media) {
      if (cfg.startWithAudioMuted === true) prejoin.media.setMicEnabled(false);
      if (cfg.startWithVideoMuted === true) await prejoin.media.setCameraEnabled(false);
      prejoin.renderDevices();
    }
    // Straight in, unless the integrator wants the pre-join screen or there is no name yet.
    if (cfg.prejoin !== true && $('display-name').value.trim()) this.#submitJoin();
  }

  #submitJoin() {
    if (this.#page.phase() !== 'prejoin') return;
    this.#joinAttempted = true;
    this.#page.$('prejoin-form').requestSubmit();
  }

  // ---- commands -------------------------------------------------------------------------

  async #run(name, args) {
    const meeting = this.#page.meeting();
    const joined = Boolean(meeting) && meeting.phase === 'joined';
    if (name === 'hangup') return this.#hangup(meeting);
    if (name === 'displayName') return this.#displayName(args[0], joined);
    if (name === 'password') return this.#password(args[0], meeting, joined);
    if (!joined) return this.#error('not_joined', `${name}: not in the meeting`, false, name);
    if (HOST_ONLY.has(name) && !meeting.isHost()) {
      return this.#error('forbidden', `${name}: only a host may do this`, false, name);
    }
    const sent = (id) => {
      if (id === null) this.#error('not_joined', `${name}: not connected to the meeting`, false, name);
    };
    switch (name) {
      case 'toggleAudio':
        return meeting.toggleMic();
      case 'toggleVideo':
        return meeting.toggleCamera();
      case 'toggleShareScreen':
        return meeting.screenTrack ? meeting.stopScreenShare() : meeting.startScreenShare();
      case 'toggleChat':
        return this.#page.toggleChat();
      case 'sendChatMessage': {
        const [text, to] = args;
        if (typeof text !== 'string' || !text.trim() || text.length > MAX_TEXT) {
          return this.#error('bad_message', `sendChatMessage: the text must be 1 to ${MAX_TEXT} characters`, false, name);
        }
        return sent(meeting.sendChat(text, typeof to === 'string' && to ? to : null));
      }
      case 'toggleRaiseHand':
        return sent(meeting.raiseHand(meeting.hand() === null));
      case 'setTileView':
        // Sparkle has one layout, the tile grid: asking for it is a no-op.
        if (args[0] === false) return this.#error('unsupported', 'setTileView: the tile grid is the only layout', false, name);
        return undefined;
      case 'muteEveryone': {
        const source = args[0] === 'video' ? 'camera' : 'microphone';
        return sent(meeting.command('mute_all', { source }));
      }
      case 'kickParticipant':
        if (typeof args[0] !== 'string') return this.#error('bad_message', 'kickParticipant: a participant id is needed', false, name);
        return sent(meeting.command('remove_participant', { participant_sid: args[0] }));
      case 'toggleLobby': {
        const enabled = typeof args[0] === 'boolean' ? args[0] : !meeting.room.lobby;
        return sent(meeting.command('set_lobby', { enabled }));
      }
      case 'answerKnockingParticipant':
        if (typeof args[0] !== 'string') return this.#error('bad_message', 'answerKnockingParticipant: a participant id is needed', false, name);
        return sent(meeting.command(args[1] ? 'admit' : 'deny', { participant_sid: args[0] }));
      case 'startRecording':
        return sent(meeting.recordingCommand('start'));
      case 'stopRecording':
        return sent(meeting.recordingCommand('stop'));
      case 'toggleSubtitles': {
        const on = !this.#page.captions.enabled;
        this.#page.captions.setEnabled(on);
        // Like Jitsi: a host asking for subtitles gets the transcription they come from.
        if (on && meeting.isHost() && !meeting.transcription) meeting.transcriptionCommand(true);
        return undefined;
      }
      case 'endConference':
        return sent(meeting.command('end_meeting'));
      default:
        return this.#error('unknown_command', `no command ${name.slice(0, 64)}`, false, name);
    }
  }

  async #hangup(meeting) {
    const pending = this.#page.prejoin.pending;
    if (meeting) return meeting.leave();
    if (pending) return pending.leave();
    this.#emit('readyToClose', {});
    return undefined;
  }

  #displayName(name, joined) {
    if (joined) {
      return this.#error('unsupported', 'displayName: the name cannot change during the meeting', false, 'displayName');
    }
    if (typeof name !== 'string' || !name.trim()) {
      return this.#error('bad_message', 'displayName: a name is needed', false, 'displayName');
    }
    this.#page.$('display-name').value = name.trim();
    return undefined;
  }

  #password(value, meeting, joined) {
    if (joined) {
      if (!meeting.isHost()) return this.#error('forbidden', 'password: only a host may set it', false, 'password');
      const password = typeof value === 'string' && value ? value : null;
      if (meeting.command('update_room', { settings: { password } }) === null) {
        this.#error('not_joined', 'password: not connected to the meeting', false, 'password');
      }
      return undefined;
    }
    // Answering passwordRequired: join again with it.
    if (typeof value !== 'string' || !value) return this.#error('bad_message', 'password: a password is needed', false, 'password');
    const { $, prejoin } = this.#page;
    if (!prejoin.needPassword) return this.#error('bad_message', 'password: this meeting asked for none', false, 'password');
    $('meeting-password').value = value;
    this.#submitJoin();
    return undefined;
  }

  // ---- events ---------------------------------------------------------------------------

  #localState(meeting) {
    return {
      mic: Boolean(meeting.media.micAvailable && meeting.media.micEnabled),
      camera: Boolean(meeting.media.cameraAvailable && meeting.media.cameraEnabled),
      screen: Boolean(meeting.screenTrack),
    };
  }

  #onChange(meeting) {
    if (meeting !== this.#meeting || meeting.phase !== 'joined') return;
    const now = this.#localState(meeting);
    const last = this.#last;
    this.#last = now;
    if (now.mic !== last.mic) this.#emit('audioMuteStatusChanged', { muted: !now.mic });
    if (now.camera !== last.camera) this.#emit('videoMuteStatusChanged', { muted: !now.camera });
    if (now.screen !== last.screen) {
      this.#emit('screenSharingStatusChanged', { on: now.screen, details: now.screen ? { sourceType: 'screen' } : {} });
    }
  }

  #onServerMessage(meeting, m) {
    if (meeting !== this.#meeting) return;
    switch (m.type) {
      case 'participant_joined':
        if (m.participant && m.participant.sid) {
          this.#hands.set(m.participant.sid, handOf(m.participant));
          this.#emit('participantJoined', { id: m.participant.sid, displayName: m.participant.name });
        }
        break;
      case 'participant_left':
        this.#hands.delete(m.participant_sid);
        if (m.reason === 'removed') {
          this.#emit('participantKickedOut', { kicked: { id: m.participant_sid, local: false }, kicker: null });
        }
        this.#emit('participantLeft', { id: m.participant_sid });
        break;
      case 'participant_updated': {
        const p = m.participant;
        if (!p || !p.sid) break;
        const hand = handOf(p);
        const before = this.#hands.has(p.sid) ? this.#hands.get(p.sid) : null;
        this.#hands.set(p.sid, hand);
        if (hand !== before) this.#emit('raiseHandUpdated', { id: p.sid, handRaised: hand === null ? 0 : hand });
        break;
      }
      case 'active_speaker':
        this.#emit('dominantSpeakerChanged', { id: m.participant_sid || null });
        break;
      case 'error':
        if (m.fatal && typeof m.code === 'string') this.#fatalCode = m.code;
        if (m.code === 'removed') {
          this.#emit('participantKickedOut', { kicked: { id: this.#selfSid, local: true }, kicker: null });
        }
        break;
      default:
        break;
    }
  }

  #onChat(meeting, message) {
    const from = message.from && typeof message.from === 'object' ? message.from : {};
    if (meeting.self && from.sid === meeting.self.sid) return; // our own echo
    this.#emit('incomingMessage', {
      from: from.sid || null,
      nick: from.name || '',
      privateMessage: Boolean(message.to),
      message: typeof message.text === 'string' ? message.text : '',
      stamp: Number.isFinite(message.at) ? message.at * 1000 : Date.now(),
      file: message.file && typeof message.file === 'object' ? { id: message.file.id, name: message.file.name } : undefined,
    });
  }

  #onRecording({ current, wire }) {
    const data = { on: Boolean(current), mode: 'file', state: wire && wire.state ? wire.state : (current ? current.state : 'stopped') };
    if (wire && wire.state === 'failed') data.error = 'failed';
    this.#emit('recordingStatusChanged', data);
  }

  #onCaption(meeting, caption) {
    if (!caption || typeof caption.text !== 'string') return;
    let id = null;
    if (meeting.self && meeting.self.identity === caption.identity) id = meeting.self.sid;
    for (const p of meeting.participants.values()) if (p.identity === caption.identity) id = p.sid;
    this.#emit('transcriptionChunkReceived', {
      data: {
        messageID: caption.segment_id,
        participant: { id, identity: caption.identity, name: caption.name },
        final: caption.text,
        start: caption.start,
        end: caption.end,
      },
    });
  }

  #onEnded(meeting, { reason, message }) {
    if (meeting !== this.#meeting) return;
    this.#meeting = null;
    const why = reason === 'error' && this.#fatalCode ? this.#fatalCode : reason || 'error';
    this.#fatalCode = null;
    if (why !== 'left' && why !== 'ended') this.#error(why, message || 'The meeting ended.', true);
    this.#emit('videoConferenceLeft', { roomName: this.#page.room, reason: why });
    this.#emit('readyToClose', {});
  }

  #error(code, message, isFatal, command = undefined) {
    const data = { name: code, message, isFatal: Boolean(isFatal) };
    if (command !== undefined) data.command = String(command).slice(0, 64);
    this.#emit('errorOccurred', data);
  }

  #emit(name, data) {
    if (this.#parentOrigin === null) return; // nobody to tell yet
    window.parent.postMessage({ sparkle: 'event', name, data: plain(data) }, this.#parentOrigin);
  }
}
