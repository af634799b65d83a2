// The meeting page (/r/<room>): pre-join screen, then the meeting, then the "ended" screen.
import { ApiError, guestToken } from './api.js';
import { installDebug } from './debug.js';
import { Grid } from './grid.js';
import { guestLink, roomFromPath, takeFragment } from './links.js';
import { LocalMedia } from './media.js';
import { Meeting, MeetingError } from './meeting.js';
import { nameProblem, rememberName, rememberedName } from './names.js';

const $ = (id) => document.getElementById(id);
const BANNER_MS = 8000;

const page = {
  phase: 'prejoin', // prejoin | joining | meeting | ended
  room: roomFromPath(),
  token: null,
  tokenFromStorage: false,
  media: null,
  mediaReady: Promise.resolve(), // settles once camera and microphone were asked for
  meeting: null,
  grid: new Grid($('grid'), $('audio-sink')),
  bannerTimer: 0,
};

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
  $('prejoin').hidden = !(phase === 'prejoin' || phase === 'joining');
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
  rememberName(name);
  const button = $('join-button');
  button.disabled = true;
  button.textContent = 'Joining…';
  show('joining');
  try {
    // Join with the devices we will have, not before the browser has answered for them.
    await page.mediaReady;
    await joinAs(name);
  } catch (err) {
    show('prejoin');
    const text = err instanceof ApiError || err instanceof MeetingError ? err.message : 'Could not join the meeting.';
    if (err instanceof MeetingError && err.code === 'name_required') input.setAttribute('aria-invalid', 'true');
    prejoinProblem(text);
    console.error('sparkle: join failed', err);
  } finally {
    button.disabled = false;
    button.textContent = 'Join meeting';
  }
}

async function joinAs(name) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const token = page.token || (await guestToken(page.room, name));
    const meeting = new Meeting({ token, name, media: page.media });
    try {
      await meeting.join();
      enterMeeting(meeting);
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

function enterMeeting(meeting) {
  page.meeting = meeting;
  meeting.addEventListener('change', () => renderMeeting());
  meeting.addEventListener('notice', (e) => showBanner(e.detail.message));
  meeting.addEventListener('ended', (e) => onEnded(e.detail));
  $('meeting-room').textContent = page.room;
  show('meeting');
  renderMeeting();
  $('mic-button').focus();
}

function renderMeeting() {
  const meeting = page.meeting;
  if (!meeting || page.phase !== 'meeting') return;
  const media = meeting.media;
  setToggle($('mic-button'), media.micEnabled, 'Mute', 'Unmute', media.micAvailable);
  setToggle($('camera-button'), media.cameraEnabled, 'Stop video', 'Start video', media.cameraAvailable);
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
    if (page.meeting) page.meeting.signal.send({ type: 'leave' });
  });
}

function main() {
  installDebug(() => page.meeting, () => page.grid, () => page.phase);
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
