// Live captions (issue 5): while a host has transcription on, the server sends a `caption`
// per utterance ({segment_id, identity, name, start, end, text}, docs/protocol.md); this shows
// the last few as "Name: text" lines at the bottom of the stage, newest at the bottom, each
// fading after a few seconds, like the captions of Zoom, Meet or Jitsi.
// The "CC" button in the toolbar hides or shows them; the choice is remembered per browser.
// Caption text is speech turned into text by a machine, i.e. anybody's words: it is only ever
// set as textContent, never parsed as markup.

const STORAGE_KEY = 'sparkle.captions';
const MAX_LINES = 3;
const SHOWN_MS = 8000;
// The last second of a line's life is a fade (app.css `.caption-line.fading`).
const FADE_MS = 1000;
const MAX_TEXT_CHARS = 1000;

function remembered() {
  try {
    return localStorage.getItem(STORAGE_KEY) !== 'off';
  } catch {
    return true; // storage disabled: captions on, as for a first visit
  }
}

function remember(on) {
  try {
    localStorage.setItem(STORAGE_KEY, on ? 'on' : 'off');
  } catch {
    // Storage disabled: the choice lasts for this page only.
  }
}

export class Captions {
  enabled = remembered();
  #overlay;
  #button;
  #lines = []; // {el, timers}

  /** `overlay`: the caption region on the stage; `button`: the toolbar's CC toggle. */
  constructor(overlay, button) {
    this.#overlay = overlay;
    this.#button = button;
    button.addEventListener('click', () => this.setEnabled(!this.enabled));
    this.#render();
  }

  setEnabled(on) {
    this.enabled = Boolean(on);
    remember(this.enabled);
    this.#render();
  }

  /** One `caption` message from the server; malformed ones are ignored. */
  add(caption) {
    if (!caption || typeof caption.text !== 'string' || !caption.text.trim()) return;
    const name = typeof caption.name === 'string' && caption.name ? caption.name : 'Someone';
    const el = document.createElement('p');
    el.className = 'caption-line';
    if (Number.isInteger(caption.segment_id)) el.dataset.segment = String(caption.segment_id);
    const who = document.createElement('span');
    who.className = 'caption-name';
    who.textContent = `${name}: `;
    const text = document.createElement('span');
    text.className = 'caption-text';
    text.textContent = caption.text.slice(0, MAX_TEXT_CHARS);
    el.append(who, text);
    const line = { el, timers: [] };
    line.timers.push(setTimeout(() => el.classList.add('fading'), SHOWN_MS - FADE_MS));
    line.timers.push(setTimeout(() => this.#remove(line), SHOWN_MS));
    this.#lines.push(line);
    this.#overlay.append(el);
    while (this.#lines.length > MAX_LINES) this.#remove(this.#lines[0]);
    this.#render();
  }

  /** The lines on screen now ("Name: text"), oldest first. */
  texts() {
    return this.#lines.map((line) => line.el.textContent);
  }

  /** The participation is over: no old captions on the next one. */
  clear() {
    for (const line of [...this.#lines]) this.#remove(line);
  }

  #remove(line) {
    const index = this.#lines.indexOf(line);
    if (index < 0) return;
    this.#lines.splice(index, 1);
    for (const timer of line.timers) clearTimeout(timer);
    line.el.remove();
    this.#render();
  }

  #render() {
    this.#button.setAttribute('aria-pressed', String(this.enabled));
    this.#button.title = this.enabled ? 'Hide captions' : 'Show captions (while the meeting is transcribed)';
    this.#overlay.hidden = !this.enabled || this.#lines.length === 0;
  }
}
