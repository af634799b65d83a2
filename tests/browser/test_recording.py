"""Recording (issue 4) through two real Chromium participants, driven by clicking the UI.

The host presses Record in the toolbar; both pages show the recording indicator in the
meeting bar and the guest gets the consent notice naming the host; the host pauses (both
show "Recording paused"), resumes and stops (both are told, the indicator goes). The real
recorder worker (``python -m recorder``, started by the server) records both participants
meanwhile. The host's Recordings section in the People panel then lists the recording with
its files, one of which is downloaded through the page (bearer token, blob URL); the
server's recordings API and the worker's manifest list the same stopped recording with a
VP8 and an Opus file per participant (Opus in WebM: the worker no longer writes Ogg).

Participants enter with API-minted tokens in the link's fragment; the host's has room_admin.
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import av

from tests.conftest import RunningServer, ServerFactory
from tests.support.browser import Browsers, Participant, eventually

ROOM = "recording-test"
EVENT_TIMEOUT_S = 10
# The worker starts, joins, negotiates and writes its first packets: a few seconds.
RECORDER_TIMEOUT_S = 25
# A stopped worker closes its files and exits well within recorder_stop_timeout_s (10 s).
WORKER_STOP_S = 20
DOWNLOAD_TIMEOUT_MS = 10_000
WEBM_MAGIC = b"\x1a\x45\xdf\xa3"  # EBML header (RFC 8794 section 8)
OGG_MAGIC = b"OggS"  # capture pattern (RFC 3533 section 6)
# What the worker writes media to (recorder/worker.py SUFFIXES): WebM for VP8, and for Opus
# too since the worker stopped using Ogg (a gap in its Ogg files shifts what follows).
MEDIA_SUFFIXES = (".webm", ".mkv", ".ogg")
MAGIC = {".webm": WEBM_MAGIC, ".mkv": WEBM_MAGIC, ".ogg": OGG_MAGIC}

# What the meeting bar shows about the recording: null while the indicator is hidden.
INDICATOR = """
() => {
  const el = document.getElementById('recording-indicator');
  const text = document.getElementById('recording-text').textContent;
  return el.hidden ? null : {text, state: el.dataset.state};
}
"""

# The rows of the host's Recordings section.
RECORDING_ROWS = """
() => [...document.querySelectorAll('#recordings-list > li')].map((li) => ({
  id: li.dataset.recording,
  state: li.dataset.state,
  files: [...li.querySelectorAll('button[data-file]')].map((b) => b.dataset.file),
  visible: li.offsetParent !== null,
}))
"""


async def _link(
    http: aiohttp.ClientSession, server: RunningServer, name: str, *, host: bool
) -> str:
    async with http.post(
        server.url(f"/api/v1/rooms/{ROOM}/tokens"),
        json={"identity": name.lower().replace(" ", "-"), "name": name, "host": host},
        headers=server.auth_headers,
    ) as response:
        assert response.status == 200, await response.text()
        token = (await response.json())["token"]
    return server.url(f"/r/{ROOM}#" + urlencode({"token": token, "name": name}))


async def _state(p: Participant) -> dict[str, Any]:
    state: dict[str, Any] = await p.debug("state")
    return state


async def _indicator(p: Participant) -> dict[str, str] | None:
    shown: dict[str, str] | None = await p.page.evaluate(INDICATOR)
    return shown


async def _api_recordings(http: aiohttp.ClientSession, server: RunningServer) -> list[Any]:
    async with http.get(
        server.url(f"/api/v1/rooms/{ROOM}/recordings"), headers=server.auth_headers
    ) as response:
        assert response.status == 200, await response.text()
        recordings: list[Any] = (await response.json())["recordings"]
    return recordings


def _media_files(names: list[str]) -> list[str]:
    return [n for n in names if n.endswith(MEDIA_SUFFIXES)]


def _has_media(recording: dict[str, Any]) -> bool:
    """Both participants' camera and microphone have started to be written (4 files)."""
    written = [f["name"] for f in recording["files"] if f["size"] > 0]
    return len(_media_files(written)) >= 4


async def _manifest_tracks(
    http: aiohttp.ClientSession, server: RunningServer, recording_id: str
) -> list[dict[str, Any]]:
    """The worker's ``track`` events (recorder/manifest.py): file, kind, codec per track."""
    async with http.get(
        server.url(f"/api/v1/recordings/{recording_id}/files/manifest.jsonl"),
        headers=server.auth_headers,
    ) as response:
        assert response.status == 200, await response.text()
        lines = (await response.text()).splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    return [e for e in events if e["event"] == "track"]


def _opus_packets(path: Path) -> int:
    """Audio packets of the file's only stream, which must be Opus (PyAV, no decoding)."""
    with av.open(str(path)) as container:
        streams = container.streams
        assert [s.type for s in streams] == ["audio"], streams
        assert streams[0].codec_context.name == "opus"
        return sum(1 for packet in container.demux(streams[0]) if packet.size > 0)


