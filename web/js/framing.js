// Auto-framing (issue 6, docs/protocol.md "Auto-framing"): anyone turns it on for their own
// camera, a host for anyone's (a meeting-room camera is often a participant nobody sits at).
// A framing worker then publishes a framed video that everyone else receives in place of the
// raw camera, on the same track sid, so the video itself needs nothing here: this module only
// keeps who is framed (`framing` messages, `joined.framing` for latecomers), what our own
// `set_framing` commands are waiting for, and what to tell the person being framed.
//
// FramingStatus is the model (kept by meeting.js); FramingButton draws the toolbar toggle
// (room.js). The tile badge is drawn by grid.js and the host's per-person item by
// people-panel.js, both from Meeting.framingOf().

// The server has no reply to set_framing (the `framing` broadcast is the answer, and the same
// state again announces nothing): this only keeps a button from looking busy for ever.
const PENDING_MS = 10000;

const STATES = new Set(['off', 'starting', 'on']);

const REFUSED = {
  framing_unavailable: 'Auto-framing is not available on this server.',
  forbidden: 'Auto-framing was refused: only hosts can frame someone else\'s camera, and only a camera that may be published.',
  not_found: 'That participant has left the meeting.',
};

/** A well-formed `{participant_sid, state, by, error}` from the server, or null. */
export function parseFraming(value) {
  if (!value || typeof value !== 'object') return null;
  if (typeof value.participant_sid !== 'string' || !value.participant_sid) return null;
  if (!STATES.has(value.state)) return null;
  const by = value.by && typeof value.by === 'object'
    ? {
        sid: typeof value.by.sid === 'string' ? value.by.sid : null,
        name: typeof value.by.name === 'string' ? value.by.name : '',
      }
    : null;
  return {
    participant_sid: value.participant_sid,
    state: value.state,
    by,
    error: typeof value.error === 'string' && value.error ? value.error : null,
  };
}

/** What a refused set_framing says to the person who sent it. */
export function framingRefusalText(code, message) {
  return REFUSED[code] || message || 'The auto-framing command was refused.';
}

export class FramingStatus {
  #states = new Map(); // participant sid -> {state, by} for everyone whose framing is not off
  #pending = new Map(); // command id -> {sid, enabled}
  #timers = new Map(); // command id -> timeout
  #events;

  /**
   * `selfSid()`: our own sid (null before joining); `nameOf(sid)`: someone's name or null;
   * `alert(code, text)`: something to tell this person; `settled()`: a command's answer
   * never came (redraw).
   */
  constructor(events) {
    this.#events = events;
  }

  /** `joined.framing` (or `camera_accepted`): everyone whose framing is not off. */
  reset(list) {
    this.#states.clear();
    this.#clearPending();
    for (const value of Array.isArray(list) ? list : []) {
      const wire = parseFraming(value);
      if (wire && wire.state !== 'off') this.#states.set(wire.participant_sid, { state: wire.state, by: wire.by });
    }
  }

  /** True when `m` was a `framing` message (and has been applied). */
  apply(m) {
    if (m.type !== 'framing') return false;
    const wire = parseFraming(m);
    if (!wire) return true;
    const sid = wire.participant_sid;
    const previous = this.stateOf(sid);
    const asked = this.#settle(sid, wire.state !== 'off');
    if (wire.state === 'off') this.#states.delete(sid);
    else this.#states.set(sid, { state: wire.state, by: wire.by });
    this.#tell(wire, previous, asked);
    return true;
  }

  /** A participant left: their framing ends with them (the server says nothing). */
  forget(sid) {
    this.#states.delete(sid);
  }

  /** 'off' | 'starting' | 'on' for a participant sid. */
  stateOf(sid) {
    const entry = sid ? this.#states.get(sid) : undefined;
    return entry ? entry.state : 'off';
  }

