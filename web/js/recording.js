// The room's recording as everyone sees it (docs/protocol.md, "Recording"): whether the meeting
// is being recorded or is paused, who started it, and what to tell people when that changes.
// Everyone is told when a recording starts, and on joining a meeting that is being recorded:
// recording people without telling them is what consent rules (GDPR art. 13, two-party
// consent laws) forbid, so the notice does not depend on the person being a host.
// Hosts' commands (start, stop, pause, resume) are sent by the meeting; this keeps the
// id of the last one until the server answers it, so its buttons do not send it twice.

const ACTIVE = new Set(['recording', 'paused']);
const STATES = new Set(['recording', 'paused', 'stopped', 'failed']);
// The server answers a recording command at once (a `recording` broadcast or an `error`);
// this only keeps the buttons from staying disabled if the answer never comes.
const PENDING_MS = 10000;

/** A well-formed `{id, state, started_at, by}` from the server, or null. */
export function parseRecording(value) {
  if (!value || typeof value !== 'object') return null;
  if (typeof value.id !== 'string' || !STATES.has(value.state)) return null;
  const by = value.by && typeof value.by === 'object' && typeof value.by.sid === 'string'
    ? { sid: value.by.sid, name: typeof value.by.name === 'string' ? value.by.name : '' }
    : null;
  const startedAt = Number.isFinite(value.started_at) ? value.started_at : null;
  return { id: value.id, state: value.state, started_at: startedAt, by };
}

/** The consent notice for a recording under way; `selfSid` is ours. */
export function consentText(recording, selfSid) {
  const by = recording.by;
  if (!by) return 'This meeting is recorded automatically.';
  if (by.sid === selfSid) return 'You are recording this meeting. Everyone in it has been told.';
  return `This meeting is being recorded by ${by.name || 'a host'}.`;
}

/** The meeting bar's indicator text, or '' when nothing records. */
export function indicatorText(recording) {
  if (!recording) return '';
  return recording.state === 'paused' ? 'Recording paused' : 'Recording';
}

export class RecordingStatus {
  current = null; // the recording under way (recording or paused), or null
  #pendingId = null;
  #pendingTimer = 0;
  #changed;

  #settled;

  /**
   * `changed(previous, current, wire)`: after every `recording` message; `settled()`: a
   * command's answer never came and its buttons may be pressed again.
   */
  constructor(changed, settled) {
    this.#changed = changed;
    this.#settled = settled;
  }

  /** `joined.recording`: the recording under way when we came in, or null. */
  reset(value) {
    const recording = parseRecording(value);
    this.current = recording && ACTIVE.has(recording.state) ? recording : null;
    this.#clearPending();
  }

  /** True when `m` was a `recording` message (and has been applied). */
  apply(m) {
    if (m.type !== 'recording') return false;
    const wire = parseRecording(m.recording);
    if (!wire) return true;
    const previous = this.current;
    // A late message about an earlier recording says nothing about the one under way.
    if (!ACTIVE.has(wire.state) && previous && previous.id !== wire.id) return true;
    this.current = ACTIVE.has(wire.state) ? wire : null;
    this.#clearPending();
    this.#changed(previous, this.current, wire);
    return true;
  }

  /** A recording command went out with this id (null: it was not sent). */
  sent(id) {
    if (id === null) return;
    this.#clearPending();
    this.#pendingId = id;
    this.#pendingTimer = setTimeout(() => {
      this.#clearPending();
      this.#settled();
    }, PENDING_MS);
  }

  /** True when `errorId` answered our pending command (which is then over). */
  refused(errorId) {
    if (errorId === undefined || errorId !== this.#pendingId) return false;
    this.#clearPending();
    return true;
  }

  get pending() {
    return this.#pendingId !== null;
  }

  #clearPending() {
    clearTimeout(this.#pendingTimer);
    this.#pendingId = null;
  }
}
