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
  password_required: 'This meeting has a password. Enter it to join.',
  file_too_large: 'That file is too large to send.',
  unsupported_file_type: 'That kind of file cannot be sent (images, PDF and plain text only).',
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

/**
 * POST /api/v1/rooms/<room>/guest-token {name, password?} -> token string. A room with a
 * password answers 401 `password_required` without one (ApiError.code).
 */
export async function guestToken(room, name, password = null) {
  const body = password ? { name, password } : { name };
  const data = await request('POST', `/api/v1/rooms/${encodeURIComponent(room)}/guest-token`, body);
  if (typeof data.token !== 'string') {
    throw new ApiError('bad_response', 'The server sent an unexpected answer.');
  }
  return data.token;
}

function bearer(token) {
  return { Authorization: `Bearer ${token}` };
}

async function failure(response) {
  let err = {};
  try {
    const data = await response.json();
    if (data && typeof data.error === 'object' && data.error) err = data.error;
  } catch {
    // Not JSON: the status says enough.
  }
  const code = typeof err.code === 'string' ? err.code : 'http_' + response.status;
  const message = FRIENDLY[code] || (typeof err.message === 'string' && err.message) || `The server answered ${response.status}.`;
  return new ApiError(code, message, response.status);
}

/** POST /api/v1/rooms/<room>/files?filename= (raw bytes) -> {id, name, size, type}. */
export async function uploadFile(room, token, file) {
  let response;
  try {
    response = await fetch(`/api/v1/rooms/${encodeURIComponent(room)}/files?filename=${encodeURIComponent(file.name)}`, {
      method: 'POST',
      headers: { ...bearer(token), 'Content-Type': file.type || 'application/octet-stream' },
      body: file,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError('network', 'Cannot reach the server. Check your connection and try again.');
  }
  if (!response.ok) throw await failure(response);
  const data = await response.json().catch(() => null);
  if (!data || typeof data.id !== 'string') throw new ApiError('bad_response', 'The server sent an unexpected answer.');
  return data;
}

/**
 * GET /api/v1/rooms/<room>/files/<id> with the bearer token -> Blob. The token cannot ride
 * on a plain link (it would land in logs), so the file is fetched and handed over as a blob.
 */
export async function downloadFile(room, token, id) {
  const response = await authorizedGet(`/api/v1/rooms/${encodeURIComponent(room)}/files/${encodeURIComponent(id)}`, token);
  return response.blob();
}

/**
 * GET `path` with the bearer token -> Response (ok), or an ApiError a person can read;
 * `notFound` replaces the message of a 404 (the generic one speaks of meetings).
 */
async function authorizedGet(path, token, notFound = null) {
  let response;
  try {
    response = await fetch(path, { headers: bearer(token), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError('network', 'Cannot reach the server. Check your connection and try again.');
  }
  if (!response.ok) {
    const err = await failure(response);
    if (notFound && err.code === 'not_found') throw new ApiError(err.code, notFound, err.status);
    throw err;
  }
  return response;
}

/**
 * GET /api/v1/rooms/<room>/recordings with a host's room token ->
 * [{id, state, started_at, ended_at, bytes, error, files: [{name, size}]}], oldest first.
 */
export async function listRecordings(room, token) {
  const response = await authorizedGet(`/api/v1/rooms/${encodeURIComponent(room)}/recordings`, token);
  const data = await response.json().catch(() => null);
  if (!data || !Array.isArray(data.recordings)) {
    throw new ApiError('bad_response', 'The server sent an unexpected answer.');
  }
  return data.recordings;
}

/** GET /api/v1/recordings/<id>/files/<name> with a host's room token -> Blob. */
export async function downloadRecordingFile(token, id, name) {
  const path = `/api/v1/recordings/${encodeURIComponent(id)}/files/${encodeURIComponent(name)}`;
  const response = await authorizedGet(path, token, 'That recording or file no longer exists.');
  return response.blob();
}
