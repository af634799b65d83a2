// The summary page's transcript: one line per utterance (time from the meeting's start,
// speaker, text), each its own anchor (#segment-<id>) so action items and search results can
// point at the moment; and the downloads (WebVTT, SRT, text, JSON), fetched with the bearer
// token and saved from a blob (download.js), since the token is not a cookie.
// Transcript text is anybody's words: textContent only.
import { saveBlob } from './download.js';

/** "01:02:03" for seconds since the meeting's start ("00:00:00" for anything not a time). */
export function clock(seconds) {
  const s = Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : 0;
  const pad = (n) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/** Marks the segment `hash` names (#segment-<id>) and scrolls to it; false when not shown. */
export function showSegment(hash) {
  const match = /^#segment-(\d+)$/.exec(hash || '');
  if (!match) return false;
  const el = document.getElementById(`segment-${match[1]}`);
  if (!el) return false;
  for (const old of document.querySelectorAll('.transcript li.target')) old.classList.remove('target');
  el.classList.add('target');
  el.scrollIntoView({ block: 'center' });
  return true;
}

export class TranscriptView {
  segments = [];
  #meeting = null;
  #signature = '';

  /** `$`: getElementById; `api`: SummaryApi; `say(text)`: a message for the page. */
  constructor($, api, say) {
    this.$ = $;
    this.api = api;
    this.say = say;
    for (const button of document.querySelectorAll('.downloads button[data-format]')) {
      button.addEventListener('click', () => this.#download(button));
    }
  }

  /** Draws `transcript` ({meeting_start, segments}) of `meeting`; redraws only on change. */
  show(meeting, transcript) {
    this.#meeting = meeting;
    const start = Number.isFinite(transcript.meeting_start) ? transcript.meeting_start : meeting.started_at;
    const segments = (Array.isArray(transcript.segments) ? transcript.segments : [])
      .filter((s) => s && Number.isInteger(s.id) && typeof s.text === 'string');
    const signature = segments.map((s) => `${s.id}\u0000${s.text}`).join('\u0001');
    this.$('transcript-section').hidden = false;
    this.$('transcript-state').textContent = segments.length
      ? `${segments.length} ${segments.length === 1 ? 'utterance' : 'utterances'}.`
      : 'Nothing was transcribed in this meeting.';
    for (const b of document.querySelectorAll('.downloads button')) b.disabled = !segments.length;
    if (signature === this.#signature) return false;
    this.#signature = signature;
    this.segments = segments;
    this.$('transcript').replaceChildren(...segments.map((s) => this.#line(s, start)));
    return true;
  }

  #line(segment, start) {
    const li = document.createElement('li');
    li.id = `segment-${segment.id}`;
    const time = document.createElement('a');
    time.className = 'time';
    time.href = `#segment-${segment.id}`;
    time.textContent = clock(segment.start - start);
    const body = document.createElement('p');
    body.className = 'segment-text';
    const speaker = document.createElement('span');
    speaker.className = 'speaker';
    speaker.textContent = typeof segment.name === 'string' && segment.name ? segment.name : segment.identity || 'Someone';
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = segment.text;
    body.append(speaker, document.createTextNode(' '), text);
    li.append(time, body);
    return li;
  }

  async #download(button) {
    const meeting = this.#meeting;
    if (!meeting) return;
    const format = button.dataset.format;
    button.disabled = true;
    try {
      const { blob, filename } = await this.api.transcriptFile(meeting.id, format);
      saveBlob(blob, filename || `${meeting.room || 'meeting'}-transcript.${format}`);
    } catch (err) {
      this.say(`The transcript could not be downloaded: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  }
}
