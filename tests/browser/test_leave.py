"""Mute, camera off/on and leaving, seen from the other participants' real browsers.

Participants enter with API-minted tokens in the link's fragment (``#token=...&name=...``),
the path an integrator's backend uses.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.conftest import RunningServer, ServerFactory
from tests.support.browser import Browsers, Participant, eventually

MEDIA_TIMEOUT_S = 30
EVENT_TIMEOUT_S = 10


async def _link(http: aiohttp.ClientSession, server: RunningServer, room: str, name: str) -> str:
    async with http.post(
        server.url(f"/api/v1/rooms/{room}/tokens"),
        json={"identity": name.lower().replace(" ", "-"), "name": name},
        headers=server.auth_headers,
    ) as response:
        assert response.status == 200, await response.text()
        token = (await response.json())["token"]
    return server.url(f"/r/{room}#" + urlencode({"token": token, "name": name}))


async def _tile(viewer: Participant, sid: str) -> dict[str, Any] | None:
    tiles: list[dict[str, Any]] = await viewer.debug("remoteTiles")
    return next((t for t in tiles if t["participantSid"] == sid), None)


async def test_mute_camera_and_leave_are_seen_by_the_others(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    server = await server_factory()
    room = "leave-test"
    async with http.post(
        server.url("/api/v1/rooms"), json={"name": room}, headers=server.auth_headers
    ) as response:
        assert response.status == 201, await response.text()

    ada = await browsers.launch("Ada Lovelace")
    bob = await browsers.launch("Bob Builder")
    chloe = await browsers.launch("Chloe Carter")
    everyone = (ada, bob, chloe)
    for p in everyone:
        await p.open_link(await _link(http, server, room, p.name))
        await p.join()
    sids = {p.name: (await p.debug("state"))["self"]["sid"] for p in everyone}
    bob_sid, chloe_sid = sids[bob.name], sids[chloe.name]
    watchers = (ada, chloe)

    for viewer in everyone:
        await eventually(
            f"{viewer.name} to show video from both others",
            lambda viewer=viewer: viewer.debug("remoteTiles"),
            ready=lambda tiles: len(tiles) == 2 and all(t["framesPresented"] > 0 for t in tiles),
            within=MEDIA_TIMEOUT_S,
            participants=everyone,
        )

    # Bob mutes his microphone and stops his camera: the others see both on his tile.
    await bob.page.click("#mic-button")
    await bob.page.click("#camera-button")
    # The buttons update once the track change is done (replaceTrack is asynchronous).
    await bob.page.wait_for_selector('#mic-button[aria-pressed="false"]', timeout=5000)
    await bob.page.wait_for_selector('#camera-button[aria-pressed="false"]', timeout=5000)
    for viewer in watchers:
        await eventually(
            f"{viewer.name} to see Bob muted with his camera off",
            lambda viewer=viewer: _tile(viewer, bob_sid),
            ready=lambda t: t is not None and t["microphoneMuted"] and t["cameraOff"],
            within=EVENT_TIMEOUT_S,
            participants=everyone,
        )

    # Camera back on (a new capture track on the same sender): pictures flow again.
    before = {v.name: (await _tile(v, bob_sid) or {})["framesPresented"] for v in watchers}
    await bob.page.click("#camera-button")
    await bob.page.click("#mic-button")
    for viewer in watchers:
        await eventually(
            f"{viewer.name} to see Bob's camera again",
            lambda viewer=viewer: _tile(viewer, bob_sid),
            ready=lambda t, viewer=viewer: (
                t is not None
                and not t["cameraOff"]
                and not t["microphoneMuted"]
                and t["framesPresented"] > before[viewer.name] + 5
            ),
            within=MEDIA_TIMEOUT_S,
            participants=everyone,
        )

    # Bob leaves with the Leave button: his own page says so, his tile goes everywhere else.
    await bob.page.click("#leave-button")
    await bob.until("Bob's ended screen", bob.phase, ready=lambda phase: phase == "ended", within=5)
    assert await bob.page.text_content("#ended-title") == "You left the meeting"
    for viewer in watchers:
        await eventually(
            f"Bob's tile to disappear for {viewer.name}",
            lambda viewer=viewer: viewer.debug("remoteTiles"),
            ready=lambda tiles, viewer=viewer: (
                [t["participantSid"] for t in tiles]
                == [s for s in (sids[ada.name], chloe_sid) if s != sids[viewer.name]]
            ),
            within=EVENT_TIMEOUT_S,
            participants=(ada, chloe),
        )
        state = await viewer.debug("state")
        assert bob_sid not in [p["sid"] for p in state["participants"]]
        assert all(t["participant_sid"] != bob_sid for t in state["tracks"])
        grid = viewer.page.locator(f'#grid [data-participant="{bob_sid}"]')
        assert await grid.count() == 0

    # Chloe just closes her tab: Ada is left alone with her own tile.
    await chloe.page.close(run_before_unload=True)
    await ada.until(
        "Chloe's tile to disappear after her tab closed",
        lambda: ada.debug("remoteTiles"),
        ready=lambda tiles: tiles == [],
        within=EVENT_TIMEOUT_S,
    )
    assert await ada.page.locator("#grid .tile").count() == 1
    assert await ada.page.locator("#audio-sink audio").count() == 0
    assert chloe_sid not in [p["sid"] for p in (await ada.debug("state"))["participants"]]
