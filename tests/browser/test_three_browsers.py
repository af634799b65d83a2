"""Acceptance: three real Chromium participants meet through the meeting link.

The host starts the meeting from the home page; one guest opens the guest link and types a
name, the other gets the name prefilled through ``#name=``. Each browser must then show the
other two with frames advancing, the right picture on the right tile (every fake camera has
its own colour, sampled from the decoded video through a canvas), and receive both others'
audio (inbound-rtp packetsReceived rising per remote audio track).

``SPARKLE_SCREENSHOT=docs/img/meeting.png python -m pytest tests/browser/test_three_browsers.py``
also saves the host's meeting view (used by the README).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.conftest import ServerFactory
from tests.support.browser import Browsers, Participant, eventually
from tests.support.fake_media import nearest_colour

MEDIA_TIMEOUT_S = 30
ADVANCE_WINDOW_S = 2.0
MIN_NEW_FRAMES = 5  # 15 fps for 2 s is 30; headless under load presents fewer, but not < 5
MAX_COLOUR_DISTANCE = 60.0  # VP8 at low bitrate shifts a flat colour by ~10-20


async def _tiles(viewer: Participant) -> list[dict[str, Any]]:
    tiles: list[dict[str, Any]] = await viewer.debug("remoteTiles")
    return tiles


def _two_live_tiles(tiles: list[dict[str, Any]]) -> bool:
    live = [t for t in tiles if t["hasVideo"] and t["framesPresented"] > 0]
    return len(tiles) == 2 and len(live) == 2


async def _audio_packets(viewer: Participant) -> dict[str, int]:
    """inbound-rtp packetsReceived per remote audio track sid."""
    stats: list[dict[str, Any]] = await viewer.debug("inboundStats")
    return {s["trackSid"]: int(s["packetsReceived"]) for s in stats if s["kind"] == "audio"}


async def test_three_browsers_see_and_hear_each_other(
    server_factory: ServerFactory, browsers: Browsers
) -> None:
    # Media end to end; the waiting room that "New meeting" turns on is exercised by
    # test_host_controls.py, so here the guests walk straight in.
    server = await server_factory(meeting_lobby=False)
    screenshot = os.environ.get("SPARKLE_SCREENSHOT")
    host, bob, chloe = await asyncio.gather(
        browsers.launch("Ada Lovelace", viewport=(1280, 720) if screenshot else (640, 480)),
        browsers.launch("Bob Builder"),
        browsers.launch("Chloe Carter"),
    )
    everyone = (host, bob, chloe)
    assert len({p.media.rgb for p in everyone}) == 3, "each camera needs its own colour"

    guest_link = await host.create_meeting(server.base_url)
    assert "token" not in guest_link
    await host.join()  # the name came through the #name= fragment
    assert "#" not in host.page.url, "the token must be removed from the address bar"

    await bob.open_link(guest_link)
    await bob.join(type_name=True)
    await chloe.open_link(f"{guest_link}#name={quote(chloe.name)}")
    await chloe.join()

    sid_of: dict[str, Participant] = {}
    for p in everyone:
        state = await p.debug("state")
        assert state["self"]["name"] == p.name
        sid_of[state["self"]["sid"]] = p
    assert len(sid_of) == 3

    # Everyone shows the other two, with pictures.
    for viewer in everyone:
        tiles = await eventually(
            f"{viewer.name} to show video from both others",
            lambda viewer=viewer: _tiles(viewer),
            ready=_two_live_tiles,
            within=MEDIA_TIMEOUT_S,
            participants=everyone,
        )
        others = {sid for sid, p in sid_of.items() if p is not viewer}
        assert {t["participantSid"] for t in tiles} == others
        for tile in tiles:
            assert tile["name"] == sid_of[tile["participantSid"]].name

    # Frames keep coming, and audio packets too, from every other participant.
    frames_before = {v.name: {t["participantSid"]: t for t in await _tiles(v)} for v in everyone}
    audio_before = {v.name: await _audio_packets(v) for v in everyone}
    await asyncio.sleep(ADVANCE_WINDOW_S)
    for viewer in everyone:
        for p in everyone:
            p.check_alive()
        audio_after = await _audio_packets(viewer)
        for tile in await _tiles(viewer):
            sid = tile["participantSid"]
            sender = sid_of[sid]
            before = frames_before[viewer.name][sid]["framesPresented"]
            gained = tile["framesPresented"] - before
            assert gained >= MIN_NEW_FRAMES, (
                f"{viewer.name} presented {gained} new frames of {sender.name} "
                f"in {ADVANCE_WINDOW_S} s"
            )
            assert tile["videoWidth"] > 0 and tile["videoHeight"] > 0

            colour = await viewer.debug("sampleColor", sid)
            assert colour is not None, f"{viewer.name} cannot sample {sender.name}'s tile"
            nearest, distance = nearest_colour(tuple(colour))
            assert nearest == sender.media.rgb and distance <= MAX_COLOUR_DISTANCE, (
                f"{viewer.name} shows {colour} on {sender.name}'s tile, "
                f"expected about {sender.media.rgb}"
            )

            assert tile["audioTrackSids"], f"{viewer.name} has no audio of {sender.name}"
            for track_sid in tile["audioTrackSids"]:
                gained_packets = audio_after.get(track_sid, 0) - audio_before[viewer.name].get(
                    track_sid, 0
                )
                # Opus sends a packet every 20 ms: 100 in 2 s; allow for a slow machine.
                assert gained_packets >= 20, (
                    f"{viewer.name} received {gained_packets} packets of {sender.name}'s "
                    f"audio track {track_sid} in {ADVANCE_WINDOW_S} s"
                )

    # The connection indicator agrees, and nobody saw an error.
    for p in everyone:
        state = await p.debug("state")
        assert state["connection"]["state"] == "connected", state["connection"]
        assert state["notices"] == [], state["notices"]

    if screenshot:
        # The README's picture: the host's view with the People panel (host controls) open.
        await host.page.click("#people-button")
        await host.page.wait_for_selector("#people-panel:not([hidden])", timeout=5000)
        await asyncio.sleep(1.0)
        path = Path(screenshot)
        path.parent.mkdir(parents=True, exist_ok=True)
        await host.page.screenshot(path=str(path))
