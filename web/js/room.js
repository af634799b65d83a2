// The meeting page (/r/<room>): the pre-join screen (prejoin.js), then the meeting, then the
// "ended" screen. Also /embed/<room>, framed by an integrator's page (embed-bridge.js).
import { Captions } from './captions.js';
import { ChatPanel } from './chat.js';
import { Chime } from './chime.js';
import { installDebug } from './debug.js';
import { EmbedBridge, embedOrigins, embedRoom } from './embed-bridge.js';
import { FramingButton } from './framing.js';
import { Grid } from './grid.js';
import { guestLink, roomFromPath, takeFragment } from './links.js';
import { rememberedName } from './names.js';
import { PeoplePanel } from './people-panel.js';
import { Prejoin } from './prejoin.js';
import { consentText, indicatorText } from './recording.js';
import { RecordingsPanel } from './recordings-panel.js';
import { SessionToken } from './session-token.js';
import { setToggle } from './toggle-button.js';
import { Toasts } from './toasts.js';
import { TranscriptionView } from './transcription.js';

const $ = (id) => document.getElementById(id);
const BANNER_MS = 8000;

const page = {
  phase: 'prejoin', // prejoin | joining | waiting | meeting | ended
  room: roomFromPath() || embedRoom(),
  embed: null, // EmbedBridge on /embed/<room>
  meeting: null,
  prejoin: null,
  grid: new Grid($('grid'), $('audio-sink')),
  toasts: new Toasts($('toasts')),
  chime: new Chime(),
  people: null,
  chat: null,
  recordings: null,
  captions: new Captions($('captions'), $('captions-button')),
  transcription: null,
  framing: new FramingButton($('framing-button')),
  bannerTimer: 0,
};
page.people = new PeoplePanel($, (text) => page.toasts.show(text));
page.chat = new ChatPanel($, (text) => page.toasts.show(text));
page.recordings = new RecordingsPanel($, (text) => page.toasts.show(text));
page.transcription = new TranscriptionView($, page.toasts);
page.prejoin = new Prejoin($, page.room, new SessionToken(page.room), {
  phase: () => page.phase,
  show,
  showEnded,
  enter: enterMeeting,
  renderMeeting,
  guarded,
});

// ---- views ----------------------------------------------------------------------------

function show(phase) {
  page.phase = phase;
  $('prejoin').hidden = !(phase === 'prejoin' || phase === 'joining' || phase === 'waiting');
  $('join-card').hidden = phase === 'waiting';
  $('waiting-card').hidden = phase !== 'waiting';
  $('meeting').hidden = phase !== 'meeting';
  $('ended').hidden = phase !== 'ended';
  if (page.embed) page.embed.phaseChanged(phase);
}

function showEnded(title, text, canRejoin = true) {
  $('ended-title').textContent = title;
  $('ended-text').textContent = text;
  $('rejoin-button').hidden = !canRejoin;
  show('ended');
  if (canRejoin) $('rejoin-button').focus();
}

// ---- meeting --------------------------------------------------------------------------

function enterMeeting(meeting, token) {
  page.meeting = meeting;
  page.prejoin.entered();
  page.toasts.clear();
  page.chat.start(meeting, page.room, token);
  page.recordings.start(page.room, token);
  meeting.addEventListener('change', () => renderMeeting());
  meeting.addEventListener('notice', (e) => showBanner(e.detail.message));
  meeting.addEventListener('alert', (e) => page.toasts.show(e.detail.message, { kind: e.detail.code }));
  meeting.addEventListener('knock', (e) => onKnock(e.detail));
  meeting.addEventListener('lobby-left', (e) => page.toasts.dismiss(`knock:${e.detail.sid}`));
  meeting.addEventListener('chat', (e) => page.chat.add(e.detail));
  meeting.addEventListener('recording', (e) => onRecording(e.detail));
  meeting.addEventListener('transcription', (e) => page.transcription.changed(e.detail));
  meeting.addEventListener('caption', (e) => page.captions.add(e.detail));
  meeting.addEventListener('summary', (e) => page.transcription.summaryReady(e.detail.meeting_id));
  meeting.addEventListener('ended', (e) => onEnded(e.detail));
  $('meeting-room').textContent = page.room;
  show('meeting');
  renderMeeting();
  // Joining a meeting that is being recorded: told before anything else.
  if (meeting.recording) showConsent(meeting.recording);
  // Embedded, the token stays out of every URL, the summary link's fragment included.
  page.transcription.start(meeting, page.embed ? null : token);
  // A host who arrives while people wait hears about them at once.
  if (meeting.lobby.size) page.chime.play();
  $('mic-button').focus();
  if (page.embed) page.embed.entered(meeting);
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

/**
 * The consent notice: everyone is told that the meeting is being recorded, and by whom. It
 * stays until dismissed (or the recording ends), so nobody misses it behind other notices.
 */
function showConsent(recording) {
  const meeting = page.meeting;
  const selfSid = meeting && meeting.self ? meeting.self.sid : null;
  const ours = recording.by && recording.by.sid === selfSid;
  page.toasts.show(consentText(recording, selfSid), { key: 'recording', kind: 'recording', timeoutMs: ours ? undefined : 0 });
}

/** The room's recording started, paused, resumed, stopped or failed. */
function onRecording({ previous, current, wire }) {
  if (current && (!previous || previous.id !== current.id)) {
    showConsent(current);
  } else if (!current && previous) {
    const failed = wire.state === 'failed';
    page.toasts.show(failed ? 'The recording failed and has stopped.' : 'The recording has stopped.', {
      key: 'recording',
      kind: failed ? 'recording-failed' : 'recording',
    });
  }
  // Pausing and resuming are announced by the indicator (a status region).
  page.recordings.recordingChanged(wire);
}

function renderRecording(meeting) {
  const recording = meeting.recording;
  const host = meeting.isHost();
  const indicator = $('recording-indicator');
  indicator.hidden = !recording;
  indicator.dataset.state = recording ? recording.state : 'none';
  $('recording-text').textContent = indicatorText(recording);
  const record = $('record-button');
  record.hidden = !host;
  record.setAttribute('aria-pressed', String(Boolean(recording)));
  record.querySelector('.label').textContent = recording ? 'Stop recording' : 'Record';
  record.disabled = meeting.recordingPending;
  const paused = Boolean(recording) && recording.state === 'paused';
  const pause = $('record-pause-button');
  pause.hidden = !host || !recording;
  pause.setAttribute('aria-pressed', String(paused));
  pause.querySelector('.label').textContent = paused ? 'Resume recording' : 'Pause recording';
  pause.disabled = meeting.recordingPending;
  page.recordings.render(meeting);
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
    page.recordings.refresh();
  }
  renderMeeting();
}

