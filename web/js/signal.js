// The signalling WebSocket (docs/protocol.md): JSON objects with a `type`, one socket per
// participant. Emits 'message' (detail: the parsed object), 'state' (detail: 'connecting' |
// 'open' | 'closed') and 'close' (detail: {code, reason}).

const OPEN_TIMEOUT_MS = 10000;

export function signalUrl() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/api/v1/ws`;
}

export class SignalClient extends EventTarget {
  #ws = null;
  #nextId = 1;
  state = 'idle';

  constructor(url = signalUrl()) {
    super();
    this.url = url;
  }

  /** Opens the socket; resolves once open, rejects if it fails or takes too long. */
  open() {
    this.#setState('connecting');
    return new Promise((resolve, reject) => {
      let settled = false;
      const ws = new WebSocket(this.url);
      this.#ws = ws;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        ws.close();
        reject(new Error('The server did not answer in time.'));
      }, OPEN_TIMEOUT_MS);
      ws.addEventListener('open', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#setState('open');
        resolve();
      });
      ws.addEventListener('message', (event) => this.#onMessage(event));
      ws.addEventListener('close', (event) => {
        clearTimeout(timer);
        this.#setState('closed');
        this.dispatchEvent(new CustomEvent('close', { detail: { code: event.code, reason: event.reason } }));
        if (!settled) {
          settled = true;
          reject(new Error('Cannot connect to the meeting server.'));
        }
      });
    });
  }

  /** Sends a message; returns its id (generated when missing) or null when not open. */
  send(message) {
    if (!this.#ws || this.#ws.readyState !== WebSocket.OPEN) return null;
    const id = message.id ?? `c${this.#nextId++}`;
    this.#ws.send(JSON.stringify({ ...message, id }));
    return id;
  }

  close(code = 1000) {
    if (this.#ws && this.#ws.readyState <= WebSocket.OPEN) this.#ws.close(code);
  }

  #onMessage(event) {
    if (typeof event.data !== 'string') return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      console.warn('sparkle: ignoring a frame that is not JSON');
      return;
    }
    if (!message || typeof message !== 'object' || typeof message.type !== 'string') return;
    this.dispatchEvent(new CustomEvent('message', { detail: message }));
  }

  #setState(state) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: state }));
  }
}
