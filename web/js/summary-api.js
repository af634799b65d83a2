// The meetings API (docs/api.md, "Meetings") as the summary page uses it: every call carries
// the room token the participant joined with as a bearer header (it is not a cookie), and
// every failure becomes an ApiError a person can read.
import { ApiError } from './api.js';

const MESSAGES = {
  invalid_token: 'Your access to this summary has expired. Open it again from the meeting.',
  unauthorized: 'Open this summary from the meeting: the link there carries your access.',
  forbidden: null, // the server's own words say who may do what
  not_found: 'This meeting or item no longer exists.',
  rate_limited: 'Too many requests; wait a moment and try again.',
};

async function failure(response) {
  let err = {};
  try {
    const data = await response.json();
    if (data && typeof data.error === 'object' && data.error) err = data.error;
  } catch {
    // Not JSON: the status says enough.
  }
  const code = typeof err.code === 'string' ? err.code : `http_${response.status}`;
  const message = MESSAGES[code] || (typeof err.message === 'string' && err.message) || `The server answered ${response.status}.`;
  return new ApiError(code, message, response.status);
}

export class SummaryApi {
  #token;

  constructor(token) {
    this.#token = token;
  }

  async #fetch(method, path, body) {
    const headers = { Authorization: `Bearer ${this.#token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch {
      throw new ApiError('network', 'Cannot reach the server. Check your connection and try again.');
    }
    if (!response.ok) throw await failure(response);
    return response;
  }

  async #json(method, path, body) {
    const response = await this.#fetch(method, path, body);
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!data || typeof data !== 'object') throw new ApiError('bad_response', 'The server sent an unexpected answer.');
    return data;
  }

  meeting(id) {
    return this.#json('GET', `/api/v1/meetings/${encodeURIComponent(id)}`);
  }

  transcript(id) {
    return this.#json('GET', `/api/v1/meetings/${encodeURIComponent(id)}/transcript?format=json`);
  }

  /** The transcript file in `format` (vtt, srt, txt, json) -> {blob, filename}. */
  async transcriptFile(id, format) {
    const response = await this.#fetch('GET', `/api/v1/meetings/${encodeURIComponent(id)}/transcript?format=${encodeURIComponent(format)}`);
    const disposition = response.headers.get('Content-Disposition') || '';
    const match = /filename="([^"\\/]+)"/.exec(disposition);
    return { blob: await response.blob(), filename: match ? match[1] : null };
  }

  actionItems(id) {
    return this.#json('GET', `/api/v1/meetings/${encodeURIComponent(id)}/action-items`);
  }

  addActionItem(id, fields) {
    return this.#json('POST', `/api/v1/meetings/${encodeURIComponent(id)}/action-items`, fields);
  }

  updateActionItem(id, itemId, fields) {
    return this.#json('PATCH', `/api/v1/meetings/${encodeURIComponent(id)}/action-items/${encodeURIComponent(itemId)}`, fields);
  }

  deleteActionItem(id, itemId) {
    return this.#json('DELETE', `/api/v1/meetings/${encodeURIComponent(id)}/action-items/${encodeURIComponent(itemId)}`);
  }

  search(query) {
    return this.#json('GET', `/api/v1/transcripts/search?q=${encodeURIComponent(query)}`);
  }
}