function renderMeeting() {
  const meeting = page.meeting;
  if (!meeting || page.phase !== 'meeting') return;
  const media = meeting.media;
  setToggle($('mic-button'), media.micEnabled, 'Mute', 'Unmute', media.micAvailable);
  setToggle($('camera-button'), media.cameraEnabled, 'Stop video', 'Start video', media.cameraAvailable);
  page.framing.render(meeting);
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
  renderRecording(meeting);
  page.transcription.render(meeting);
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
  page.captions.clear();
  page.transcription.ended();
  $('people-panel').hidden = true;
  $('chat-panel').hidden = true;
  if (page.prejoin.media) page.prejoin.media.stop();
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
  page.prejoin.wire();
  $('mic-button').addEventListener('click', () => guarded(() => page.meeting.toggleMic()));
  $('camera-button').addEventListener('click', () => guarded(() => page.meeting.toggleCamera()));
  $('leave-button').addEventListener('click', () => guarded(() => page.meeting.leave()));
  $('hand-button').addEventListener('click', () => {
    if (page.meeting) page.meeting.raiseHand(page.meeting.hand() === null);
  });
  $('share-button').addEventListener('click', () => guarded(async () => {
    if (!page.meeting) return;
    if (page.meeting.screenTrack) await page.meeting.stopScreenShare();
    else await page.meeting.startScreenShare();
  }));
  $('record-button').addEventListener('click', () => {
    const meeting = page.meeting;
    if (!meeting) return;
    if (meeting.recordingCommand(meeting.recording ? 'stop' : 'start') === null) showBanner('Not connected to the meeting.');
  });
  $('record-pause-button').addEventListener('click', () => {
    const meeting = page.meeting;
    if (!meeting || !meeting.recording) return;
    const action = meeting.recording.state === 'paused' ? 'resume' : 'pause';
    if (meeting.recordingCommand(action) === null) showBanner('Not connected to the meeting.');
  });
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
    await page.prejoin.startPreview();
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
    const meeting = page.meeting || page.prejoin.pending;
    if (meeting) meeting.signal.send({ type: 'leave' });
  });
}

function main() {
  installDebug(() => page.meeting || page.prejoin.pending, () => page.grid, () => page.phase, {
    toasts: () => page.toasts.texts(),
    chimes: () => page.chime.played,
  });
  if (!page.room) {
    showEnded('This meeting link is not valid', 'Check the link you were given, or start a new meeting.', false);
    return;
  }
  const origins = embedOrigins();
  if (origins && window.parent === window) {
    showEnded('This page is meant to be embedded', 'Open the meeting from the site that embeds it.', false);
    return;
  }
  if (origins) {
    page.embed = new EmbedBridge(origins, {
      $,
      room: page.room,
      phase: () => page.phase,
      meeting: () => page.meeting,
      prejoin: page.prejoin,
      captions: page.captions,
      toggleChat: () => togglePanel('chat'),
    });
  }
  // Embedded, the token and name come from the embedding page (embed-bridge.js).
  const fragment = origins ? { token: null, name: null } : takeFragment();
  if (!origins) page.prejoin.token.load(fragment.token);
  document.title = `${page.room} — Sparkle`;
  $('prejoin-room').textContent = page.room;
  $('display-name').value = fragment.name || rememberedName();
  wire();
  show('prejoin');
  $('display-name').focus();
  page.prejoin.startPreview();
  if (page.embed) page.embed.start();
}

main();
