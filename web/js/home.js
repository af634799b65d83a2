// Home page: start a meeting (create it, show the guest link, enter as host) or join one.
import { createMeeting } from './api.js';
import { guestLink, hostEntryLink, roomFromInput } from './links.js';
import { nameProblem, rememberName, rememberedName } from './names.js';

const $ = (id) => document.getElementById(id);

function showProblem(input, messageEl, text) {
  messageEl.textContent = text;
  input.setAttribute('aria-invalid', 'true');
  input.focus();
}

function clearProblem(input, messageEl) {
  messageEl.textContent = '';
  input.removeAttribute('aria-invalid');
}

function setupCreate() {
  const form = $('create-form');
  const input = $('host-name');
  const message = $('create-message');
  const button = $('create-button');
  input.value = rememberedName();
  input.addEventListener('input', () => clearProblem(input, message));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const problem = nameProblem(input.value);
    if (problem) {
      showProblem(input, message, problem);
      return;
    }
    const name = input.value.trim();
    rememberName(name);
    button.disabled = true;
    button.textContent = 'Creating…';
    try {
      const meeting = await createMeeting(name);
      showReady(meeting, name);
    } catch (err) {
      message.textContent = err.message || 'Could not create the meeting.';
    } finally {
      button.disabled = false;
      button.textContent = 'New meeting';
    }
  });
}

function showReady(meeting, name) {
  const link = meeting.guest_url ? new URL(meeting.guest_url, location.origin).href : guestLink(meeting.room);
  $('create-card').hidden = true;
  $('join-card').hidden = true;
  $('ready-card').hidden = false;
  const linkInput = $('guest-link');
  linkInput.value = link;
  const copyMessage = $('copy-message');
  $('copy-button').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(link);
      copyMessage.textContent = 'Link copied.';
    } catch {
      linkInput.select();
      copyMessage.textContent = 'Select the link and copy it (Ctrl+C).';
    }
  });
  const enter = $('enter-button');
  enter.addEventListener('click', () => {
    location.assign(hostEntryLink(meeting.room, meeting.host_token, name));
  });
  enter.focus();
}

function setupJoin() {
  const form = $('join-form');
  const input = $('join-code');
  const message = $('join-message');
  input.addEventListener('input', () => clearProblem(input, message));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const room = roomFromInput(input.value);
    if (!room) {
      showProblem(input, message, 'Enter a meeting link or code such as abc-defg-hij.');
      return;
    }
    location.assign(`/r/${encodeURIComponent(room)}`);
  });
}

setupCreate();
setupJoin();
