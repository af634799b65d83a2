// The waiting room as a host sees it (docs/protocol.md, "Waiting room (lobby)"): who waits, in
// arrival order. Only hosts get these messages; nobody else learns who waits.
// `announce(event)` gets 'knock' (detail: {sid, identity, name}) when someone arrives and
// 'lobby-left' (detail: {sid, reason}) when someone no longer waits.

const LOBBY_MESSAGES = new Set(['lobby', 'lobby_knock', 'lobby_left']);

export class Lobby {
  #waiting = new Map(); // sid -> {sid, identity, name}
  #announce;

  constructor(announce) {
    this.#announce = announce;
  }

  get size() {
    return this.#waiting.size;
  }

  /** The people waiting, first arrived first. */
  values() {
    return this.#waiting.values();
  }

  /** We are no longer a host: we no longer hear about the waiting room. */
  clear() {
    this.#waiting.clear();
  }

  /** True when `m` was a lobby message (and has been applied). */
  apply(m) {
    if (!LOBBY_MESSAGES.has(m.type)) return false;
    if (m.type === 'lobby') {
      this.#waiting.clear();
      for (const p of m.waiting || []) if (p && p.sid) this.#waiting.set(p.sid, p);
    } else if (m.type === 'lobby_knock') {
      if (!m.participant || !m.participant.sid) return true;
      this.#waiting.set(m.participant.sid, m.participant);
      this.#announce(new CustomEvent('knock', { detail: m.participant }));
    } else {
      this.#waiting.delete(m.participant_sid);
      this.#announce(new CustomEvent('lobby-left', { detail: { sid: m.participant_sid, reason: m.reason } }));
    }
    return true;
  }
}