  /** True while a set_framing of ours about `sid` awaits the server's `framing`. */
  pending(sid) {
    for (const p of this.#pending.values()) if (p.sid === sid) return true;
    return false;
  }

  /** What the person asked for last while a command is pending, else what the server says. */
  wanted(sid) {
    let wanted = null;
    for (const p of this.#pending.values()) if (p.sid === sid) wanted = p.enabled;
    return wanted === null ? this.stateOf(sid) !== 'off' : wanted;
  }

  /** A set_framing about `sid` went out with this id (null: it was not sent). */
  sent(id, sid, enabled) {
    if (id === null || id === undefined) return;
    this.#pending.set(id, { sid, enabled });
    this.#timers.set(id, setTimeout(() => {
      this.#drop(id);
      this.#events.settled();
    }, PENDING_MS));
  }

  /** The refused command when `errorId` answered one of ours (which is then over), else null. */
  refused(errorId) {
    if (errorId === undefined || !this.#pending.has(errorId)) return null;
    const command = this.#pending.get(errorId);
    this.#drop(errorId);
    return command;
  }

  /** Ends the pending commands about `sid` that this state answers; true if there was one. */
  #settle(sid, enabled) {
    let asked = false;
    for (const [id, p] of [...this.#pending]) {
      if (p.sid === sid && p.enabled === enabled) {
        asked = true;
        this.#drop(id);
      }
    }
    return asked;
  }

  /** The person being framed hears when a host changed it or it failed; so does that host. */
  #tell(wire, previous, asked) {
    const self = this.#events.selfSid();
    if (!self) return;
    const mine = wire.participant_sid === self;
    const byOther = wire.by && wire.by.sid && wire.by.sid !== self;
    const byMe = wire.by && wire.by.sid === self;
    if (wire.state === 'off' && previous !== 'off') {
      if (wire.error && (mine || byMe)) {
        const name = mine ? null : this.#events.nameOf(wire.participant_sid);
        const whose = mine ? '' : ` of ${name ? `${name}'s` : 'that'} camera`;
        this.#events.alert('framing_failed', `Auto-framing${whose} stopped: ${wire.error}`);
      } else if (mine && !asked) {
        // `off` names who turned framing on, not off: we did not ask, so a host did.
        this.#events.alert('framing_by_host', 'A host turned off auto-framing for your camera.');
      }
    } else if (wire.state !== 'off' && previous === 'off' && mine && byOther) {
      this.#events.alert('framing_by_host', `${wire.by.name || 'A host'} turned on auto-framing for your camera.`);
    }
  }

  #drop(id) {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
    this.#pending.delete(id);
  }

  #clearPending() {
    for (const id of [...this.#pending.keys()]) this.#drop(id);
  }
}

/** The toolbar's "Auto-frame" toggle for our own camera. */
export class FramingButton {
  #button;
  #meeting = null;

  constructor(button) {
    this.#button = button;
    button.addEventListener('click', () => this.#toggle());
  }

  render(meeting) {
    this.#meeting = meeting;
    const b = this.#button;
    const sid = meeting.self ? meeting.self.sid : null;
    const state = meeting.framingOf(sid);
    const pending = meeting.framingPending(sid);
    const wanted = meeting.framingWanted(sid);
    const hasCamera = meeting.hasCamera();
    // Turning it off must stay possible even if the camera went away meanwhile.
    b.disabled = !hasCamera && state === 'off' && !wanted;
    b.setAttribute('aria-pressed', String(wanted));
    const busy = pending || state === 'starting';
    b.setAttribute('aria-busy', String(busy));
    b.dataset.state = state;
    let title;
    if (b.disabled) title = 'Auto-framing needs a camera: this meeting has none of yours.';
    else if (busy && wanted) title = 'Starting auto-framing…';
    else if (busy) title = 'Stopping auto-framing…';
    else if (state === 'on') title = 'Auto-framing is on: the others see your camera framed around the people in it. Press to stop.';
    else title = 'Auto-frame my camera: the others see it framed around the people in it.';
    b.title = title;
  }

  #toggle() {
    const meeting = this.#meeting;
    if (!meeting || !meeting.self) return;
    meeting.setFraming(!meeting.framingWanted(meeting.self.sid));
  }
}
