"""Live captions, the transcription control and the meeting summary (issue 5) through two real
Chromium participants, driven by clicking the UI.

The server runs with ``transcriber_workers = "remote"`` and the test itself is the
transcriber, a real client of the public API (as in tests/integration/test_transcription.py):
it claims the job over HTTP with the API key, joins with the token it got and sends
``caption`` messages naming the guest's microphone track. So what is checked here is the
browser side: the host presses Transcribe, both pages show "Transcribing" and the guest is
told who turned it on (also when it comes back in after a reload); the caption appears on
both pages as "Bob Builder: ..."; CC off hides the captions on that page only (and is
remembered across the reload); the host stops transcription, the summary
link appears, and the summary page, opened from it in a new tab with the token in the
fragment, shows the action item that came from the guest's caption with the guest as owner.
The host confirms it and rewrites its task in place, and the API has both changes; the guest's
summary page shows the same item read-only; a transcript download and a search work.

Participants enter with API-minted tokens in the link's fragment; the host's has room_admin.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp

from tests.conftest import RunningServer, ServerFactory
from tests.support.browser import Browsers, Participant, eventually
from tests.support.ws_client import WsClient

ROOM = "captions-test"
CLAIM = "/api/v1/transcriber/jobs/claim?wait=5"
EVENT_TIMEOUT_S = 10
MEDIA_TIMEOUT_S = 20
# The server waits for the transcriber to leave, then makes the action items.
SUMMARY_TIMEOUT_S = 20
DOWNLOAD_TIMEOUT_MS = 10_000
PROMISE = "I will send the report by tomorrow."
REPLY = "Thanks Bob, that sounds good."
NEW_TASK = "Send the quarterly report to Ada"

# What the caption overlay shows: its lines, and whether it is on screen at all.
CAPTIONS = """
() => {
  const el = document.getElementById('captions');
  return {
    shown: !el.hidden && el.getClientRects().length > 0,
    lines: [...el.querySelectorAll('.caption-line')].map((line) => line.textContent),
  };
}
"""

# The meeting bar's transcription indicator: its text, or null while hidden.
INDICATOR = """
() => {
  const el = document.getElementById('transcription-indicator');
  if (el.hidden || !el.getClientRects().length) return null;
  return el.textContent.replace(/\\s+/g, ' ').trim();
}
"""

# The summary page's action items as drawn: editable fields for hosts, text for the others.
ITEMS = """
() => [...document.querySelectorAll('#action-items > li')].map((li) => {
  const field = (cls) => li.querySelector(cls);
  return {
    id: Number(li.dataset.item),
    confirmed: li.dataset.confirmed === 'true',
    task: field('.ai-task') ? field('.ai-task').value : field('.action-task').textContent,
    owner: field('.ai-owner') ? field('.ai-owner').value : null,
    ownerText: field('.ai-owner')
      ? field('.ai-owner').selectedOptions[0].textContent : field('.action-meta').textContent,
    due: field('.ai-due') ? field('.ai-due').value : null,
    quote: field('.action-quote').textContent,
    status: field('.action-status') ? field('.action-status').textContent : null,
    editable: Boolean(field('.ai-task')),
  };
})
"""

TRANSCRIPT = """
() => [...document.querySelectorAll('#transcript > li')].map((li) => ({
  id: li.id,
  time: li.querySelector('.time').textContent,
  speaker: li.querySelector('.speaker').textContent,
  text: li.querySelector('.segment-text .text').textContent,
}))
"""


def _identity(name: str) -> str:
    return name.lower().replace(" ", "-")


async def _link(
    http: aiohttp.ClientSession, server: RunningServer, name: str, *, host: bool
) -> str:
    async with http.post(
        server.url(f"/api/v1/rooms/{ROOM}/tokens"),
        json={"identity": _identity(name), "name": name, "host": host},
        headers=server.auth_headers,
    ) as response:
        assert response.status == 200, await response.text()
        token = (await response.json())["token"]
    return server.url(f"/r/{ROOM}#" + urlencode({"token": token, "name": name}))


async def _state(p: Participant) -> dict[str, Any]:
    state: dict[str, Any] = await p.debug("state")
    return state


async def _captions(p: Participant) -> dict[str, Any]:
    shown: dict[str, Any] = await p.page.evaluate(CAPTIONS)
    return shown


async def _indicator(p: Participant) -> str | None:
    text: str | None = await p.page.evaluate(INDICATOR)
    return text


async def _microphone(p: Participant, owner_sid: str) -> str:
    """The sid of ``owner_sid``'s microphone track, once ``p`` knows it."""
    state = await p.until(
        f"{p.name} to see the microphone of {owner_sid}",
        functools.partial(_state, p),
        ready=lambda s: any(
            t["participant_sid"] == owner_sid and t["source"] == "microphone" for t in s["tracks"]
        ),
        within=MEDIA_TIMEOUT_S,
    )
    return next(
        str(t["sid"])
        for t in state["tracks"]
        if t["participant_sid"] == owner_sid and t["source"] == "microphone"
    )


