// Handing a fetched file to the browser. Files behind the room token (chat files, recordings)
// cannot be plain links (the token would land in the URL, and so in logs and history), so
// they are fetched with a bearer header and saved from a blob URL.

const REVOKE_AFTER_MS = 60000;

/** Saves `blob` as `name` through a temporary link to a blob URL. */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked later, not at once: the browser may still be reading it when click() returns.
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
}

/** "512 B", "40 KB", "3.2 MB", "1.1 GB"; '' for anything that is not a number. */
export function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(1)} GB`;
}
