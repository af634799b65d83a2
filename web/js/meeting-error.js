// Why a participation could not start or had to end, in words a person can read: the
// server's `error` codes (docs/protocol.md, "Errors") and the WebSocket close codes it uses
// when it closes without an `error` frame ("Closing without an `error` frame").

const CLOSE_MESSAGES = {
  1009: 'A message was too large for the server.',
  4400: 'This page is out of date; reload it.',
  4401: 'You cannot join: the invitation is invalid or has expired, the meeting does not exist or is locked, or the password is wrong.',
  4403: 'A host removed you from the meeting.',
  4405: 'The host did not let you in.',
  4407: 'Nobody let you in: you waited too long in the waiting room.',
  4408: 'The server closed the connection because joining took too long.',
  4409: 'You joined this meeting from another window or device.',
  4410: 'The meeting was ended.',
  4429: 'The meeting is full.',
};

/** The readable reason for a WebSocket close code, or `fallback`. */
export function closeMessage(code, fallback) {
  return CLOSE_MESSAGES[code] || fallback;
}

export class MeetingError extends Error {
  constructor(code, message, fatal = true) {
    super(message);
    this.name = 'MeetingError';
    this.code = code;
    this.fatal = fatal;
  }
}