async def _everyone_sees(
    both: tuple[Participant, Participant], state: str, text: str, recording_id: str | None
) -> None:
    """Both pages' state and meeting bar show the recording as ``state`` with ``text``."""
    for p in both:
        s = await p.until(
            f"{p.name} to see the recording {state}",
            functools.partial(_state, p),
            ready=lambda s: s["recording"] is not None and s["recording"]["state"] == state,
            within=EVENT_TIMEOUT_S,
        )
        if recording_id is not None:
            assert s["recording"]["id"] == recording_id
        shown = await p.until(
            f"{p.name}'s indicator to say {text!r}",
            functools.partial(_indicator, p),
            ready=lambda i: i is not None and i["text"] == text,
            within=EVENT_TIMEOUT_S,
        )
        assert shown is not None and shown["state"] == state
        assert await p.page.locator("#recording-indicator").is_visible()


async def test_host_records_pauses_resumes_and_stops(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    server = await server_factory()
    async with http.post(
        server.url("/api/v1/rooms"), json={"name": ROOM}, headers=server.auth_headers
    ) as response:
        assert response.status == 201, await response.text()
    host, guest = await asyncio.gather(
        browsers.launch("Ada Lovelace"), browsers.launch("Bob Builder")
    )
    both = (host, guest)
    await host.open_link(await _link(http, server, host.name, host=True))
    await host.join()
    await guest.open_link(await _link(http, server, guest.name, host=False))
    await guest.join()

    # Nothing records yet; only the host has the controls and the Recordings section.
    for p in both:
        assert (await _state(p))["recording"] is None
        assert await _indicator(p) is None
    record = host.page.locator("#record-button")
    pause = host.page.locator("#record-pause-button")
    assert await record.is_visible() and await record.inner_text() == "Record"
    assert await record.get_attribute("aria-pressed") == "false"
    assert await pause.is_hidden()
    assert await guest.page.locator("#record-button").is_hidden()
    assert await guest.page.locator("#record-pause-button").is_hidden()
    await guest.page.click("#people-button")
    assert await guest.page.locator("#recordings-section").is_hidden()

    # The host starts recording: everyone sees it, the guest is told who records.
    await record.click()
    state = await host.until(
        "the recording to start",
        lambda: _state(host),
        ready=lambda s: s["recording"] is not None,
        within=EVENT_TIMEOUT_S,
    )
    recording_id: str = state["recording"]["id"]
    assert state["recording"]["by"]["name"] == host.name
    await _everyone_sees(both, "recording", "Recording", recording_id)
    told = await guest.until(
        "the guest's consent notice",
        lambda: _state(guest),
        ready=lambda s: "This meeting is being recorded by Ada Lovelace." in s["toasts"],
        within=EVENT_TIMEOUT_S,
    )
    assert told["recording"]["by"]["sid"] == state["self"]["sid"]
    assert any("You are recording this meeting" in t for t in (await _state(host))["toasts"])
    await host.page.wait_for_selector(
        '#record-button[aria-pressed="true"]:not([disabled])', timeout=5000
    )
    assert await record.inner_text() == "Stop recording"
    assert await pause.is_visible() and await pause.inner_text() == "Pause recording"

    # The worker records both participants' audio and video before anything else happens.
    await eventually(
        "the recorder to write video and audio",
        lambda: _api_recordings(http, server),
        ready=lambda rs: len(rs) == 1 and _has_media(rs[0]),
        within=RECORDER_TIMEOUT_S,
        participants=both,
    )

    # Pause, then resume: both pages show it each time.
    await pause.click()
    await _everyone_sees(both, "paused", "Recording paused", recording_id)
    await host.page.wait_for_selector(
        '#record-pause-button[aria-pressed="true"]:not([disabled])', timeout=5000
    )
    assert await pause.inner_text() == "Resume recording"
    await pause.click()
    await _everyone_sees(both, "recording", "Recording", recording_id)
    await host.page.wait_for_selector(
        '#record-pause-button[aria-pressed="false"]:not([disabled])', timeout=5000
    )
    assert await pause.inner_text() == "Pause recording"

    # Stop: the indicator goes everywhere and everyone is told.
    await record.click()
    for p in both:
        await p.until(
            f"{p.name} to see the recording stop",
            functools.partial(_state, p),
            ready=lambda s: s["recording"] is None and "The recording has stopped." in s["toasts"],
            within=EVENT_TIMEOUT_S,
        )
        await p.until(
            f"{p.name}'s indicator to go",
            functools.partial(_indicator, p),
            ready=lambda i: i is None,
            within=EVENT_TIMEOUT_S,
        )
    assert await record.inner_text() == "Record"
    assert await pause.is_hidden()

    # The host's Recordings section lists it, finished, with its files.
    await host.page.click("#people-button")
    rows = await host.until(
        "the host's Recordings list to show the finished recording with its media",
        lambda: host.page.evaluate(RECORDING_ROWS),
        ready=lambda rows: (
            len(rows) == 1
            and rows[0]["state"] == "stopped"
            and len(_media_files(rows[0]["files"])) == 4
        ),
        within=EVENT_TIMEOUT_S,
    )
    assert rows[0]["id"] == recording_id and rows[0]["visible"]

    # The server's API: one stopped recording whose worker has finished, WebM and Ogg files.
    listed = await eventually(
        "the recording's worker to finish",
        lambda: _api_recordings(http, server),
        ready=lambda rs: len(rs) == 1 and rs[0]["ended_at"] is not None,
        within=WORKER_STOP_S,
        participants=both,
    )
    recording = listed[0]
    assert recording["id"] == recording_id
    assert recording["state"] == "stopped" and recording["error"] is None, recording
    assert recording["bytes"] > 0
    sizes = {f["name"]: f["size"] for f in recording["files"]}
    # Two participants, each with a camera and a microphone: a file per track, VP8 video in
    # WebM and Opus audio (the "Ogg for audio"; today WebM, recorder/worker.py).
    tracks = await _manifest_tracks(http, server, recording_id)
    assert sorted((t["kind"], t["codec"]) for t in tracks) == [
        ("audio", "opus"),
        ("audio", "opus"),
        ("video", "vp8"),
        ("video", "vp8"),
    ], tracks
    for t in tracks:
        assert sizes.get(t["file"], 0) > 0, (t, sizes)
        assert t["file"].endswith(".webm" if t["kind"] == "video" else (".webm", ".ogg")), t
    assert sorted(_media_files(list(sizes))) == sorted(t["file"] for t in tracks)

    # A download from the page (bearer token, then a blob URL) is the file on the server.
    await host.page.click("#recordings-refresh")
    audio = next(t["file"] for t in tracks if t["kind"] == "audio")
    button = host.page.locator(f'#recordings-list button[data-file="{audio}"]')
    await button.wait_for(state="visible", timeout=5000)
    label = await button.get_attribute("aria-label")
    assert label is not None and label.startswith(f"Download {audio}, "), label
    async with host.page.expect_download(timeout=DOWNLOAD_TIMEOUT_MS) as download_info:
        await button.click()
    download = await download_info.value
    assert download.suggested_filename == audio
    saved = tmp_path / audio
    await download.save_as(saved)
    data = saved.read_bytes()
    assert len(data) == sizes[audio]
    assert data[:4] == MAGIC[saved.suffix]
    assert _opus_packets(saved) > 0
    # And the server answers range requests for the video.
    video = next(t["file"] for t in tracks if t["kind"] == "video")
    async with http.get(
        server.url(f"/api/v1/recordings/{recording_id}/files/{video}"),
        headers={**server.auth_headers, "Range": "bytes=0-3"},
    ) as response:
        assert response.status == 206
        assert await response.read() == WEBM_MAGIC

    for p in both:
        assert (await _state(p))["notices"] == [], p.name


async def test_record_automatically_and_the_notice_for_latecomers(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    """The host's "Record automatically" switch: the next person in starts a recording (no
    host named in the notice); someone who joins while it runs is told as they come in."""
    server = await server_factory()
    async with http.post(
        server.url("/api/v1/rooms"), json={"name": ROOM}, headers=server.auth_headers
    ) as response:
        assert response.status == 201, await response.text()
    host, guest, late = await asyncio.gather(
        browsers.launch("Ada Lovelace"),
        browsers.launch("Bob Builder"),
        browsers.launch("Cy Young"),
    )
    await host.open_link(await _link(http, server, host.name, host=True))
    await host.join()
    await host.page.click("#people-button")
    switch = host.page.locator('#room-settings input[data-setting="auto_record"]')
    assert await switch.get_attribute("role") == "switch"
    assert not await switch.is_checked()
    await host.page.get_by_label("Record automatically").check()
    await host.until(
        "auto_record to be on",
        functools.partial(_state, host),
        ready=lambda s: s["room"]["auto_record"] is True,
        within=EVENT_TIMEOUT_S,
    )
    assert (await _state(host))["recording"] is None  # nobody new has joined yet

    # The guest's arrival starts it: nobody pressed Record, so nobody is named.
    await guest.open_link(await _link(http, server, guest.name, host=False))
    await guest.join()
    await _everyone_sees((host, guest), "recording", "Recording", None)
    state = await guest.until(
        "the guest's consent notice",
        functools.partial(_state, guest),
        ready=lambda s: "This meeting is recorded automatically." in s["toasts"],
        within=EVENT_TIMEOUT_S,
    )
    assert state["recording"]["by"] is None
    recording_id = state["recording"]["id"]

    # A latecomer learns it from `joined` itself, and is told on the way in.
    await late.open_link(await _link(http, server, late.name, host=False))
    await late.join()
    state = await _state(late)
    assert state["recording"] is not None and state["recording"]["id"] == recording_id
    assert "This meeting is recorded automatically." in state["toasts"]
    assert await late.page.locator("#recording-indicator").is_visible()
    assert (await _indicator(late)) == {"text": "Recording", "state": "recording"}

    # Stopping works for an automatic recording too; everyone's indicator goes.
    await host.page.click("#record-button")
    for p in (host, guest, late):
        await p.until(
            f"{p.name}'s indicator to go",
            functools.partial(_indicator, p),
            ready=lambda i: i is None,
            within=EVENT_TIMEOUT_S,
        )
        assert (await _state(p))["recording"] is None
