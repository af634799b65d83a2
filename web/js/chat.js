// The chat side panel (docs/protocol.md, "Chat"): room messages, private
// ones to the hosts (and, for hosts, to one person), and files for those allowed to share
// them. Text is always shown as text (textContent), never as markup. Files are downloaded with
// the room token as a bearer header, then handed to the browser as a blob: a plain link would
// need the token in the URL.
import { ApiError, downloadFile, uploadFile } from './api.js';
import { formatSize, saveBlob } from './download.js';

const MAX_TEXT = 2000;

function formatTime(at) {
  const date = Number.isFinite(at) ? new Date(at * 1000) : new Date();
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export class ChatPanel {
  #meeting = null;
  #room = '';
  #token = '';
  unread = 0;

  /** `$`: getElementById; `say(text)`: shows a short notice. */
  constructor($, say) {
    this.$ = $;
    this.say = say;
    $('chat-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.#send();
    });
    $('chat-text').addEventListener('keydown', (event) => {
      // Enter sends, Shift+Enter starts a new line (as in most chat tools).
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#send();
      }
    });
    $('chat-attach').addEventListener('click', () => $('chat-file').click());
    $('chat-file').addEventListener('change', () => this.#attach());
  }

  /** A new meeting: forget the old messages. */
  start(meeting, room, token) {
    this.#meeting = meeting;
    this.#room = room;
    this.#token = token;
    this.unread = 0;
    this.$('chat-log').replaceChildren();
    this.$('chat-message').textContent = '';
  }

  get open() {
    return !this.$('chat-panel').hidden;
  }

  markRead() {
    this.unread = 0;
    this.#renderBadge();
  }

  render(meeting) {
    this.#meeting = meeting;
    const $ = this.$;
    $('chat-attach').hidden = !meeting.permissions().file_share;
    // Private messages: anyone may write to the hosts; hosts may write to anyone, the
    // others to a host (the server refuses anything else).
    const select = $('chat-to');
    const wanted = [['', 'Everyone'], ['hosts', 'Hosts only']];
    for (const p of meeting.participants.values()) {
      if (meeting.isHost() || p.host) wanted.push([p.sid, `${p.name} (private)`]);
    }
    const have = [...select.options].map((o) => `${o.value}\u0000${o.textContent}`).join('\u0001');
    if (have !== wanted.map(([v, t]) => `${v}\u0000${t}`).join('\u0001')) {
      const current = select.value;
      select.replaceChildren(...wanted.map(([value, text]) => new Option(text, value)));
      select.value = wanted.some(([v]) => v === current) ? current : '';
    }
    this.#renderBadge();
  }

  /** A `chat` message from the server (our own come back as echoes). */
  add(message) {
    const m = this.#meeting;
    const selfSid = m && m.self ? m.self.sid : null;
    const from = message.from && typeof message.from === 'object' ? message.from : {};
    const mine = from.sid === selfSid;
    const li = document.createElement('li');
    li.className = mine ? 'chat-message mine' : 'chat-message';
    if (message.to) li.classList.add('private');
    const head = document.createElement('p');
    head.className = 'chat-head';
    const who = document.createElement('strong');
    who.textContent = mine ? 'You' : from.name || 'Someone';
    head.append(who);
    if (message.to) {
      const target = message.to === 'hosts'
        ? 'the hosts'
        : message.to === selfSid ? 'you' : (m && m.participants.get(message.to)?.name) || 'someone';
      head.append(` to ${target} (private)`);
    }
    const time = document.createElement('time');
    time.textContent = ` ${formatTime(message.at)}`;
    head.append(time);
    li.append(head);
    if (typeof message.text === 'string' && message.text) {
      const text = document.createElement('p');
      text.className = 'chat-text';
      text.textContent = message.text;
      li.append(text);
    }
    if (message.file && typeof message.file === 'object' && typeof message.file.id === 'string') {
      li.append(this.#fileButton(message.file));
    }
    this.$('chat-log').append(li);
    li.scrollIntoView({ block: 'end' });
    if (!this.open && !mine) {
      this.unread += 1;
      this.#renderBadge();
    }
  }

  #fileButton(file) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'file-link';
    const name = typeof file.name === 'string' && file.name ? file.name : 'file';
    b.textContent = `Download ${name} (${formatSize(file.size)})`;
    b.addEventListener('click', async () => {
      try {
        saveBlob(await downloadFile(this.#room, this.#token, file.id), name);
      } catch (err) {
        this.say(err instanceof ApiError ? err.message : 'The file could not be downloaded.');
      }
    });
    return b;
  }

  #send(fileId = null) {
    const $ = this.$;
    const m = this.#meeting;
    const text = $('chat-text').value.trim();
    if (!text && !fileId) return;
    if (text.length > MAX_TEXT) {
      $('chat-message').textContent = `Messages are at most ${MAX_TEXT} characters.`;
      return;
    }
    if (!m || m.sendChat(text, $('chat-to').value || null, fileId) === null) {
      $('chat-message').textContent = 'Not connected to the meeting.';
      return;
    }
    $('chat-text').value = '';
    $('chat-message').textContent = '';
  }

  async #attach() {
    const $ = this.$;
    const input = $('chat-file');
    const file = input.files && input.files[0];
    input.value = '';
    if (!file) return;
    $('chat-message').textContent = `Sending ${file.name}…`;
    try {
      const uploaded = await uploadFile(this.#room, this.#token, file);
      this.#send(uploaded.id);
      $('chat-message').textContent = '';
    } catch (err) {
      $('chat-message').textContent = err instanceof ApiError ? err.message : 'The file could not be sent.';
    }
  }

  #renderBadge() {
    const badge = this.$('chat-unread');
    badge.hidden = this.unread === 0;
    badge.textContent = String(this.unread);
    badge.setAttribute('aria-label', `${this.unread} unread`);
  }
}
