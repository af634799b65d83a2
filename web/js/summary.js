// The meeting summary page (/meetings/<id>): the meeting's action items (hosts edit them),
// its transcript with downloads, and a search over this person's transcripts.
//
// Access: the room token the participant joined with, sent as a bearer header (the API's
// rule: hosts read and edit, attendees read). The meeting page links here with the token in
// the fragment (/meetings/<id>#token=...), which browsers never send to a server; it is moved
// to sessionStorage (this tab only) and removed from the address bar at once, as the room
// page does with its own link (links.js), so a reload or a link to another meeting of the same
// room (a search hit) keeps working in this tab.
import { ActionItems } from './action-items.js';
import { ApiError } from './api.js';
import { SummaryApi } from './summary-api.js';
import { TranscriptSearch } from './transcript-search.js';
import { TranscriptView, showSegment } from './transcript-view.js';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'sparkle.summary.token';
// While the action items are being made (the transcriber is still finishing), look again.
const POLL_MS = 2000;
// Failures that another try will not mend.
const FINAL = new Set(['invalid_token', 'unauthorized', 'forbidden', 'not_found']);

function meetingIdFromPath() {
  const match = /^\/meetings\/([A-Za-z0-9_-]{1,64})\/?$/.exec(location.pathname);
  return match ? match[1] : null;
}

/** The token from the fragment (kept for this tab) or kept earlier; the fragment is removed. */
function takeToken() {
  const raw = location.hash.startsWith('#') ? location.hash.slice(1) : '';
  const params = new URLSearchParams(raw);
  const fromLink = params.get('token');
  if (fromLink) {
    const segment = params.get('segment');
    const anchor = segment && /^\d+$/.test(segment) ? `#segment-${segment}` : '';
    history.replaceState(null, '', location.pathname + location.search + anchor);
    try {
      sessionStorage.setItem(TOKEN_KEY, fromLink);
    } catch {
      // Storage disabled: this page view still has it.
    }
    return fromLink;
  }
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Whether to draw the edit controls: the server says (`can_edit`, its own view of who is a
 * host, promotions included); it checks every change again anyway. */
function mayEdit(meeting) {
  return meeting.can_edit === true;
}

function say(text) {
  $('summary-message').textContent = text;
}

/** "Friday, 3 February 2031, 10:00 – 10:45 (Europe/Berlin)" in the meeting's time zone. */
function when(meeting) {
  if (!Number.isFinite(meeting.started_at)) return '';
  const zone = typeof meeting.time_zone === 'string' && meeting.time_zone ? meeting.time_zone : undefined;
  let day;
  let time;
  try {
    day = new Intl.DateTimeFormat([], { dateStyle: 'full', timeStyle: 'short', timeZone: zone });
    time = new Intl.DateTimeFormat([], { timeStyle: 'short', timeZone: zone });
  } catch {
    day = new Intl.DateTimeFormat([], { dateStyle: 'full', timeStyle: 'short' });
    time = new Intl.DateTimeFormat([], { timeStyle: 'short' });
  }
  let text = day.format(new Date(meeting.started_at * 1000));
  text += Number.isFinite(meeting.ended_at) ? ` – ${time.format(new Date(meeting.ended_at * 1000))}` : ' (under way)';
  return zone ? `${text} (${zone})` : text;
}

const page = {
  id: meetingIdFromPath(),
  token: null,
  api: null,
  meeting: null,
  items: null,
  transcript: null,
  search: null,
  timer: 0,
  shownAnchor: false,
};

function showMeeting(meeting) {
  const room = typeof meeting.room === 'string' ? meeting.room : '';
  $('summary-title').textContent = room ? `Meeting summary: ${room}` : 'Meeting summary';
  document.title = `${room || 'Meeting'} summary · Sparkle`;
  const people = (Array.isArray(meeting.participants) ? meeting.participants : [])
    .map((p) => (p && typeof p.name === 'string' ? p.name : ''))
    .filter(Boolean);
  const parts = [when(meeting)];
  if (people.length) parts.push(`With ${people.join(', ')}`);
  $('summary-meta').textContent = parts.filter(Boolean).join(' · ');
}

/** Fetches the action items and the transcript; polls again while the items are pending. */
async function refresh() {
  clearTimeout(page.timer);
  page.timer = 0;
  let pending = false;
  try {
    const [items, transcript] = await Promise.all([page.api.actionItems(page.id), page.api.transcript(page.id)]);
    page.items.show(items);
    page.transcript.show(page.meeting, transcript);
    pending = items.state === 'pending';
    say('');
    if (!page.shownAnchor && location.hash) page.shownAnchor = showSegment(location.hash);
  } catch (err) {
    say(err instanceof ApiError ? err.message : 'The summary could not be loaded.');
    if (err instanceof ApiError && FINAL.has(err.code)) return;
    pending = true; // a network hiccup: try again
  }
  if (pending) page.timer = setTimeout(refresh, POLL_MS);
}

async function load() {
  if (!page.id) {
    say('This summary link is not valid.');
    return;
  }
  page.token = takeToken();
  if (!page.token) {
    say('Open this summary from the meeting: the link there carries your access.');
    return;
  }
  page.api = new SummaryApi(page.token);
  page.transcript = new TranscriptView($, page.api, say);
  page.items = new ActionItems($, page.api, refresh);
  page.search = new TranscriptSearch($, page.api);
  try {
    page.meeting = await page.api.meeting(page.id);
  } catch (err) {
    say(err instanceof ApiError ? err.message : 'The summary could not be loaded.');
    return;
  }
  showMeeting(page.meeting);
  page.items.setup(page.meeting, mayEdit(page.meeting));
  page.search.show();
  await refresh();
}

window.addEventListener('hashchange', () => showSegment(location.hash));
window.sparkleSummary = Object.freeze({
  /** For tests: whether the first load is done and what it shows. */
  state: () => ({
    meeting: page.meeting ? page.meeting.id : null,
    items: page.items ? page.items.items.map((i) => ({ ...i })) : [],
    segments: page.transcript ? page.transcript.segments.length : 0,
    polling: Boolean(page.timer),
    message: $('summary-message').textContent,
  }),
});
load();
