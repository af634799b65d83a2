// The "Recordings" section of the People panel (hosts only): this room's recordings, newest
// first, with a download button per file. The list comes from the recordings API with the
// room token as a bearer header (only hosts' tokens are accepted), and files are fetched the
// same way and saved from a blob URL (download.js), as chat files are.
//
// It is fetched when a host opens the panel, when a recording starts, pauses or ends, and on
// Refresh; rows are updated in place, so a focused download button stays focused.
import { ApiError, downloadRecordingFile, listRecordings } from './api.js';
import { formatSize, saveBlob } from './download.js';

// After a stop the worker still closes its files (cues, final sizes): look once more then.
const SETTLE_MS = 3000;

const STATE_TEXT = {
  recording: 'recording now',
  paused: 'paused',
  stopped: 'finished',
  failed: 'failed',
};

function formatWhen(at) {
  if (!Number.isFinite(at)) return 'Recording';
  const date = new Date(at * 1000);
  return `Recording of ${date.toLocaleDateString([], { month: 'short', day: 'numeric' })}, ${date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
}

function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function describe(r) {
  const parts = [STATE_TEXT[r.state] || String(r.state)];
  if (r.state === 'failed' && typeof r.error === 'string' && r.error) parts[0] = `failed (${r.error})`;
  if (Number.isFinite(r.ended_at) && Number.isFinite(r.started_at)) parts.push(formatDuration(r.ended_at - r.started_at));
  const files = Array.isArray(r.files) ? r.files : [];
  const total = files.reduce((sum, f) => sum + (Number.isFinite(f.size) ? f.size : 0), 0);
  parts.push(`${files.length} ${files.length === 1 ? 'file' : 'files'}`);
  if (total) parts.push(formatSize(total));
  return parts.join(' · ');
}

export class RecordingsPanel {
  #room = '';
  #token = '';
  #host = false;
  #rows = new Map(); // recording id -> {el, title, status, files, signature}
  #loading = null; // the refresh under way
  #again = false; // another refresh was asked for while one was under way
  #settleTimer = 0;
  recordings = []; // the last list fetched (for the debug hooks)

  /** `$`: getElementById; `say(text)`: shows a short notice. */
  constructor($, say) {
    this.$ = $;
    this.say = say;
    $('recordings-refresh').addEventListener('click', () => this.refresh());
  }

  /** A new meeting: forget the old list. */
  start(room, token) {
    this.#room = room;
    this.#token = token;
    this.#host = false;
    this.recordings = [];
    clearTimeout(this.#settleTimer);
    for (const row of this.#rows.values()) row.el.remove();
    this.#rows.clear();
    this.$('recordings-message').textContent = '';
  }

  /** Shown to hosts only; becoming a host fetches the list. */
  render(meeting) {
    const host = meeting.isHost();
    this.$('recordings-section').hidden = !host;
    if (host && !this.#host) {
      this.#host = true;
      this.refresh();
    }
    this.#host = host;
  }

  /** The room's recording changed: the list did too (and again once the files are closed). */
  recordingChanged(wire) {
    if (!this.#host) return;
    this.refresh();
    clearTimeout(this.#settleTimer);
    if (wire && (wire.state === 'stopped' || wire.state === 'failed')) {
      this.#settleTimer = setTimeout(() => this.refresh(), SETTLE_MS);
    }
  }

  /** Fetches the list again (one request at a time; a request asked for meanwhile follows). */
  async refresh() {
    if (!this.#host || !this.#token) return;
    if (this.#loading) {
      this.#again = true;
      await this.#loading;
      return;
    }
    this.#loading = this.#load();
    try {
      await this.#loading;
    } finally {
      this.#loading = null;
    }
    if (this.#again) {
      this.#again = false;
      await this.refresh();
    }
  }

  async #load() {
    const message = this.$('recordings-message');
    try {
      const list = await listRecordings(this.#room, this.#token);
      this.recordings = list.filter((r) => r && typeof r.id === 'string');
      this.#draw();
      message.textContent = this.recordings.length ? '' : 'No recordings of this meeting yet.';
    } catch (err) {
      message.textContent = err instanceof ApiError ? `The recordings could not be listed: ${err.message}` : 'The recordings could not be listed.';
    }
  }

  #draw() {
    const list = this.$('recordings-list');
    const items = [...this.recordings].reverse(); // newest first
    const wanted = new Set(items.map((r) => r.id));
    for (const [id, row] of this.#rows) {
      if (!wanted.has(id)) {
        row.el.remove();
        this.#rows.delete(id);
      }
    }
    let previous = null;
    for (const r of items) {
      let row = this.#rows.get(r.id);
      if (!row) {
        row = this.#row(r);
        this.#rows.set(r.id, row);
      }
      this.#update(row, r);
      const expected = previous ? previous.nextSibling : list.firstChild;
      // Move only rows that are out of place: moving a focused element blurs it.
      if (expected !== row.el) list.insertBefore(row.el, expected);
      previous = row.el;
    }
  }

  #row(r) {
    const el = document.createElement('li');
    el.dataset.recording = r.id;
    el.className = 'recording-row';
    const title = document.createElement('span');
    title.className = 'person-name';
    const status = document.createElement('span');
    status.className = 'person-status';
    const files = document.createElement('div');
    files.className = 'row-actions recording-files';
    el.append(title, status, files);
    return { el, title, status, files, signature: '' };
  }

  #update(row, r) {
    row.el.dataset.state = String(r.state);
    row.title.textContent = formatWhen(r.started_at);
    row.status.textContent = describe(r);
    const files = (Array.isArray(r.files) ? r.files : []).filter((f) => f && typeof f.name === 'string');
    const signature = files.map((f) => `${f.name}\u0000${f.size}`).join('\u0001');
    if (signature === row.signature) return;
    // Keep the focused button's file focused across the redraw.
    const focused = row.files.contains(document.activeElement) ? document.activeElement.dataset.file : null;
    row.signature = signature;
    row.files.replaceChildren(...files.map((f) => this.#fileButton(r.id, f)));
    if (focused) {
      const again = [...row.files.children].find((b) => b.dataset.file === focused);
      if (again) again.focus();
    }
  }

  #fileButton(id, file) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'file-link';
    b.dataset.file = file.name;
    b.textContent = `${file.name} (${formatSize(file.size)})`;
    b.setAttribute('aria-label', `Download ${file.name}, ${formatSize(file.size)}`);
    b.addEventListener('click', async () => {
      try {
        saveBlob(await downloadRecordingFile(this.#token, id, file.name), file.name);
      } catch (err) {
        this.say(err instanceof ApiError ? err.message : 'The file could not be downloaded.');
      }
    });
    return b;
  }
}