async def _api_items(
    http: aiohttp.ClientSession, server: RunningServer, meeting_id: str
) -> dict[str, Any]:
    async with http.get(
        server.url(f"/api/v1/meetings/{meeting_id}/action-items"), headers=server.auth_headers
    ) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
    return body


async def _open_summary(p: Participant, meeting_id: str) -> Any:
    """Clicks the meeting bar's summary link; the summary page that opens in a new tab."""
    link = p.page.locator("#summary-link")
    await link.wait_for(state="visible", timeout=SUMMARY_TIMEOUT_S * 1000)
    async with p.page.context.expect_page(timeout=EVENT_TIMEOUT_S * 1000) as opened:
        await link.click()
    summary = await opened.value
    summary.set_default_timeout(15_000)
    summary.on("console", lambda msg: p.console.append(f"[summary {msg.type}] {msg.text}"))
    summary.on("pageerror", lambda err: p.console.append(f"[summary pageerror] {err}"))
    await summary.wait_for_load_state()
    # The token went from the fragment into this tab's sessionStorage, out of the address bar.
    assert summary.url == p.page.url.split("/r/")[0] + f"/meetings/{meeting_id}", summary.url
    kept = await summary.evaluate("() => sessionStorage.getItem('sparkle.summary.token')")
    assert kept and kept.count(".") == 2
    return summary


async def _until_page(what: str, page: Any, script: str, ready: Any, p: Participant) -> Any:
    async def probe() -> Any:
        return await asyncio.wait_for(page.evaluate(script), timeout=10)

    return await eventually(what, probe, ready=ready, within=EVENT_TIMEOUT_S, participants=(p,))


