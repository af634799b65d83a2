// HTTP API calls (docs/api.md). Errors come back as {"error": {"code", "message"}}; every
// failure here becomes an ApiError with a message a person can read.

export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

const FRIENDLY = {
  not_found: 'This meeting does not exist or has ended. Check the link.',
  rate_limited: 'Too many attempts; wait a moment and try again.',
  unauthorized: 'The server refused the request.',
};

async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError('network', 'Cannot reach the server. Check your connection and try again.');
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const err = data && typeof data.error === 'object' && data.error ? data.error : {};
    const code = typeof err.code === 'string' ? err.code : 'http_' + response.status;
    const message = FRIENDLY[code] ||
      (typeof err.message === 'string' && err.message) ||
      `The server answered ${response.status}.`;
    throw new ApiError(code, message, response.status);
  }
  if (!data || typeof data !== 'object') {
    throw new ApiError('bad_response', 'The server sent an unexpected answer.');
  }
  return data;
}

/**
 * POST /api/v1/meetings {name} -> {room, host_token, host_url, guest_url}; `name` is the
 * host's display name (it goes into the host token). Returns `room` as the room's name.
 */
export async function createMeeting(name) {
  const data = await request('POST', '/api/v1/meetings', { name });
  const room = typeof data.room === 'string' ? data.room : data.room && data.room.name;
  if (typeof room !== 'string' || typeof data.host_token !== 'string') {
    throw new ApiError('bad_response', 'The server sent an unexpected answer.');
  }
  return { ...data, room };
}

/** POST /api/v1/rooms/<room>/guest-token {name} -> token string. */
export async function guestToken(room, name) {
  const data = await request('POST', `/api/v1/rooms/${encodeURIComponent(room)}/guest-token`, { name });
  if (typeof data.token !== 'string') {
    throw new ApiError('bad_response', 'The server sent an unexpected answer.');
  }
  return data.token;
}
