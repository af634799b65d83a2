// The meeting page (/r/<room>): pre-join screen, then the meeting, then the "ended" screen.
import { ApiError, guestToken } from './api.js';
import { ChatPanel } from './chat.js';
import { Chime } from './chime.js';
import { installDebug } from './debug.js';
import { Grid } from './grid.js';
import { guestLink, roomFromPath, takeFragment } from './links.js';
import { LocalMedia } from './media.js';
import { Meeting, MeetingError } from './meeting.js';
import { nameProblem, rememberName, rememberedName } from './names.js';
import { PeoplePanel } from './people-panel.js';
import { Toasts } from './toasts.js';

const $ = (id) => document.getElementById(id);
const BANNER_MS = 8000;

// Fatal join errors that end on their own screen rather than back on the pre-join card.
const TURNED_AWAY = {
  lobby_denied: ['The host did not let you in', 'You can ask to join again, or contact the host.'],
  lobby_timeout: ['Nobody let you in', 'You waited a long time in the waiting room without a host admitting you. You can ask to join again.'],
};

const page = {
  phase: 'prejoin', // prejoin | joining | waiting | meeting | ended
  room: roomFromPath(),
  token: null,
  tokenFromStorage: false,
  media: null,
  mediaReady: Promise.resolve(), // settles once camera and microphone were asked for
  meeting: null,
  pending: null, // the meeting being joined (or waited for in the lobby)
  needPassword: false,
  grid: new Grid($('grid'), $('audio-sink')),
  toasts: new Toasts($('toasts')),
  chime: new Chime(),
  people: null,
  chat: null,
  bannerTimer: 0,
};
page.people = new PeoplePanel($, (text) => page.toasts.show(text));
page.chat = new ChatPanel($, (text) => page.toasts.show(text));

// ---- token handling -------------------------------------------------------------------
// A token from the link is kept in sessionStorage (this tab only) so a reload does not turn
// the host into a guest; it never goes back into the URL.

function storageKey() {
  return `sparkle.token.${page.room}`;
}

function loadToken(fragmentToken) {
  try {
    if (fragmentToken) {
      sessionStorage.setItem(storageKey(), fragmentToken);
      return { token: fragmentToken, fromStorage: false };
    }
    const stored = sessionStorage.getItem(storageKey());
    return { token: stored, fromStorage: Boolean(stored) };
  } catch {
    return { token: fragmentToken, fromStorage: false };
  }
}

function forgetToken() {
  page.token = null;
  page.tokenFromStorage = false;
  try {
    sessionStorage.removeItem(storageKey());
  } catch {
    // Storage disabled: nothing stored either.
  }
}

// ---- views ----------------------------------------------------------------------------

function show(phase) {
  page.phase = phase;
  $('prejoin').hidden = !(phase === 'prejoin' || phase === 'joining' || phase === 'waiting');
  $('join-card').hidden = phase === 'waiting';
  $('waiting-card').hidden = phase !== 'waiting';
  $('meeting').hidden = phase !== 'meeting';
  $('ended').hidden = phase !== 'ended';
}

function setToggle(button, on, onLabel, offLabel, available = true) {
  button.setAttribute('aria-pressed', String(on && available));
  button.querySelector('.label').textContent = on && available ? onLabel : offLabel;
  button.disabled = !available;
}

function showEnded(title, text, canRejoin = true) {
  $('ended-title').textContent = title;
  $('ended-text').textContent = text;
  $('rejoin-button').hidden = !canRejoin;
  show('ended');
  if (canRejoin) $('rejoin-button').focus();
}

// ---- pre-join -------------------------------------------------------------------------

