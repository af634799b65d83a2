// Meeting links: /r/<room>#token=...&name=...
//
// The token rides in the fragment, never the query string: browsers do not send the
// fragment to the server, so it stays out of access logs and Referer headers
// (docs/security.md). It is removed from the address bar as soon as it is read, so it is not
// left in history or shared by copying the URL.

const ROOM_RE = /^\/r\/([A-Za-z0-9_-]{1,64})\/?$/;

/** The room name in the current path, or null when the path is not a meeting link. */
export function roomFromPath(pathname = location.pathname) {
  const match = ROOM_RE.exec(pathname);
  return match ? match[1] : null;
}

/** Reads token and name from the fragment and removes the fragment from the address bar. */
export function takeFragment() {
  const raw = location.hash.startsWith('#') ? location.hash.slice(1) : '';
  const params = new URLSearchParams(raw);
  const token = params.get('token') || null;
  const name = params.get('name') || null;
  if (raw) {
    history.replaceState(history.state, '', location.pathname + location.search);
  }
  return { token, name };
}

/** The link to hand out to guests (no token). */
export function guestLink(room) {
  return `${location.origin}/r/${encodeURIComponent(room)}`;
}

/** The link a host follows to enter: token and name in the fragment. */
export function hostEntryLink(room, token, name) {
  const fragment = new URLSearchParams({ token, name });
  return `/r/${encodeURIComponent(room)}#${fragment.toString()}`;
}

/** Accepts a full meeting link or a bare code, returns the room name or null. */
export function roomFromInput(text) {
  const value = text.trim();
  if (/^[A-Za-z0-9_-]{1,64}$/.test(value)) return value;
  try {
    const url = new URL(value, location.origin);
    return roomFromPath(url.pathname);
  } catch {
    return null;
  }
}
