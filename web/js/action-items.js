// The summary page's action items: what was promised in the meeting (task, owner, due date),
// each with the words it came from and a link to that moment of the transcript. Hosts edit
// them in place (task, owner from the attendees, due date, confirmed) and add or delete
// items, through PATCH/POST/DELETE /api/v1/meetings/<id>/action-items; everyone else reads.
// Rows are updated in place, so a poll never clobbers the field a host is typing in.
// Tasks and quotes come from speech (anybody's words): textContent only.
import { clock } from './transcript-view.js';

function dueText(due) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(due || '');
  if (!match) return null;
  const date = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return date.toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function labelled(text, control) {
  const label = element('label', null, text);
  label.append(control);
  return label;
}

export class ActionItems {
  items = [];
  #rows = new Map(); // item id -> row
  #editable = false;
  #attendees = []; // [{identity, name}]
  #meeting = null;

  /** `$`: getElementById; `api`: SummaryApi; `reload()`: fetches the list again. */
  constructor($, api, reload) {
    this.$ = $;
    this.api = api;
    this.reload = reload;
    $('add-item-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.#add();
    });
  }

  /** The meeting (start, attendees) and whether this person may edit (a host). */
  setup(meeting, editable) {
    this.#meeting = meeting;
    this.#editable = editable;
    this.#attendees = (Array.isArray(meeting.participants) ? meeting.participants : [])
      .filter((p) => p && typeof p.identity === 'string');
    this.$('actions-section').hidden = false;
    this.$('add-item-form').hidden = !editable;
    this.#fillOwners(this.$('add-owner'), null, null);
  }

  /** `data`: {state, items} from the API. */
  show(data) {
    const pending = data.state === 'pending';
    const items = (Array.isArray(data.items) ? data.items : []).filter((i) => i && Number.isInteger(i.id));
    this.items = items;
    let state;
    if (pending) state = 'Finding the action items… (this page updates itself)';
    else if (!items.length) state = 'No action items were found in this meeting.';
    else state = `${items.length} ${items.length === 1 ? 'action item' : 'action items'}.`;
    this.$('actions-state').textContent = state;
    const list = this.$('action-items');
    const wanted = new Set(items.map((i) => i.id));
    for (const [id, row] of this.#rows) {
      if (!wanted.has(id)) {
        row.el.remove();
        this.#rows.delete(id);
      }
    }
    let previous = null;
    for (const item of items) {
      let row = this.#rows.get(item.id);
      if (!row) {
        row = this.#editable ? this.#editRow(item) : this.#readRow();
        this.#rows.set(item.id, row);
      }
      this.#update(row, item);
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (expected !== row.el) list.insertBefore(row.el, expected); // moving blurs: only if needed
      previous = row.el;
    }
  }

  // ---- rows ------------------------------------------------------------------------------

  #readRow() {
    const el = element('li', 'action-item');
    const task = element('p', 'action-task');
    const meta = element('p', 'action-meta');
    const quote = element('p', 'action-quote');
    el.append(task, meta, quote);
    return { el, task, meta, quote };
  }

  #editRow(item) {
    const el = element('li', 'action-item');
    const fields = element('div', 'action-fields');
    const task = document.createElement('input');
    task.type = 'text';
    task.className = 'ai-task';
    task.maxLength = 500;
    const owner = document.createElement('select');
    owner.className = 'ai-owner';
    const due = document.createElement('input');
    due.type = 'date';
    due.className = 'ai-due';
    fields.append(labelled('Task', task), labelled('Owner', owner), labelled('Due', due));
    const actions = element('div', 'action-row');
    const confirm = document.createElement('input');
    confirm.type = 'checkbox';
    confirm.className = 'ai-confirm';
    const confirmLabel = element('label', 'check');
    confirmLabel.append(confirm, document.createTextNode(' Confirmed'));
    const remove = element('button', 'subtle ai-delete', 'Delete');
    remove.type = 'button';
    actions.append(confirmLabel, remove);
    const quote = element('p', 'action-quote');
    const status = element('p', 'action-status');
    status.setAttribute('role', 'status');
    el.append(fields, actions, quote, status);
    const row = { el, task, owner, due, confirm, remove, quote, status, item };
    task.addEventListener('change', () => {
      const value = task.value.trim().replace(/\s+/g, ' ');
      if (!value) {
        task.value = row.item.task;
        this.#status(row, 'A task cannot be empty.', true);
        return;
      }
      if (value !== row.item.task) this.#patch(row, { task: value });
    });
    owner.addEventListener('change', () => this.#patch(row, { owner: owner.value || null }));
    due.addEventListener('change', () => this.#patch(row, { due: due.value || null }));
    confirm.addEventListener('change', () => this.#patch(row, { confirmed: confirm.checked }));
    remove.addEventListener('click', () => this.#delete(row));
    return row;
  }

  #update(row, item) {
    row.item = item;
    row.el.dataset.item = String(item.id);
    row.el.dataset.confirmed = String(Boolean(item.confirmed));
    const ownerName = item.owner ? item.owner_name || item.owner : null;
    const label = item.task || 'Action item';
    if (row.status) {
      const focused = document.activeElement;
      if (focused !== row.task) row.task.value = item.task || '';
      if (focused !== row.owner) this.#fillOwners(row.owner, item.owner, item.owner_name);
      if (focused !== row.due) row.due.value = item.due || '';
      row.confirm.checked = Boolean(item.confirmed);
      row.confirm.setAttribute('aria-label', `Confirmed: ${label}`);
      row.remove.setAttribute('aria-label', `Delete: ${label}`);
    } else {
      row.task.textContent = label;
      const meta = [ownerName ? `Owner: ${ownerName}` : 'Unassigned'];
      const due = dueText(item.due);
      if (due) meta.push(`Due ${due}`);
      meta.push(item.confirmed ? 'Confirmed' : 'Not confirmed yet');
      row.meta.textContent = meta.join(' · ');
    }
    this.#quote(row.quote, item);
  }

  /** “The words it came from” — at 00:01:02 (a link to the transcript line). */
  #quote(el, item) {
    el.replaceChildren();
    if (!item.quote) {
      el.hidden = true;
      return;
    }
    el.hidden = false;
    el.append(document.createTextNode(`“${item.quote}”`));
    const start = this.#meeting ? this.#meeting.started_at : null;
    if (Number.isInteger(item.segment_id) && Number.isFinite(item.start) && Number.isFinite(start)) {
      el.append(document.createTextNode(' — '));
      const link = element('a', null, `at ${clock(item.start - start)}`);
      link.href = `#segment-${item.segment_id}`;
      el.append(link);
    }
  }

  #fillOwners(select, owner, ownerName) {
    const options = [{ value: '', text: 'Unassigned' }];
    for (const p of this.#attendees) options.push({ value: p.identity, text: p.name || p.identity });
    if (owner && !this.#attendees.some((p) => p.identity === owner)) options.push({ value: owner, text: ownerName || owner });
    const signature = options.map((o) => `${o.value}\u0000${o.text}`).join('\u0001');
    if (select.dataset.options !== signature) {
      select.dataset.options = signature;
      select.replaceChildren(...options.map((o) => {
        const option = document.createElement('option');
        option.value = o.value;
        option.textContent = o.text;
        return option;
      }));
    }
    select.value = owner || '';
  }

  // ---- edits -------------------------------------------------------------------------------

  #status(row, text, error = false) {
    row.status.textContent = text;
    row.status.classList.toggle('error', error);
  }

  async #patch(row, fields) {
    this.#status(row, 'Saving…');
    try {
      const item = await this.api.updateActionItem(this.#meeting.id, row.item.id, fields);
      if (item && Number.isInteger(item.id)) {
        const index = this.items.findIndex((i) => i.id === item.id);
        if (index >= 0) this.items[index] = item;
        this.#update(row, item);
      }
      this.#status(row, 'Saved.');
    } catch (err) {
      this.#update(row, row.item); // back to what the server has
      this.#status(row, `Not saved: ${err.message}`, true);
    }
  }

  async #delete(row) {
    this.#status(row, 'Deleting…');
    try {
      await this.api.deleteActionItem(this.#meeting.id, row.item.id);
    } catch (err) {
      this.#status(row, `Not deleted: ${err.message}`, true);
      return;
    }
    const next = row.el.nextElementSibling || row.el.previousElementSibling;
    this.#rows.delete(row.item.id);
    this.items = this.items.filter((i) => i.id !== row.item.id);
    row.el.remove();
    // Focus stays on the list, not lost to the page's top.
    const target = next ? next.querySelector('input, button') : this.$('add-task');
    if (target) target.focus();
    this.$('add-item-message').textContent = 'The action item was deleted.';
  }

  async #add() {
    const $ = this.$;
    const message = $('add-item-message');
    const task = $('add-task').value.trim().replace(/\s+/g, ' ');
    if (!task) {
      message.textContent = 'Say what is to be done.';
      $('add-task').focus();
      return;
    }
    const body = { task, owner: $('add-owner').value || null, due: $('add-due').value || null };
    $('add-item-button').disabled = true;
    try {
      await this.api.addActionItem(this.#meeting.id, body);
      $('add-task').value = '';
      $('add-due').value = '';
      $('add-owner').value = '';
      message.textContent = 'The action item was added.';
      await this.reload();
    } catch (err) {
      message.textContent = `Not added: ${err.message}`;
    } finally {
      $('add-item-button').disabled = false;
    }
  }
}
