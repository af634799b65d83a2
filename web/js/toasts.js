// Short notices in a corner of the meeting ("The host muted you", "Ann is waiting to join"),
// read out by screen readers through the container's aria-live region. A toast may carry
// buttons (Admit / Deny) and a key, so the same toast can be replaced or withdrawn.

const DEFAULT_MS = 8000;

export class Toasts {
  #byKey = new Map();

  constructor(container) {
    this.container = container;
  }

  /**
   * @param {string} text
   * @param {{key?: string, kind?: string, timeoutMs?: number,
   *          actions?: {label: string, ariaLabel?: string, primary?: boolean, onClick: () => void}[]}} options
   *   timeoutMs 0 keeps the toast until it is dismissed.
   */
  show(text, { key = null, kind = 'info', timeoutMs = DEFAULT_MS, actions = [] } = {}) {
    if (key) this.dismiss(key);
    const el = document.createElement('div');
    el.className = `toast ${kind}`;
    if (key) el.dataset.key = key;
    const p = document.createElement('p');
    p.textContent = text;
    el.append(p);
    const row = document.createElement('div');
    row.className = 'toast-actions';
    for (const action of actions) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = action.label;
      if (action.ariaLabel) button.setAttribute('aria-label', action.ariaLabel);
      if (action.primary) button.className = 'primary';
      button.addEventListener('click', () => {
        remove();
        action.onClick();
      });
      row.append(button);
    }
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'subtle close';
    close.textContent = '×';
    close.setAttribute('aria-label', 'Dismiss');
    close.addEventListener('click', () => remove());
    row.append(close);
    el.append(row);
    let timer = 0;
    const remove = () => {
      clearTimeout(timer);
      el.remove();
      if (key && this.#byKey.get(key) === remove) this.#byKey.delete(key);
    };
    if (timeoutMs > 0) timer = setTimeout(remove, timeoutMs);
    if (key) this.#byKey.set(key, remove);
    this.container.append(el);
    return remove;
  }

  dismiss(key) {
    const remove = this.#byKey.get(key);
    if (remove) remove();
  }

  /** The texts shown now, oldest first (for the debug hooks). */
  texts() {
    return [...this.container.querySelectorAll('.toast > p')].map((p) => p.textContent);
  }

  clear() {
    for (const remove of [...this.#byKey.values()]) remove();
    this.container.replaceChildren();
  }
}
