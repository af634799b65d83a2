// The "People" side panel: who is here and whose hand is up, for everyone; and for hosts the
// controls of docs/protocol.md ("Hosts"): the waiting room (admit / deny), per
// person mute, stop camera, ask to unmute, auto-framing (framing.js), screen-share and file
// permissions, host role, remove (and ban), mute everyone, and the room settings.
//
// It is redrawn on every meeting change, so rows are kept per participant and only updated
// in place: a button the user is about to press (or has focused with the keyboard) stays.
import { handQueue, permissionsOf } from './room-policy.js';

const CONFIRM_MS = 4000;
// These two have had their own commands since the first part of issue 3; everything else
// goes through update_room.
const LEGACY_SETTINGS = { lobby: ['set_lobby', 'enabled'], locked: ['lock_room', 'locked'] };

function button(label, action, className = '') {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.dataset.action = action;
  if (className) b.className = className;
  return b;
}

/** Keeps one row per key in `list`, in the order of `items`, created and updated in place. */
function syncRows(list, rows, items, keyOf, create, update) {
  const wanted = new Set(items.map(keyOf));
  for (const [key, row] of rows) {
    if (!wanted.has(key)) {
      row.el.remove();
      rows.delete(key);
    }
  }
  let previous = null;
  for (const item of items) {
    const key = keyOf(item);
    let row = rows.get(key);
    if (!row) {
      row = create(item);
      rows.set(key, row);
    }
    update(row, item);
    const expected = previous ? previous.nextSibling : list.firstChild;
    // Move only rows that are out of place: moving a focused element blurs it.
    if (expected !== row.el) list.insertBefore(row.el, expected);
    previous = row.el;
  }
}

/** A destructive button asks for a second press within a few seconds instead of a dialog. */
function armed(b, confirmLabel, act) {
  let timer = 0;
  b.addEventListener('click', () => {
    if (b.dataset.armed === 'true') {
      clearTimeout(timer);
      b.dataset.armed = 'false';
      b.textContent = b.dataset.label;
      act();
      return;
    }
    b.dataset.label = b.textContent;
    b.dataset.armed = 'true';
    b.textContent = confirmLabel;
    timer = setTimeout(() => {
      b.dataset.armed = 'false';
      b.textContent = b.dataset.label;
    }, CONFIRM_MS);
  });
}

export class PeoplePanel {
  #lobbyRows = new Map();
  #handRows = new Map();
  #personRows = new Map();
  #meeting = null;

  /** `$`: getElementById; `say(text)`: shows a short notice. */
  constructor($, say) {
    this.$ = $;
    this.say = say;
    this.#wireStatic();
  }

