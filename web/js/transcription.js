// Live transcription as everyone sees it (docs/protocol.md, "Transcription"): a host turns it
// on or off; while it is on, everyone sees "Transcribing" in the meeting bar and is told once
// who started it (`joined.transcription` for latecomers), as with the recording's consent
// notice: people are told before their words are written down. When it stops (or the meeting
// ends) the server makes the action items and sends `meeting_summary`; the summary page
// (/meetings/<id>, summary.js) is then one click away, here and on the "ended" screen.
//
// TranscriptionStatus is the model (kept by meeting.js); TranscriptionView draws it on the
// room page (room.js).

// The server answers a transcription command at once; this only keeps the button from staying
// disabled if the answer never comes.
const PENDING_MS = 10000;

const REFUSED = {
  transcription_unavailable: 'Transcription is not available on this server.',
  forbidden: 'Only hosts can turn transcription on or off.',
};

/** A well-formed `{state, by, meeting_id, error}` from the server, or null. */
export function parseTranscription(value) {
  if (!value || typeof value !== 'object') return null;
  if (value.state !== 'on' && value.state !== 'off') return null;
  const by = value.by && typeof value.by === 'object'
    ? {
        sid: typeof value.by.sid === 'string' ? value.by.sid : null,
        identity: typeof value.by.identity === 'string' ? value.by.identity : null,
        name: typeof value.by.name === 'string' ? value.by.name : '',
      }
    : null;
  return {
    state: value.state,
    by,
    meeting_id: typeof value.meeting_id === 'string' && value.meeting_id ? value.meeting_id : null,
    error: typeof value.error === 'string' && value.error ? value.error : null,
  };
}

/** What a refused start/stop command says to the host. */
export function refusalText(code, message) {
  return REFUSED[code] || message || 'The transcription command was refused.';
}

/** The link to a meeting's summary, carrying the token in the fragment (never sent). */
export function summaryLink(meetingId, token) {
  const path = `/meetings/${encodeURIComponent(meetingId)}`;
  return token ? `${path}#${new URLSearchParams({ token }).toString()}` : path;
}

export class TranscriptionStatus {
  current = null; // the transcription under way ({state: 'on', by, meeting_id}), or null
  meetingId = null; // the last meeting seen transcribed: its summary is worth a link
  summaryId = null; // the meeting whose summary the server said is ready
  #pendingId = null;
  #pendingTimer = 0;
  #events;

  /**
   * `changed(previous, current, wire)` after every `transcription` message; `summary(id)`
   * on `meeting_summary`; `settled()` when a command's answer never came.
   */
  constructor(events) {
    this.#events = events;
  }

  /** `joined.transcription`: on when we came in, or null. */
  reset(value) {
    const wire = parseTranscription(value);
    this.current = wire && wire.state === 'on' ? wire : null;
    if (this.current && this.current.meeting_id) this.meetingId = this.current.meeting_id;
    this.#clearPending();
  }

  /** True when `m` was a transcription message (and has been applied). */
  apply(m) {
    if (m.type === 'meeting_summary') {
      if (typeof m.meeting_id === 'string' && m.meeting_id) {
        this.meetingId = m.meeting_id;
        this.summaryId = m.meeting_id;
        this.#events.summary(m.meeting_id);
      }
      return true;
    }
    if (m.type !== 'transcription') return false;
    const wire = parseTranscription(m);
    if (!wire) return true;
    const previous = this.current;
    this.current = wire.state === 'on' ? wire : null;
    if (wire.meeting_id) this.meetingId = wire.meeting_id;
    this.#clearPending();
    this.#events.changed(previous, this.current, wire);
    return true;
  }

  /** A command went out with this id (null: it was not sent). */
  sent(id) {
    if (id === null) return;
    this.#clearPending();
    this.#pendingId = id;
    this.#pendingTimer = setTimeout(() => {
      this.#clearPending();
      this.#events.settled();
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

export class TranscriptionView {
  #meeting = null;
  #token = '';
  #meetingId = null; // kept after the participation ends, for the "ended" screen

  /** `$`: getElementById; `toasts`: the page's Toasts. */
  constructor($, toasts) {
    this.$ = $;
    this.toasts = toasts;
    $('transcribe-button').addEventListener('click', () => this.#toggle());
  }

  start(meeting, token) {
    this.#meeting = meeting;
    this.#token = token;
    this.$('summary-link').hidden = true;
    this.$('ended-summary').hidden = true;
    if (meeting.transcription) this.#notice(meeting.transcription);
  }

  render(meeting) {
    const on = meeting.transcription;
    const host = meeting.isHost();
    if (meeting.transcribedMeetingId) this.#meetingId = meeting.transcribedMeetingId;
    this.$('transcription-indicator').hidden = !on;
    const button = this.$('transcribe-button');
    button.hidden = !host;
    button.setAttribute('aria-pressed', String(Boolean(on)));
    button.querySelector('.label').textContent = on ? 'Stop transcribing' : 'Transcribe';
    button.disabled = meeting.transcriptionPending;
  }

  /** A `transcription` message: on (tell everyone who), or off (say so; hosts hear why). */
  changed({ previous, current, wire }) {
    if (current && !previous) {
      this.#notice(current);
    } else if (!current && previous) {
      const host = this.#meeting && this.#meeting.isHost();
      const text = wire.error && host
        ? `Transcription stopped: ${wire.error}`
        : 'Transcription has stopped.';
      this.toasts.show(text, { key: 'transcription', kind: wire.error ? 'transcription-failed' : 'transcription' });
    }
  }

  /** `meeting_summary`: the summary page is ready. */
  summaryReady(meetingId) {
    this.#meetingId = meetingId;
    const url = summaryLink(meetingId, this.#token);
    const link = this.$('summary-link');
    link.href = url;
    link.hidden = false;
    this.toasts.show('The meeting summary is ready: transcript and action items.', {
      key: 'summary',
      kind: 'summary',
      timeoutMs: 0,
      actions: [{ label: 'Open the summary', primary: true, onClick: () => window.open(url, '_blank', 'noopener') }],
    });
  }

  /** The participation is over: the "ended" screen links to the summary of a transcribed meeting. */
  ended() {
    this.$('summary-link').hidden = true;
    const shown = Boolean(this.#meetingId);
    this.$('ended-summary').hidden = !shown;
    if (shown) this.$('ended-summary-link').href = summaryLink(this.#meetingId, this.#token);
    this.#meeting = null;
  }

  #notice(on) {
    const meeting = this.#meeting;
    const self = meeting && meeting.self;
    const ours = Boolean(on.by && self && (on.by.sid === self.sid || (on.by.identity && on.by.identity === self.identity)));
    let text;
    if (ours) text = 'You turned on transcription. Everyone has been told; captions are shown to everyone.';
    else if (on.by) text = `${on.by.name || 'A host'} turned on transcription: what is said is written down and shown as captions.`;
    else text = 'This meeting is transcribed: what is said is written down and shown as captions.';
    // Like the recording notice: it stays until read, except for the one who turned it on.
    this.toasts.show(text, { key: 'transcription', kind: 'transcription', timeoutMs: ours ? undefined : 0 });
  }

  #toggle() {
    const meeting = this.#meeting;
    if (!meeting) return;
    if (meeting.transcriptionCommand(!meeting.transcription) === null) {
      this.toasts.show('Not connected to the meeting.', { kind: 'transcription-failed' });
    }
  }
}