async def test_captions_transcription_and_the_summary_page(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    server = await server_factory(transcriber_workers="remote")
    async with http.post(
        server.url("/api/v1/rooms"), json={"name": ROOM}, headers=server.auth_headers
    ) as response:
        assert response.status == 201, await response.text()
    host, guest = await asyncio.gather(
        browsers.launch("Ada Lovelace"), browsers.launch("Bob Builder")
    )
    both = (host, guest)
    host_link = await _link(http, server, host.name, host=True)
    await host.open_link(host_link)
    await host.join()
    await guest.open_link(await _link(http, server, guest.name, host=False))
    await guest.join()
    host_sid = (await _state(host))["self"]["sid"]
    guest_sid = (await _state(guest))["self"]["sid"]
    guest_mic = await _microphone(host, guest_sid)
    host_mic = await _microphone(guest, host_sid)

    # Only the host may transcribe; everyone has the CC toggle, on by default.
    transcribe = host.page.locator("#transcribe-button")
    assert await transcribe.is_visible() and await transcribe.inner_text() == "Transcribe"
    assert await guest.page.locator("#transcribe-button").is_hidden()
    for p in both:
        assert await _indicator(p) is None
        cc = p.page.locator("#captions-button")
        assert await cc.is_visible() and await cc.get_attribute("aria-pressed") == "true"

    # The host turns transcription on: both pages say so; the guest is told who did it.
    await transcribe.click()
    for p in both:
        await p.until(
            f"{p.name}'s Transcribing indicator",
            functools.partial(_indicator, p),
            ready=lambda text: text is not None and "Transcribing" in text,
            within=EVENT_TIMEOUT_S,
        )
    await guest.until(
        "the guest's transcription notice naming the host",
        functools.partial(_state, guest),
        ready=lambda s: any(
            t.startswith("Ada Lovelace turned on transcription") for t in s["toasts"]
        ),
        within=EVENT_TIMEOUT_S,
    )
    await host.page.wait_for_selector(
        '#transcribe-button[aria-pressed="true"]:not([disabled])', timeout=5000
    )
    assert await transcribe.inner_text() == "Stop transcribing"

    # The test plays the transcriber: claim the job, join, caption the guest's microphone.
    async with http.post(server.url(CLAIM), headers=server.auth_headers) as response:
        assert response.status == 200, await response.text()
        job = await response.json()
    assert job["room"] == ROOM
    meeting_id: str = job["meeting_id"]
    async with WsClient.connect(server.base_url, session=http) as worker:
        await worker.join(job["token"])
        said_at = datetime.datetime.now(tz=datetime.UTC).timestamp()
        await worker.send(
            "caption", track=guest_mic, start=said_at, end=said_at + 1.8, text=PROMISE
        )
        expected = f"{guest.name}: {PROMISE}"
        for p in both:
            await p.until(
                f"{p.name} to show the guest's caption",
                functools.partial(_captions, p),
                ready=lambda c: c["shown"] and c["lines"] == [expected],
                within=EVENT_TIMEOUT_S,
            )

        # A summary page opened while it runs: the transcript so far, the items still to come.
        early = await host.page.context.new_page()
        host_token = parse_qs(urlsplit(host_link).fragment)["token"][0]
        await early.goto(server.url(f"/meetings/{meeting_id}#" + urlencode({"token": host_token})))
        await _until_page(
            "the early summary page to wait for the action items",
            early,
            "() => [document.getElementById('actions-state').textContent,"
            " document.querySelectorAll('#transcript > li').length]",
            lambda shown: shown[0].startswith("Finding the action items") and shown[1] == 1,
            host,
        )

        # CC off on the guest's page: its captions go, the host's stay; the choice is kept.
        await guest.page.click("#captions-button")
        assert await guest.page.locator("#captions-button").get_attribute("aria-pressed") == "false"
        assert not (await _captions(guest))["shown"]
        assert await guest.page.evaluate("() => localStorage.getItem('sparkle.captions')") == "off"

        # The guest reloads and comes back in: told at once (`joined`), CC still off.
        await guest.page.reload()
        await guest.join()
        await guest.until(
            "the returning guest's indicator and notice",
            functools.partial(_state, guest),
            ready=lambda s: any(
                t.startswith("Ada Lovelace turned on transcription") for t in s["toasts"]
            ),
            within=EVENT_TIMEOUT_S,
        )
        assert await _indicator(guest) == "CC Transcribing"
        assert await guest.page.locator("#captions-button").get_attribute("aria-pressed") == "false"
        await worker.send("caption", track=host_mic, start=said_at + 2, end=said_at + 3, text=REPLY)
        reply = f"{host.name}: {REPLY}"
        await host.until(
            "the host to show both captions, newest last",
            functools.partial(_captions, host),
            ready=lambda c: c["shown"] and c["lines"] == [expected, reply],
            within=EVENT_TIMEOUT_S,
        )
        shown = await guest.until(
            "the guest's page to have received the reply",
            functools.partial(_captions, guest),
            ready=lambda c: c["lines"] == [reply],
            within=EVENT_TIMEOUT_S,
        )
        assert not shown["shown"]
        await guest.page.click("#captions-button")  # and on again: the recent line is there
        assert await _captions(guest) == {"shown": True, "lines": [reply]}

        # The host stops it: the transcriber is told and leaves; the indicator goes everywhere.
        await transcribe.click()
        off = await worker.wait_for("transcription", EVENT_TIMEOUT_S)
        assert off["state"] == "off", off
        await worker.send("leave")
    for p in both:
        await p.until(
            f"{p.name}'s indicator to go and the stop to be told",
            functools.partial(_state, p),
            ready=lambda s: "Transcription has stopped." in s["toasts"],
            within=EVENT_TIMEOUT_S,
        )
        assert await _indicator(p) is None
    assert await transcribe.inner_text() == "Transcribe"

    # The summary is ready: everyone gets the link; the host opens it in a new tab.
    for p in both:
        await p.until(
            f"{p.name} to be told the summary is ready",
            functools.partial(_state, p),
            ready=lambda s: any(t.startswith("The meeting summary is ready") for t in s["toasts"]),
            within=SUMMARY_TIMEOUT_S,
        )
    # The early page polled and now shows the item without a reload.
    await _until_page(
        "the early summary page to show the action item",
        early,
        "() => [...document.querySelectorAll('#action-items .ai-task')].map((i) => i.value)",
        lambda tasks: len(tasks) == 1 and "report" in tasks[0],
        host,
    )
    await early.close()
    summary = await _open_summary(host, meeting_id)
    api = (await _api_items(http, server, meeting_id))["items"]
    assert len(api) == 1, api
    items = await _until_page(
        "the host's summary to show the action item",
        summary,
        ITEMS,
        lambda items: len(items) == 1,
        host,
    )
    item = items[0]
    assert item["editable"] and item["id"] == api[0]["id"]
    assert item["owner"] == _identity(guest.name) and item["ownerText"] == guest.name
    assert item["due"] and item["due"] == api[0]["due"], (item, api[0])
    tomorrow = datetime.date.fromtimestamp(said_at) + datetime.timedelta(days=1)
    assert abs((datetime.date.fromisoformat(item["due"]) - tomorrow).days) <= 1
    assert PROMISE in item["quote"] and "at 00:00:" in item["quote"], item
    assert not item["confirmed"]
    lines = await summary.evaluate(TRANSCRIPT)
    assert [(line["speaker"], line["text"]) for line in lines] == [
        (guest.name, PROMISE),
        (host.name, REPLY),
    ]
    assert all(line["time"].startswith("00:") for line in lines), lines
    assert await summary.locator("#add-item-form").is_visible()

    # The host confirms it and rewrites its task, in place.
    row = summary.locator(f'#action-items > li[data-item="{item["id"]}"]')
    await row.locator(".ai-confirm").check()
    await _until_page(
        "the confirmation to be saved",
        summary,
        ITEMS,
        lambda items: items[0]["confirmed"] and items[0]["status"] == "Saved.",
        host,
    )
    await row.locator(".ai-task").fill(NEW_TASK)
    await row.locator(".ai-task").press("Tab")
    await _until_page(
        "the new task to be saved",
        summary,
        ITEMS,
        lambda items: items[0]["task"] == NEW_TASK and items[0]["status"] == "Saved.",
        host,
    )
    changed = (await _api_items(http, server, meeting_id))["items"][0]
    assert changed["confirmed"] is True and changed["task"] == NEW_TASK, changed
    assert changed["owner"] == _identity(guest.name) and changed["edited"] is True

    # A transcript download through the page (bearer token, then a blob).
    async with summary.expect_download(timeout=DOWNLOAD_TIMEOUT_MS) as download_info:
        await summary.click('.downloads button[data-format="vtt"]')
    download = await download_info.value
    assert download.suggested_filename.endswith(".vtt")
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    vtt = saved.read_text()
    assert vtt.startswith("WEBVTT") and "report" in vtt

    # Search over this host's transcripts links to the line.
    await summary.fill("#search-query", "repo")
    await summary.click("#search-button")
    hit = await _until_page(
        "a search hit",
        summary,
        "() => [...document.querySelectorAll('#search-results a')].map((a) =>"
        " ({href: a.getAttribute('href'), mark: a.querySelector('mark')?.textContent}))",
        lambda hits: len(hits) == 1,
        host,
    )
    segment = lines[0]["id"]
    assert hit[0] == {"href": f"/meetings/{meeting_id}#{segment}", "mark": "report"}, hit

    # The guest's summary: the same item, changed, read-only.
    guest_summary = await _open_summary(guest, meeting_id)
    seen = await _until_page(
        "the guest's summary to show the item",
        guest_summary,
        ITEMS,
        lambda items: len(items) == 1,
        guest,
    )
    assert not seen[0]["editable"] and seen[0]["task"] == NEW_TASK and seen[0]["confirmed"]
    assert guest.name in seen[0]["ownerText"]
    assert await guest_summary.locator("#add-item-form").is_hidden()

    # The captions have faded by now (each line lasts a few seconds).
    await host.until(
        "the host's captions to fade",
        functools.partial(_captions, host),
        ready=lambda c: not c["shown"] and c["lines"] == [],
        within=EVENT_TIMEOUT_S,
    )
    for p in both:
        assert (await _state(p))["notices"] == [], p.name
