"""Screen sharing and its permission, through the real UI of two Chromium participants.

The guest may not share (the room's ``screen_share`` is ``"hosts"``), so its Share screen
button is disabled; the host allows it from the People panel; the guest shares; the host
shows a screen-share tile whose video presents frames; the host stops the share from the
panel; the guest is told, and the host's screen tile goes away.

Chromium answers ``getDisplayMedia`` without a picker under the harness's own flags:
``--use-fake-ui-for-media-stream`` accepts the request and ``--use-fake-device-for-media-stream``
supplies a fake 1280x720 "screen" (label ``screen:-3:0``), headless included. Without the fake
device the capture fails with NotReadableError (no display to capture), and
``--auto-select-desktop-capture-source``, ``--auto-accept-this-tab-capture`` and
``--enable-usermedia-screen-capturing`` change nothing here (measured on Chromium 156).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.conftest import RunningServer, ServerFactory
from tests.support.browser import Browsers, Participant, eventually

MEDIA_TIMEOUT_S = 25
EVENT_TIMEOUT_S = 10
FRAMES_WINDOW_S = 1.0

# Counts the frames the host's screen tile presents (requestVideoFrameCallback, as the grid
# does for camera tiles), installed once per <video> element; null while there is no tile.
SCREEN_TILE_PROBE = """
(key) => {
  const tile = document.querySelector(`#grid figure.tile.screen[data-participant="${key}"]`);
  if (!tile) return null;
  const video = tile.querySelector('video');
  if (!video.dataset.probe) {
    video.dataset.probe = '0';
    const step = (now, meta) => {
      video.dataset.probe = String(meta.presentedFrames);
      video.requestVideoFrameCallback(step);
    };
    video.requestVideoFrameCallback(step);
  }
  return {
    label: tile.getAttribute('aria-label'),
    hasVideo: Boolean(video.srcObject),
    framesPresented: Number(video.dataset.probe),
    videoWidth: video.videoWidth,
    videoHeight: video.videoHeight,
  };
}
"""


async def _link(
    http: aiohttp.ClientSession, server: RunningServer, room: str, name: str, *, host: bool
) -> str:
    async with http.post(
        server.url(f"/api/v1/rooms/{room}/tokens"),
        json={"identity": name.lower().replace(" ", "-"), "name": name, "host": host},
        headers=server.auth_headers,
    ) as response:
        assert response.status == 200, await response.text()
        token = (await response.json())["token"]
    return server.url(f"/r/{room}#" + urlencode({"token": token, "name": name}))


async def _state(p: Participant) -> dict[str, Any]:
    state: dict[str, Any] = await p.debug("state")
    return state


async def _screen_tile(host: Participant, guest_sid: str) -> dict[str, Any] | None:
    tile: dict[str, Any] | None = await host.page.evaluate(SCREEN_TILE_PROBE, f"{guest_sid}:screen")
    return tile


async def _frames_gained(host: Participant, guest_sid: str) -> int:
    before = await _screen_tile(host, guest_sid)
    await asyncio.sleep(FRAMES_WINDOW_S)
    after = await _screen_tile(host, guest_sid)
    assert before is not None and after is not None, "the screen tile went away"
    return int(after["framesPresented"]) - int(before["framesPresented"])


async def test_host_allows_a_guest_screen_share_then_stops_it(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    server = await server_factory()
    room = "screen-share-test"
    async with http.post(
        server.url("/api/v1/rooms"), json={"name": room}, headers=server.auth_headers
    ) as response:
        assert response.status == 201, await response.text()
    host, guest = await asyncio.gather(
        browsers.launch("Ada Lovelace"), browsers.launch("Bob Builder")
    )
    both = (host, guest)
    await host.open_link(await _link(http, server, room, host.name, host=True))
    await host.join()
    await guest.open_link(await _link(http, server, room, guest.name, host=False))
    await guest.join()
    guest_sid: str = (await _state(guest))["self"]["sid"]

    # No permission: the button is disabled and says why; nothing is shared.
    state = await _state(guest)
    assert state["permissions"]["screen_share"] is False
    assert state["room"]["screen_share"] == "hosts"
    share = guest.page.locator("#share-button")
    assert await share.is_disabled()
    assert await share.get_attribute("title") == "The host has not allowed you to share your screen"
    assert await share.inner_text() == "Share screen"

    # The host allows it from the guest's row in the People panel ("More" holds the toggles).
    await host.page.click("#people-button")
    await host.page.click(f'#participant-list summary[aria-label="More actions: {guest.name}"]')
    await host.page.click(
        f'#participant-list button[aria-label="Allow screen share: {guest.name}"]'
    )
    await guest.until(
        "the guest to be allowed to share",
        lambda: _state(guest),
        ready=lambda s: s["permissions"]["screen_share"] is True,
        within=EVENT_TIMEOUT_S,
    )
    await guest.page.wait_for_selector("#share-button:not([disabled])", timeout=5000)
    assert await share.get_attribute("title") == ""
    # The host's toggle now offers the opposite.
    await host.page.wait_for_selector(
        f'#participant-list button[aria-label="Deny screen share: {guest.name}"]', timeout=5000
    )

    # The guest shares (a real click: getDisplayMedia needs a user gesture).
    await share.click()
    await guest.until(
        "the guest to be sharing",
        lambda: _state(guest),
        ready=lambda s: s["sharingScreen"] is True,
        within=EVENT_TIMEOUT_S,
    )
    assert await share.get_attribute("aria-pressed") == "true"
    assert await share.inner_text() == "Stop sharing"

    # The host shows the guest's screen in a tile of its own, presenting frames.
    tile = await eventually(
        "the host to show the guest's screen with frames presented",
        lambda: _screen_tile(host, guest_sid),
        ready=lambda t: t is not None and t["hasVideo"] and t["framesPresented"] > 0,
        within=MEDIA_TIMEOUT_S,
        participants=both,
    )
    assert tile is not None
    assert tile["label"] == f"{guest.name}'s screen"
    assert tile["videoWidth"] > 0 and tile["videoHeight"] > 0
    gained = await eventually(
        "the guest's screen frames to keep advancing at the host",
        lambda: _frames_gained(host, guest_sid),
        ready=lambda n: n > 0,
        within=MEDIA_TIMEOUT_S,
        participants=both,
    )
    assert gained > 0
    # The guest's camera tile is still there, apart from the screen tile.
    tiles: list[dict[str, Any]] = await host.debug("remoteTiles")
    assert [t["participantSid"] for t in tiles] == [guest_sid]
    row = host.page.locator(f'#participant-list li[data-sid="{guest_sid}"]')
    assert "sharing the screen" in await row.locator(".person-status").inner_text()

    # The host stops the share from the panel; the guest is told and stops capturing.
    await host.page.click(f'#participant-list button[aria-label="Stop screen share: {guest.name}"]')
    told = await guest.until(
        "the guest to be told the host stopped the share",
        lambda: _state(guest),
        ready=lambda s: (
            any(a["code"] == "share_stopped" for a in s["alerts"]) and not s["sharingScreen"]
        ),
        within=EVENT_TIMEOUT_S,
    )
    assert any(
        t.startswith("The host") and "stopped your screen share" in t for t in told["toasts"]
    ), told["toasts"]
    assert await share.get_attribute("aria-pressed") == "false"
    assert await share.inner_text() == "Share screen"
    # Stopping the share does not take the permission back.
    assert told["permissions"]["screen_share"] is True
    assert await share.is_enabled()

    # The host's screen tile goes away, and the guest's screen track is gone from its state.
    await eventually(
        "the host's screen tile to disappear",
        lambda: _screen_tile(host, guest_sid),
        ready=lambda t: t is None,
        within=EVENT_TIMEOUT_S,
        participants=both,
    )
    await host.until(
        "the guest's screen track to be unpublished at the host",
        lambda: _state(host),
        ready=lambda s: not any(t["source"] == "screen_share" for t in s["tracks"]),
        within=EVENT_TIMEOUT_S,
    )
    assert await row.locator('button[data-action="stop-share"]').is_hidden()
    for p in both:
        assert (await _state(p))["notices"] == [], p.name
