// The token this tab joins a room with. A token from the link's fragment is kept in
// sessionStorage (this tab only) so a reload does not turn the host into a guest; it never
// goes back into the URL (links.js).

export class SessionToken {
  value = null;
  fromStorage = false; // kept from an earlier visit: it may have expired since

  constructor(room) {
    this.key = `sparkle.token.${room}`;
  }

  /** Takes the fragment's token (and keeps it), or the one kept for this tab. */
  load(fragmentToken) {
    try {
      if (fragmentToken) {
        sessionStorage.setItem(this.key, fragmentToken);
        this.value = fragmentToken;
        this.fromStorage = false;
      } else {
        this.value = sessionStorage.getItem(this.key);
        this.fromStorage = Boolean(this.value);
      }
    } catch {
      this.value = fragmentToken;
      this.fromStorage = false;
    }
  }

  forget() {
    this.value = null;
    this.fromStorage = false;
    try {
      sessionStorage.removeItem(this.key);
    } catch {
      // Storage disabled: nothing stored either.
    }
  }
}
