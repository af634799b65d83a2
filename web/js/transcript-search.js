// "Search your transcripts" on the summary page: GET /api/v1/transcripts/search?q=... over the
// meetings this token may read (a host's: the room's; anyone else's: those they attended).
// Each hit links to its line in its meeting's summary (#segment-<id>) and says where it falls
// in a recording made meanwhile. The server marks the matched words with [brackets] in the
// snippet; they become <mark> elements, built as nodes (the text is anybody's words).
import { clock } from './transcript-view.js';

const MAX_QUERY_CHARS = 200;

/** `snippet` as text nodes and <mark>s for its [bracketed] matches. */
export function snippetNodes(snippet) {
  const nodes = [];
  const re = /\[([^\]]*)\]/g;
  let at = 0;
  for (let match = re.exec(snippet); match; match = re.exec(snippet)) {
    if (match.index > at) nodes.push(document.createTextNode(snippet.slice(at, match.index)));
    const mark = document.createElement('mark');
    mark.textContent = match[1];
    nodes.push(mark);
    at = match.index + match[0].length;
  }
  if (at < snippet.length) nodes.push(document.createTextNode(snippet.slice(at)));
  return nodes;
}

function when(epoch) {
  if (!Number.isFinite(epoch)) return '';
  return new Date(epoch * 1000).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

function resultUrl(hit) {
  if (typeof hit.url === 'string' && hit.url.startsWith('/meetings/')) return hit.url;
  return `/meetings/${encodeURIComponent(hit.meeting_id)}#segment-${hit.segment_id}`;
}

export class TranscriptSearch {
  /** `$`: getElementById; `api`: SummaryApi. */
  constructor($, api) {
    this.$ = $;
    this.api = api;
    $('search-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.run($('search-query').value);
    });
  }

  show() {
    this.$('search-section').hidden = false;
  }

  async run(query) {
    const $ = this.$;
    const q = query.trim();
    if (!q || q.length > MAX_QUERY_CHARS) {
      $('search-state').textContent = 'Type the words to find.';
      $('search-query').focus();
      return;
    }
    $('search-state').textContent = 'Searching…';
    try {
      const data = await this.api.search(q);
      const hits = (Array.isArray(data.results) ? data.results : []).filter(
        (h) => h && typeof h.meeting_id === 'string' && Number.isInteger(h.segment_id),
      );
      $('search-results').replaceChildren(...hits.map((h) => this.#hit(h)));
      $('search-state').textContent = hits.length
        ? `${hits.length} ${hits.length === 1 ? 'match' : 'matches'}.`
        : 'Nothing found.';
    } catch (err) {
      $('search-state').textContent = `The search failed: ${err.message}`;
    }
  }

  #hit(hit) {
    const li = document.createElement('li');
    li.className = 'search-hit';
    const link = document.createElement('a');
    link.href = resultUrl(hit);
    const speaker = document.createElement('strong');
    speaker.textContent = `${typeof hit.name === 'string' && hit.name ? hit.name : 'Someone'}: `;
    link.append(speaker, ...snippetNodes(typeof hit.snippet === 'string' ? hit.snippet : String(hit.text || '')));
    const where = document.createElement('p');
    where.className = 'where';
    const parts = [typeof hit.room === 'string' ? hit.room : '', when(hit.start)].filter(Boolean);
    const recording = hit.recording && typeof hit.recording === 'object' ? hit.recording : null;
    if (recording && Number.isFinite(recording.offset_s)) parts.push(`in the recording at ${clock(recording.offset_s)}`);
    where.textContent = parts.join(' · ');
    li.append(link, where);
    return li;
  }
}
