// The page a recording's share link opens (/recordings/<id>#link=<id>.<secret>). The secret
// stays in the fragment (never sent to a server, never in a log) and goes to the API in the
// X-Sparkle-Link header; a password, when the link has one, in X-Sparkle-Link-Password.
import { formatSize, saveBlob } from './download.js';

const $ = (id) => document.getElementById(id);
const recordingId = decodeURIComponent(location.pathname.split('/').pop() || '');
const link = new URLSearchParams(location.hash.slice(1)).get('link') || '';
history.replaceState(null, '', location.pathname);
let password = null;

function headers() {
  const h = { 'X-Sparkle-Link': link };
  if (password !== null) h['X-Sparkle-Link-Password'] = password;
  return h;
}

function say(text) {
  $('recording-message').textContent = text;
}

async function errorOf(response) {
  try {
    const body = await response.json();
    return body.error || { code: 'error', message: response.statusText };
  } catch {
    return { code: 'error', message: response.statusText };
  }
}

async function load() {
  if (!link) {
    say('This link is incomplete: ask for the whole link again.');
    return;
  }
  const response = await fetch(`/api/v1/recordings/${encodeURIComponent(recordingId)}`, { headers: headers() });
  if (!response.ok) {
    const error = await errorOf(response);
    if (error.code === 'password_required') {
      $('password-form').hidden = false;
      $('link-password').focus();
      say('');
      return;
    }
    say(error.code === 'invalid_token' ? 'This link is invalid or has expired, or the password is wrong.' : error.message);
    if (password !== null) $('password-form').hidden = false;
    return;
  }
  $('password-form').hidden = true;
  show(await response.json());
}

function show(recording) {
  const started = new Date(recording.started_at * 1000);
  say(`Recorded ${started.toLocaleString()}${recording.state === 'failed' ? ' (ended early)' : ''}.`);
  const list = $('recording-files');
  list.replaceChildren();
  for (const file of recording.files) {
    if (!/\.(webm|mkv|ogg|mp4)$/.test(file.name)) continue;
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = `Download ${file.name} (${formatSize(file.size)})`;
    button.addEventListener('click', () => download(recording.id, file.name, button));
    item.append(button);
    list.append(item);
  }
}

async function download(id, name, button) {
  button.disabled = true;
  try {
    const url = `/api/v1/recordings/${encodeURIComponent(id)}/files/${encodeURIComponent(name)}`;
    const response = await fetch(url, { headers: headers() });
    if (!response.ok) throw new Error((await errorOf(response)).message);
    saveBlob(await response.blob(), name);
  } catch (err) {
    say(`The download failed: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

$('password-form').addEventListener('submit', (event) => {
  event.preventDefault();
  password = $('link-password').value;
  load();
});

window.sparkleRecordingPage = { load };
load();
