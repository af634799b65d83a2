// Room settings and what they allow (docs/protocol.md, "Room settings" and "Floor"). The
// server enforces all of it; the client only needs to know what to show.
// Every field may be missing (an older server sends `room` as {name, sid} only), so each one
// falls back to the server's own default.

export const ROOM_DEFAULTS = Object.freeze({
  name: '',
  sid: '',
  locked: false,
  lobby: false,
  password: false,
  password_skips_lobby: true,
  mute_on_entry: false,
  self_unmute: true,
  require_name: true,
  require_camera: false,
  auto_record: false,
  auto_transcribe: false,
  time_zone: '',
  screen_share: 'hosts',
  file_share: 'hosts',
  max_screen_shares: 1,
});

const AUDIENCES = ['hosts', 'everyone'];
export const PERMISSIONS = ['speak', 'screen_share', 'file_share'];

/** A complete settings object: `update` over `base`, fields of the wrong type ignored. */
export function mergeRoom(base, update) {
  const room = { ...ROOM_DEFAULTS, ...(base || {}) };
  if (!update || typeof update !== 'object') return room;
  for (const [key, fallback] of Object.entries(ROOM_DEFAULTS)) {
    const value = update[key];
    if (value === undefined) continue;
    if (AUDIENCES.includes(fallback) ? AUDIENCES.includes(value) : typeof value === typeof fallback) {
      room[key] = value;
    }
  }
  return room;
}

/**
 * The effective {speak, screen_share, file_share} of a participant. The server sends them
 * (`permissions`); without them, hosts may do everything and the others what the room's
 * policy gives everyone.
 */
export function permissionsOf(participant, room) {
  const settings = mergeRoom(room);
  if (participant && participant.host) return { speak: true, screen_share: true, file_share: true };
  const given = participant && participant.permissions && typeof participant.permissions === 'object'
    ? participant.permissions
    : {};
  const pick = (key, fallback) => (typeof given[key] === 'boolean' ? given[key] : fallback);
  return {
    speak: pick('speak', true),
    screen_share: pick('screen_share', settings.screen_share === 'everyone'),
    file_share: pick('file_share', settings.file_share === 'everyone'),
  };
}

/** A raised hand's queue ticket, or null (lower = raised earlier). */
export function handOf(participant) {
  const hand = participant ? participant.hand : null;
  return Number.isFinite(hand) ? hand : null;
}

/** Participants with a raised hand, earliest first. */
export function handQueue(participants) {
  return participants
    .filter((p) => handOf(p) !== null)
    .sort((a, b) => handOf(a) - handOf(b));
}