  #command(type, fields = {}) {
    const m = this.#meeting;
    if (!m || m.command(type, fields) === null) this.say('Not connected to the meeting.');
  }

  #wireStatic() {
    const $ = this.$;
    $('admit-all-button').addEventListener('click', () => this.#command('admit_all'));
    $('deny-all-button').addEventListener('click', () => this.#command('deny_all'));
    $('mute-all-button').addEventListener('click', () => {
      this.#command('mute_all', { source: 'microphone' });
      this.say('Everyone else is muted.');
    });
    $('stop-all-cameras-button').addEventListener('click', () => this.#command('mute_all', { source: 'camera' }));
    armed($('end-meeting-button'), 'Press again to end the meeting for everyone', () => this.#command('end_meeting'));
    for (const input of $('room-settings').querySelectorAll('[data-setting]')) {
      input.addEventListener('change', () => {
        const key = input.dataset.setting;
        const value = input.type === 'checkbox' ? input.checked : input.value;
        if (LEGACY_SETTINGS[key]) {
          const [type, field] = LEGACY_SETTINGS[key];
          this.#command(type, { [field]: value });
        } else {
          this.#command('update_room', { settings: { [key]: value } });
        }
      });
    }
    $('password-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = $('room-password').value;
      if (!value) {
        this.say('Type the new password first.');
        $('room-password').focus();
        return;
      }
      this.#command('update_room', { settings: { password: value } });
      $('room-password').value = '';
      this.say('The meeting password was set.');
    });
    armed($('password-clear'), 'Press again to remove the password', () => {
      this.#command('update_room', { settings: { password: null } });
    });
  }

  render(meeting) {
    this.#meeting = meeting;
    const $ = this.$;
    const host = meeting.isHost();
    const room = meeting.room;
    for (const el of document.querySelectorAll('#people-panel .host-only')) el.hidden = !host;

    // Waiting room (hosts only; nobody else learns who waits).
    const waiting = host ? [...meeting.lobby.values()] : [];
    $('lobby-section').hidden = !host || (waiting.length === 0 && !(room && room.lobby));
    syncRows($('lobby-list'), this.#lobbyRows, waiting, (w) => w.sid, (w) => this.#lobbyRow(w), (row, w) => {
      row.name.textContent = w.name;
      row.admit.setAttribute('aria-label', `Admit ${w.name}`);
      row.deny.setAttribute('aria-label', `Deny ${w.name}`);
    });
    $('admit-all-button').disabled = waiting.length === 0;
    $('deny-all-button').disabled = waiting.length === 0;
    const count = $('lobby-count');
    count.hidden = waiting.length === 0;
    count.textContent = String(waiting.length);
    count.setAttribute('aria-label', `${waiting.length} waiting`);

    // Everyone, ourselves first, with what they have on.
    const view = new Map(meeting.remoteView().map((p) => [p.sid, p]));
    const people = [];
    if (meeting.self) people.push({ ...meeting.self, isSelf: true });
    for (const p of meeting.participants.values()) people.push({ ...p, isSelf: false });

    // Raised hands, first raised first.
    const hands = handQueue(people);
    $('hands-section').hidden = hands.length === 0;
    syncRows($('hands-list'), this.#handRows, hands, (p) => p.sid, (p) => this.#handRow(p), (row, p) => {
      row.name.textContent = p.isSelf ? `${p.name} (you)` : p.name;
      row.actions.hidden = !host || p.isSelf;
      row.speak.setAttribute('aria-label', `Let ${p.name} speak`);
      row.lower.setAttribute('aria-label', `Lower ${p.name}'s hand`);
    });

    syncRows($('participant-list'), this.#personRows, people, (p) => p.sid, (p) => this.#personRow(p), (row, p) => {
      this.#updatePerson(row, p, view.get(p.sid), host, room, meeting);
    });
    this.#renderSettings(room, host);
  }

  #lobbyRow(w) {
    const el = document.createElement('li');
    el.dataset.sid = w.sid;
    const name = document.createElement('span');
    name.className = 'person-name';
    const admit = button('Admit', 'admit', 'primary');
    const deny = button('Deny', 'deny');
    admit.addEventListener('click', () => this.#command('admit', { participant_sid: w.sid }));
    deny.addEventListener('click', () => this.#command('deny', { participant_sid: w.sid }));
    const actions = document.createElement('div');
    actions.className = 'row-actions';
    actions.append(admit, deny);
    el.append(name, actions);
    return { el, name, admit, deny };
  }

  #handRow(p) {
    const el = document.createElement('li');
    el.dataset.sid = p.sid;
    const name = document.createElement('span');
    name.className = 'person-name';
    const speak = button('Let speak', 'ask-unmute', 'primary');
    const lower = button('Lower hand', 'lower-hand');
    speak.addEventListener('click', () => this.#command('ask_unmute', { participant_sid: p.sid }));
    lower.addEventListener('click', () => this.#command('lower_hand', { participant_sid: p.sid }));
    const actions = document.createElement('div');
    actions.className = 'row-actions';
    actions.append(speak, lower);
    el.append(name, actions);
    return { el, name, actions, speak, lower };
  }

  #personRow(p) {
    const sid = p.sid;
    const el = document.createElement('li');
    el.dataset.sid = sid;
    const name = document.createElement('span');
    name.className = 'person-name';
    const status = document.createElement('span');
    status.className = 'person-status';
    const cmd = (type, fields = {}) => () => this.#command(type, { participant_sid: sid, ...fields });
    const b = {
      mute: button('Mute', 'mute-mic'),
      camera: button('Stop camera', 'stop-camera'),
      askUnmute: button('Ask to unmute', 'ask-unmute'),
      lower: button('Lower hand', 'lower-hand'),
      stopShare: button('Stop share', 'stop-share'),
      framing: button('Auto-frame camera', 'framing'),
      screen: button('Allow screen share', 'screen-share'),
      files: button('Allow files', 'file-share'),
      speak: button('Allow to speak', 'speak'),
      role: button('Make host', 'host'),
      remove: button('Remove', 'remove', 'danger'),
      ban: button('Remove and ban', 'ban', 'danger'),
    };
    b.mute.addEventListener('click', cmd('mute_participant', { source: 'microphone' }));
    b.camera.addEventListener('click', cmd('mute_participant', { source: 'camera' }));
    b.askUnmute.addEventListener('click', cmd('ask_unmute'));
    b.lower.addEventListener('click', cmd('lower_hand'));
    b.stopShare.addEventListener('click', cmd('stop_share'));
    b.framing.addEventListener('click', () => {
      const m = this.#meeting;
      if (m) m.setFraming(b.framing.dataset.enable === 'true', sid);
    });
    const toggle = (key, permission) => b[key].addEventListener('click', () => {
      this.#command('set_permission', { participant_sid: sid, permission, allowed: b[key].dataset.allow === 'true' });
    });
    toggle('screen', 'screen_share');
    toggle('files', 'file_share');
    toggle('speak', 'speak');
    b.role.addEventListener('click', () => {
      this.#command('set_host', { participant_sid: sid, host: b.role.dataset.allow === 'true' });
    });
    armed(b.remove, 'Press again to remove', cmd('remove_participant', { ban: false }));
    armed(b.ban, 'Press again to remove and ban', cmd('remove_participant', { ban: true }));
    const main = document.createElement('div');
    main.className = 'row-actions';
    main.append(b.mute, b.camera, b.framing, b.askUnmute, b.lower, b.stopShare);
    const more = document.createElement('details');
    const summary = document.createElement('summary');
    summary.textContent = 'More';
    const extra = document.createElement('div');
    extra.className = 'row-actions';
    extra.append(b.speak, b.screen, b.files, b.role, b.remove, b.ban);
    more.append(summary, extra);
    const actions = document.createElement('div');
    actions.className = 'person-actions';
    actions.append(main, more);
    el.append(name, status, actions);
    return { el, name, status, actions, summary, b };
  }

  #updatePerson(row, p, view, host, room, meeting) {
    const { b } = row;
    const perms = permissionsOf(p, room);
    const tracks = [...meeting.tracks.values()].filter((t) => t.participant_sid === p.sid);
    const sharing = tracks.some((t) => t.source === 'screen_share');
    const hasCamera = tracks.some((t) => t.source === 'camera');
    const framing = meeting.framingOf(p.sid);
    const micMuted = p.isSelf ? !meeting.media.micEnabled : !view || view.microphoneMuted;
    const cameraOff = p.isSelf ? !meeting.media.cameraEnabled : !view || view.cameraMuted;
    const raised = Number.isFinite(p.hand);
    const tags = [p.isSelf ? 'you' : null, p.host ? 'host' : null].filter(Boolean);
    row.name.textContent = tags.length ? `${p.name} (${tags.join(', ')})` : p.name;
    const states = [
      raised ? 'hand raised' : null,
      micMuted ? 'muted' : null,
      cameraOff ? 'camera off' : null,
      sharing ? 'sharing the screen' : null,
      framing === 'on' ? 'auto-framed' : null,
      framing === 'starting' ? 'auto-framing starting' : null,
      !p.host && !perms.speak ? 'may not speak' : null,
    ].filter(Boolean);
    row.status.textContent = states.join(' · ');
    row.actions.hidden = !host || p.isSelf;
    if (row.actions.hidden) return;
    const label = (el, text) => el.setAttribute('aria-label', `${text}: ${p.name}`);
    b.mute.disabled = micMuted;
    label(b.mute, 'Mute');
    b.camera.disabled = cameraOff;
    label(b.camera, 'Stop camera');
    b.askUnmute.hidden = !micMuted || raised;
    label(b.askUnmute, 'Ask to unmute');
    b.lower.hidden = !raised;
    label(b.lower, 'Lower hand');
    b.stopShare.hidden = !sharing;
    label(b.stopShare, 'Stop screen share');
    // Framing a camera that is not published has nothing to frame; stopping is always possible.
    const framed = meeting.framingWanted(p.sid);
    b.framing.hidden = !framed && !hasCamera;
    b.framing.dataset.enable = String(!framed);
    b.framing.textContent = framed ? 'Stop auto-framing' : 'Auto-frame camera';
    b.framing.setAttribute('aria-busy', String(meeting.framingPending(p.sid) || framing === 'starting'));
    label(b.framing, b.framing.textContent);
    const flip = (el, allowed, allowText, denyText, hidden = false) => {
      el.hidden = hidden;
      el.dataset.allow = String(!allowed);
      el.textContent = allowed ? denyText : allowText;
      label(el, el.textContent);
    };
    flip(b.speak, perms.speak, 'Allow to speak', 'Revoke speaking', p.host);
    flip(b.screen, perms.screen_share, 'Allow screen share', 'Deny screen share', p.host);
    flip(b.files, perms.file_share, 'Allow files', 'Deny files', p.host);
    flip(b.role, p.host, 'Make host', 'Remove host');
    row.summary.setAttribute('aria-label', `More actions: ${p.name}`);
    if (b.remove.dataset.armed !== 'true') label(b.remove, 'Remove');
    if (b.ban.dataset.armed !== 'true') label(b.ban, 'Remove and ban');
  }

  #renderSettings(room, host) {
    const $ = this.$;
    if (!host || !room) return;
    for (const input of $('room-settings').querySelectorAll('[data-setting]')) {
      const value = room[input.dataset.setting];
      if (input.type === 'checkbox') input.checked = Boolean(value);
      else if (typeof value === 'string' && document.activeElement !== input) input.value = value;
    }
    $('password-state').textContent = room.password ? 'A password is set.' : 'No password is set.';
    $('password-clear').disabled = !room.password;
  }
}