function renderPrejoinDevices() {
  const media = page.media;
  setToggle($('prejoin-mic'), media.micEnabled, 'Microphone on', 'Microphone off', media.micAvailable);
  setToggle($('prejoin-camera'), media.cameraEnabled, 'Camera on', 'Camera off', media.cameraAvailable);
  const video = $('preview-video');
  const cameraOn = media.cameraEnabled && media.camera;
  if (cameraOn && (!video.srcObject || video.srcObject.getVideoTracks()[0] !== media.camera)) {
    video.srcObject = new MediaStream([media.camera]);
  } else if (!cameraOn) {
    video.srcObject = null;
  }
  $('preview-off').hidden = Boolean(cameraOn);
  $('preview-off').textContent = media.cameraAvailable ? 'Camera is off' : 'No camera';
  $('device-message').textContent = media.problems.join(' ');
}

async function startPreview() {
  page.media = new LocalMedia();
  page.media.addEventListener('change', () => {
    if (page.phase === 'meeting') renderMeeting();
    else renderPrejoinDevices();
  });
  $('device-message').textContent = 'Starting camera and microphone…';
  page.mediaReady = page.media.start();
  await page.mediaReady;
  renderPrejoinDevices();
}

function prejoinProblem(text) {
  const message = $('prejoin-message');
  message.textContent = text;
}

async function onJoinSubmit(event) {
  event.preventDefault();
  if (page.phase !== 'prejoin') return;
  const input = $('display-name');
  const problem = nameProblem(input.value);
  if (problem) {
    input.setAttribute('aria-invalid', 'true');
    prejoinProblem(problem);
    input.focus();
    return;
  }
  input.removeAttribute('aria-invalid');
  prejoinProblem('');
  const name = input.value.trim();
  const password = page.needPassword ? $('meeting-password').value : null;
  if (page.needPassword && !password) {
    prejoinProblem('This meeting has a password. Enter it to join.');
    $('meeting-password').focus();
    return;
  }
  rememberName(name);
  const button = $('join-button');
  button.disabled = true;
  button.textContent = 'Joining…';
  show('joining');
  try {
    // Join with the devices we will have, not before the browser has answered for them.
    await page.mediaReady;
    await joinAs(name, password);
  } catch (err) {
    page.pending = null;
    const code = err && err.code;
    if (code === 'left') {
      stopMedia();
      showEnded('You left the waiting room', '');
      return;
    }
    if (TURNED_AWAY[code]) {
      stopMedia();
      showEnded(...TURNED_AWAY[code]);
      return;
    }
    show('prejoin');
    const text = err instanceof ApiError || err instanceof MeetingError ? err.message : 'Could not join the meeting.';
    if (code === 'name_required') input.setAttribute('aria-invalid', 'true');
    prejoinProblem(text);
    if (code === 'password_required' || (code === 'invalid_token' && page.needPassword)) askPassword();
    else console.error('sparkle: join failed', err);
  } finally {
    button.disabled = false;
    button.textContent = 'Join meeting';
  }
}

function askPassword() {
  page.needPassword = true;
  $('password-row').hidden = false;
  $('meeting-password').value = '';
  $('meeting-password').focus();
}

function stopMedia() {
  if (page.media) page.media.stop();
  $('preview-video').srcObject = null;
}

async function joinAs(name, password) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const token = page.token || (await guestToken(page.room, name, password));
    const meeting = new Meeting({ token, name, media: page.media, password });
    page.pending = meeting;
    meeting.addEventListener('waiting', () => {
      $('waiting-room').textContent = page.room;
      show('waiting');
      $('waiting-leave').focus();
    });
    try {
      await meeting.join();
      page.pending = null;
      enterMeeting(meeting, token);
      return;
    } catch (err) {
      const retry = err instanceof MeetingError && err.code === 'invalid_token' && page.tokenFromStorage;
      if (err instanceof MeetingError && err.code === 'invalid_token') forgetToken();
      if (!retry) throw err;
      // A token kept from an earlier visit has expired: carry on as a guest.
    }
  }
}

// ---- meeting --------------------------------------------------------------------------

