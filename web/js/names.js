// Display names: the same rule as the server (docs/protocol.md, `join`): non-empty after
// trimming, at most 64 characters.

export const MAX_NAME_LENGTH = 64;
const STORAGE_KEY = 'sparkle.name';

/** Returns an error message for a bad name, or null when it is acceptable. */
export function nameProblem(name) {
  const value = name.trim();
  if (!value) return 'Please enter your full name so the others know who you are.';
  if ([...value].length > MAX_NAME_LENGTH) return `Your name is too long (at most ${MAX_NAME_LENGTH} characters).`;
  return null;
}

export function rememberedName() {
  try {
    return localStorage.getItem(STORAGE_KEY) || '';
  } catch {
    return '';
  }
}

export function rememberName(name) {
  try {
    localStorage.setItem(STORAGE_KEY, name.trim());
  } catch {
    // Storage may be disabled (private mode); remembering is a convenience only.
  }
}

/** Up to two initials for the avatar shown when a camera is off. */
export function initials(name) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
  return letters.map((p) => [...p][0].toUpperCase()).join('') || '?';
}
