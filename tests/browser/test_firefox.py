"""Firefox and Chromium in one meeting: the client works in both (docs/client.md).

A Chromium host enters through the meeting's host link (an API-minted token in
``#token=...&name=...``); a stock Firefox ESR, driven over WebDriver BiDi
(tests/support/firefox.py), opens the guest link, is refused with an empty name, then types
its name and joins as a guest. Each must then show the other's video with frames advancing
(Firefox also the right colour: Chromium's fake camera has its own), and receive the other's
audio packets (inbound-rtp packetsReceived rising).

Firefox's fake camera (``media.navigator.streams.fake``) is a solid frame whose colour sweeps
over time, so Chromium's side checks that the picture changes, not a fixed colour.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from tests.conftest import ServerFactory
from tests.support.browser import Browsers, Participant, Watched, eventually
from tests.support.fake_media import nearest_colour
from tests.support.firefox import (
    CONTROL,
    ENTER,
    FirefoxBrowsers,
    FirefoxParticipant,
    firefox_missing,
)

EMPTY_NAME_MESSAGE = "Please enter your full name"
MEDIA_TIMEOUT_S = 30
ADVANCE_TIMEOUT_S = 10
MIN_NEW_FRAMES = 10  # under a second at 15-30 fps
MIN_NEW_AUDIO_PACKETS = 25  # Opus sends one per 20 ms: half a second
MAX_COLOUR_DISTANCE = 60.0

Viewer = Participant | FirefoxParticipant


async def _tiles(viewer: Viewer) -> list[dict[str, Any]]:
    tiles: list[dict[str, Any]] = await viewer.debug("remoteTiles")
    return tiles


def _one_live_tile(tiles: list[dict[str, Any]]) -> bool:
    return len(tiles) == 1 and tiles[0]["hasVideo"] and tiles[0]["framesPresented"] > 0


async def _audio_packets(viewer: Viewer) -> dict[str, int]:
    """inbound-rtp packetsReceived per remote audio track sid."""
    stats: list[dict[str, Any]] = await viewer.debug("inboundStats")
    return {s["trackSid"]: int(s["packetsReceived"]) for s in stats if s["kind"] == "audio"}


async def _progress(viewer: Viewer) -> tuple[int, dict[str, int]]:
    """Frames presented on the one remote tile, and audio packets per remote audio track."""
    tiles = await _tiles(viewer)
    frames = int(tiles[0]["framesPresented"]) if tiles else 0
    audio_sids = tiles[0]["audioTrackSids"] if tiles else []
    packets = await _audio_packets(viewer)
    return frames, {sid: packets.get(sid, 0) for sid in audio_sids}


def _advanced(before: tuple[int, dict[str, int]], now: tuple[int, dict[str, int]]) -> bool:
    frames_before, audio_before = before
    frames, audio = now
    return (
        frames - frames_before >= MIN_NEW_FRAMES
        and bool(audio)
        and all(n - audio_before.get(sid, 0) >= MIN_NEW_AUDIO_PACKETS for sid, n in audio.items())
    )


async def _prejoin_text(fox: FirefoxParticipant) -> str:
    return str(await fox.evaluate("document.getElementById('prejoin-message').textContent"))


async def _refuses_empty_name(fox: FirefoxParticipant, host: Participant) -> None:
    """Join with an empty, then a blank, name: refused on the page, nothing reaches the room."""
    await fox.until(
        "the camera preview",
        lambda: fox.evaluate("document.getElementById('preview-video').videoWidth"),
        within=10,
    )
    assert await fox.evaluate("document.getElementById('display-name').value") == ""
    for typed in ("", "   "):
        await fox.click("#display-name")
        await fox.type_text(typed)
        await fox.click("#join-button")
        text = await fox.until("the empty-name message", lambda: _prejoin_text(fox), within=5)
        assert EMPTY_NAME_MESSAGE in text
        field = await fox.evaluate(
            "(() => { const e = document.getElementById('display-name');"
            " return {invalid: e.getAttribute('aria-invalid'),"
            " focused: document.activeElement === e,"
            " role: document.getElementById('prejoin-message').getAttribute('role')}; })()"
        )
        assert field == {"invalid": "true", "focused": True, "role": "alert"}, field
        assert await fox.phase() == "prejoin"
    host_state = await host.debug("state")
    assert host_state["participants"] == [], "a refused name must not reach the meeting"


async def test_firefox_and_chromium_see_and_hear_each_other(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    missing = firefox_missing()
    if missing is not None:
        pytest.skip(missing)
    # Media between the two browsers; the waiting room is test_host_controls.py's.
    server = await server_factory(meeting_lobby=False)
    async with FirefoxBrowsers(tmp_path / "firefox") as firefoxes:
        host, fox = await asyncio.gather(
            browsers.launch("Ada Chromium"), firefoxes.launch("Frida Firefox")
        )
        everyone: tuple[Watched, ...] = (host, fox)

        async with http.post(server.url("/api/v1/meetings"), json={"name": host.name}) as response:
            assert response.status == 201, await response.text()
            meeting = await response.json()
        await host.open_link(f"{meeting['host_url']}&name={quote(host.name)}")
        await host.join()

        # The guest link carries neither token nor name: Firefox gets a guest token by name.
        await fox.open_link(meeting["guest_url"])
        await _refuses_empty_name(fox, host)
        await fox.press(CONTROL, "a")  # select the blanks typed above
        await fox.type_text(fox.name)
        await fox.press(ENTER)  # the keyboard submits the form
        await fox.until("the meeting view", fox.in_meeting, within=20)

        host_sid = (await host.debug("state"))["self"]["sid"]
        fox_state = await fox.debug("state")
        assert fox_state["self"]["name"] == fox.name
        assert fox_state["room"]["name"] == meeting["room"]["name"]
        fox_sid = fox_state["self"]["sid"]

        for viewer, sender_sid in ((fox, host_sid), (host, fox_sid)):
            tiles = await eventually(
                f"{viewer.name} to show the other's video",
                partial(_tiles, viewer),
                ready=_one_live_tile,
                within=MEDIA_TIMEOUT_S,
                participants=everyone,
            )
            assert tiles[0]["participantSid"] == sender_sid
        assert (await _tiles(fox))[0]["name"] == host.name
        assert (await _tiles(host))[0]["name"] == fox.name

        # Frames keep coming and audio packets too, both ways.
        for viewer, sender in ((fox, host), (host, fox)):
            before = await _progress(viewer)
            await eventually(
                f"{viewer.name} to present {MIN_NEW_FRAMES} more frames of {sender.name}'s "
                f"video and receive {MIN_NEW_AUDIO_PACKETS} more packets of their audio",
                partial(_progress, viewer),
                ready=partial(_advanced, before),
                within=ADVANCE_TIMEOUT_S,
                participants=everyone,
            )
            tile = (await _tiles(viewer))[0]
            assert tile["videoWidth"] > 0 and tile["videoHeight"] > 0, tile

        # Firefox shows Chromium's camera colour (decoded VP8, drawn on a canvas).
        colour = await fox.debug("sampleColor", host_sid)
        assert colour is not None, "Firefox cannot sample Chromium's tile"
        nearest, distance = nearest_colour(tuple(colour))
        assert nearest == host.media.rgb and distance <= MAX_COLOUR_DISTANCE, (
            f"Firefox shows {colour} on Chromium's tile, expected about {host.media.rgb}"
        )
        # Chromium shows Firefox's fake camera: a picture whose colour moves on.
        first = await host.debug("sampleColor", fox_sid)
        assert first is not None, "Chromium cannot sample Firefox's tile"
        await eventually(
            "the colour of Firefox's picture on Chromium to change",
            lambda: host.debug("sampleColor", fox_sid),
            ready=lambda now: now is not None and now != first,
            within=ADVANCE_TIMEOUT_S,
            participants=everyone,
        )

        for p in (host, fox):
            state = await p.debug("state")
            assert state["connection"]["state"] == "connected", (p.name, state["connection"])
            assert state["notices"] == [], (p.name, state["notices"])