function enterMeeting(meeting, token) {
  page.meeting = meeting;
  page.needPassword = false;
  $('password-row').hidden = true;
  page.toasts.clear();
  page.chat.start(meeting, page.room, token);
  meeting.addEventListener('change', () => renderMeeting());
  meeting.addEventListener('notice', (e) => showBanner(e.detail.message));
  meeting.addEventListener('alert', (e) => page.toasts.show(e.detail.message, { kind: e.detail.code }));
  meeting.addEventListener('knock', (e) => onKnock(e.detail));
  meeting.addEventListener('lobby-left', (e) => page.toasts.dismiss(`knock:${e.detail.sid}`));
  meeting.addEventListener('chat', (e) => page.chat.add(e.detail));
  meeting.addEventListener('ended', (e) => onEnded(e.detail));
  $('meeting-room').textContent = page.room;
  show('meeting');
  renderMeeting();
  // A host who arrives while people wait hears about them at once.
  if (meeting.lobby.size) page.chime.play();
  $('mic-button').focus();
}

/** Hosts: someone is at the door. Seen (a toast with the buttons) and heard (a chime). */
function onKnock(person) {
  const meeting = page.meeting;
  if (!meeting) return;
  page.chime.play();
  page.toasts.show(`${person.name} is waiting to join.`, {
    key: `knock:${person.sid}`,
    kind: 'knock',
    timeoutMs: 0,
    actions: [
      { label: 'Admit', ariaLabel: `Admit ${person.name}`, primary: true, onClick: () => meeting.command('admit', { participant_sid: person.sid }) },
      { label: 'Deny', ariaLabel: `Deny ${person.name}`, onClick: () => meeting.command('deny', { participant_sid: person.sid }) },
    ],
  });
}

function togglePanel(name) {
  const panel = $(`${name}-panel`);
  const open = panel.hidden;
  for (const other of ['people', 'chat']) {
    $(`${other}-panel`).hidden = other !== name || !open;
    $(`${other}-button`).setAttribute('aria-pressed', String(other === name && open));
  }
  if (name === 'chat' && open) {
    page.chat.markRead();
    $('chat-text').focus();
  } else if (open) {
    $('people-title').setAttribute('tabindex', '-1');
    $('people-title').focus();
  }
  renderMeeting();
}

function renderMeeting() {
  const meeting = page.meeting;
  if (!meeting || page.phase !== 'meeting') return;
  const media = meeting.media;
  setToggle($('mic-button'), media.micEnabled, 'Mute', 'Unmute', media.micAvailable);
  setToggle($('camera-button'), media.cameraEnabled, 'Stop video', 'Start video', media.cameraAvailable);
  const mayUnmute = meeting.permissions().speak;
  $('mic-button').classList.toggle('locked', !media.micEnabled && !mayUnmute);
  $('mic-hint').textContent = !media.micEnabled && !mayUnmute
    ? "You can't unmute: raise your hand to ask the host."
    : '';
  const raised = meeting.hand() !== null;
  $('hand-button').setAttribute('aria-pressed', String(raised));
  $('hand-button').querySelector('.label').textContent = raised ? 'Lower hand' : 'Raise hand';
  const sharing = Boolean(meeting.screenTrack);
  const mayShare = meeting.permissions().screen_share && Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  $('share-button').setAttribute('aria-pressed', String(sharing));
  $('share-button').querySelector('.label').textContent = sharing ? 'Stop sharing' : 'Share screen';
  $('share-button').disabled = !sharing && !mayShare;
  $('share-button').title = !sharing && !mayShare ? 'The host has not allowed you to share your screen' : '';
  page.people.render(meeting);
  page.chat.render(meeting);
  const conn = meeting.connection();
  $('connection').dataset.state = conn.state;
  $('connection-text').textContent = conn.text;
  page.grid.render(meeting);
}

function showBanner(text) {
  const banner = $('banner');
  banner.textContent = text;
  banner.hidden = false;
  clearTimeout(page.bannerTimer);
  page.bannerTimer = setTimeout(() => { banner.hidden = true; }, BANNER_MS);
}

function onEnded({ reason, message }) {
  page.grid.clear();
  page.toasts.clear();
  $('people-panel').hidden = true;
  $('chat-panel').hidden = true;
  if (page.media) page.media.stop();
  page.meeting = null;
  if (reason === 'left') showEnded('You left the meeting', '');
  else showEnded('The meeting ended for you', message);
}

async function guarded(action) {
  try {
    await action();
  } catch (err) {
    showBanner(err && err.message ? err.message : String(err));
  }
}

// ---- wiring ---------------------------------------------------------------------------

function wire() {
  $('prejoin-form').addEventListener('submit', onJoinSubmit);
  $('display-name').addEventListener('input', () => {
    $('display-name').removeAttribute('aria-invalid');
    prejoinProblem('');
  });
  $('prejoin-mic').addEventListener('click', () => page.media.setMicEnabled(!page.media.micEnabled));
  $('prejoin-camera').addEventListener('click', () => guarded(async () => {
    await page.media.setCameraEnabled(!page.media.cameraEnabled);
  }));
  $('mic-button').addEventListener('click', () => guarded(() => page.meeting.toggleMic()));
  $('camera-button').addEventListener('click', () => guarded(() => page.meeting.toggleCamera()));
  $('leave-button').addEventListener('click', () => guarded(() => page.meeting.leave()));
  $('waiting-leave').addEventListener('click', () => guarded(() => (page.pending ? page.pending.leave() : undefined)));
  $('hand-button').addEventListener('click', () => {
    if (page.meeting) page.meeting.raiseHand(page.meeting.hand() === null);
  });
  $('share-button').addEventListener('click', () => guarded(async () => {
    if (!page.meeting) return;
    if (page.meeting.screenTrack) await page.meeting.stopScreenShare();
    else await page.meeting.startScreenShare();
  }));
  $('people-button').addEventListener('click', () => togglePanel('people'));
  $('chat-button').addEventListener('click', () => togglePanel('chat'));
  $('people-close').addEventListener('click', () => { togglePanel('people'); $('people-button').focus(); });
  $('chat-close').addEventListener('click', () => { togglePanel('chat'); $('chat-button').focus(); });
  $('sound-button').addEventListener('click', () => {
    if (page.grid.resumeAudio()) $('sound-button').hidden = true;
  });
  page.grid.addEventListener('audio-blocked', () => { $('sound-button').hidden = false; });
  $('invite-button').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(guestLink(page.room));
      showBanner('Invite link copied.');
    } catch {
      showBanner(`Invite link: ${guestLink(page.room)}`);
    }
  });
  $('rejoin-button').addEventListener('click', async () => {
    show('prejoin');
    $('display-name').focus();
    await startPreview();
  });
  document.addEventListener('keydown', (event) => {
    if (page.phase !== 'meeting' || !event.ctrlKey || event.altKey || event.shiftKey) return;
    const key = event.key.toLowerCase();
    if (key === 'd') {
      event.preventDefault();
      guarded(() => page.meeting.toggleMic());
    } else if (key === 'e') {
      event.preventDefault();
      guarded(() => page.meeting.toggleCamera());
    }
  });
  // Closing the tab: say goodbye so the others see us leave at once, not after a timeout.
  window.addEventListener('pagehide', () => {
    const meeting = page.meeting || page.pending;
    if (meeting) meeting.signal.send({ type: 'leave' });
  });
}

function main() {
  installDebug(() => page.meeting || page.pending, () => page.grid, () => page.phase, {
    toasts: () => page.toasts.texts(),
    chimes: () => page.chime.played,
  });
  if (!page.room) {
    showEnded('This meeting link is not valid', 'Check the link you were given, or start a new meeting.', false);
    return;
  }
  const fragment = takeFragment();
  const { token, fromStorage } = loadToken(fragment.token);
  page.token = token;
  page.tokenFromStorage = fromStorage;
  document.title = `${page.room} — Sparkle`;
  $('prejoin-room').textContent = page.room;
  $('display-name').value = fragment.name || rememberedName();
  wire();
  show('prejoin');
  $('display-name').focus();
  startPreview();
}

main();
