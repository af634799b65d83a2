"""Auto-framing (issue 6) through two real Chromium participants, driven by clicking the UI.

The server runs the real framing worker (``framing_workers = "local"``: it starts
``python -m framing`` itself on the first request) with a small output (320x180) to keep the
CPU low. Chromium's fake camera (320x240, a flat colour with a moving marker) shows no
faces, so the framed video is the wide shot scaled to the output: that is enough to see it
arrive, because its shape (16:9) differs from the raw camera's (4:3).

* The guest presses "Auto-frame" in the toolbar: the button is pressed and busy while the
  server says ``starting``, pressed once it says ``on``; both pages badge the guest's tile
  "Auto-framed", and the host's page receives the framed 320x180 video on the same tile.
  Pressing it again turns it off: badges gone, the raw camera back.
* The host turns it on for the guest from the People panel ("Auto-frame camera"): the guest
  is told who did it, and told again when the host stops it.
* On a server without auto-framing the button's refusal is a readable toast; when no framing
  worker ever comes, the server's reason for turning it off is one too.

Participants enter with API-minted tokens in the link's fragment; the host's has room_admin.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.conftest import RunningServer, ServerFactory
from tests.support.browser import Browsers, Participant, eventually

ROOM = "framing-test"
OUTPUT = (320, 180)
EVENT_TIMEOUT_S = 10
MEDIA_TIMEOUT_S = 20
# The first request starts the framing process (imports, the detector's model, joining).
FRAMING_TIMEOUT_S = 40

# A tile's framing as drawn: its data-framing, and whether its badge is on screen.
TILE_FRAMING = """
(selector) => {
  const tile = document.querySelector(selector);
  if (!tile) return null;
  const badge = tile.querySelector('.framing-badge');
  return {
    framing: tile.dataset.framing || 'off',
    badge: badge && badge.getClientRects().length > 0 ? badge.textContent : null,
    label: tile.getAttribute('aria-label'),
  };
}
"""

# The toolbar toggle as drawn.
BUTTON = """
() => {
  const b = document.getElementById('framing-button');
  return {
    pressed: b.getAttribute('aria-pressed'),
    busy: b.getAttribute('aria-busy'),
    disabled: b.disabled,
    label: b.getAttribute('aria-label'),
    title: b.title,
  };
}
"""


async def _create_room(http: aiohttp.ClientSession, server: RunningServer) -> None:
    async with http.post(
        server.url("/api/v1/rooms"), json={"name": ROOM}, headers=server.auth_headers
    ) as response:
        assert response.status == 201, await response.text()


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


async def _button(p: Participant) -> dict[str, Any]:
    shown: dict[str, Any] = await asyncio.wait_for(p.page.evaluate(BUTTON), timeout=10)
    return shown


async def _tile(p: Participant, participant: str) -> dict[str, Any] | None:
    """``participant``: a remote participant's sid, or "self" for our own tile."""
    selector = f'#grid .tile[data-participant="{participant}"]'
    shown: dict[str, Any] | None = await asyncio.wait_for(
        p.page.evaluate(TILE_FRAMING, selector), timeout=10
    )
    return shown


async def _remote(viewer: Participant, sid: str) -> dict[str, Any] | None:
    tiles: list[dict[str, Any]] = await viewer.debug("remoteTiles")
    return next((t for t in tiles if t["participantSid"] == sid), None)


def _framed(tile: dict[str, Any] | None) -> bool:
    return tile is not None and (tile["videoWidth"], tile["videoHeight"]) == OUTPUT


def _raw(tile: dict[str, Any] | None) -> bool:
    """The guest's own camera: 4:3 (Chromium may scale it down under load, never reshape)."""
    return (
        tile is not None
        and tile["videoHeight"] > 0
        and abs(tile["videoWidth"] * 3 - tile["videoHeight"] * 4) <= 8
    )


async def _meeting(
    server: RunningServer, browsers: Browsers, http: aiohttp.ClientSession
) -> tuple[Participant, Participant, str]:
    """A host and a guest; the host shows the guest's raw camera."""
    await _create_room(http, server)
    host, guest = await asyncio.gather(
        browsers.launch("Ada Lovelace"), browsers.launch("Bob Builder")
    )
    await host.open_link(await _link(http, server, host.name, host=True))
    await host.join()
    await guest.open_link(await _link(http, server, guest.name, host=False))
    await guest.join()
    guest_sid: str = (await _state(guest))["self"]["sid"]
    await eventually(
        "the host to show the guest's raw camera",
        functools.partial(_remote, host, guest_sid),
        ready=lambda t: _raw(t) and t is not None and t["framesPresented"] > 0,
        within=MEDIA_TIMEOUT_S,
        participants=(host, guest),
    )
    return host, guest, guest_sid


async def _badges(
    host: Participant, guest: Participant, guest_sid: str, framing: str, within: float
) -> None:
    """Both pages draw the guest's tile with this framing state (badge on screen when on)."""
    badge = "Auto-framed" if framing == "on" else None
    for viewer, key in ((guest, "self"), (host, guest_sid)):
        await eventually(
            f"{viewer.name} to draw the guest's tile with framing {framing}",
            functools.partial(_tile, viewer, key),
            ready=lambda t: t is not None and t["framing"] == framing and t["badge"] == badge,
            within=within,
            participants=(host, guest),
        )


async def test_the_guest_frames_its_camera_and_the_host_frames_it_from_the_panel(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(
        framing_workers="local", framing_width=OUTPUT[0], framing_height=OUTPUT[1]
    )
    host, guest, guest_sid = await _meeting(server, browsers, http)
    both = (host, guest)

    button = await _button(guest)
    assert button == {
        "pressed": "false",
        "busy": "false",
        "disabled": False,
        "label": "Auto-frame my camera",
        "title": button["title"],
    }
    assert button["title"].startswith("Auto-frame my camera")
    assert (await _tile(host, guest_sid)) == {
        "framing": "off",
        "badge": None,
        "label": guest.name,
    }

    # The guest turns it on: pressed at once, busy until the framed video reaches the others.
    await guest.page.click("#framing-button")
    pressed = await _button(guest)
    assert pressed["pressed"] == "true" and pressed["busy"] == "true", pressed
    assert pressed["title"] == "Starting auto-framing…", pressed
    await _badges(host, guest, guest_sid, "on", FRAMING_TIMEOUT_S)
    on = await guest.until(
        "the guest's button to settle pressed",
        functools.partial(_button, guest),
        ready=lambda b: b["pressed"] == "true" and b["busy"] == "false",
        within=EVENT_TIMEOUT_S,
    )
    assert on["title"].startswith("Auto-framing is on"), on
    tile = await _tile(host, guest_sid)
    assert tile is not None and tile["label"] == f"{guest.name}, auto-framed", tile
    # The framed video arrives on the same tile, at the configured size, and keeps playing.
    framed = await eventually(
        "the framed video at the host",
        functools.partial(_remote, host, guest_sid),
        ready=_framed,
        within=MEDIA_TIMEOUT_S,
        participants=both,
    )
    assert framed is not None
    await eventually(
        "the framed video to keep playing at the host",
        functools.partial(_remote, host, guest_sid),
        ready=lambda t: (
            _framed(t) and t is not None and t["framesPresented"] > framed["framesPresented"] + 10
        ),
        within=MEDIA_TIMEOUT_S,
        participants=both,
    )
    # Our own preview stays the local camera (4:3).
    assert await guest.page.evaluate(
        "() => { const v = document.querySelector('#grid .tile.self video');"
        " return [v.videoWidth, v.videoHeight]; }"
    ) == [320, 240]

    # One more press turns it off: badges gone, the raw camera back at the host.
    await guest.page.click("#framing-button")
    await _badges(host, guest, guest_sid, "off", EVENT_TIMEOUT_S)
    await guest.until(
        "the guest's button to settle unpressed",
        functools.partial(_button, guest),
        ready=lambda b: b["pressed"] == "false" and b["busy"] == "false",
        within=EVENT_TIMEOUT_S,
    )
    await eventually(
        "the guest's raw camera back at the host",
        functools.partial(_remote, host, guest_sid),
        ready=_raw,
        within=MEDIA_TIMEOUT_S,
        participants=both,
    )
    # Turning one's own framing on and off is nobody else's news.
    toasts = (await _state(guest))["toasts"]
    assert not any("auto-framing" in t.lower() for t in toasts), toasts

    # The host frames the guest's camera from the People panel; the guest is told who did.
    await host.page.click("#people-button")
    item = host.page.locator(
        f'#participant-list button[aria-label="Auto-frame camera: {guest.name}"]'
    )
    await item.wait_for(state="visible", timeout=EVENT_TIMEOUT_S * 1000)
    await item.click()
    await guest.until(
        "the guest to be told the host turned framing on",
        functools.partial(_state, guest),
        ready=lambda s: f"{host.name} turned on auto-framing for your camera." in s["toasts"],
        within=EVENT_TIMEOUT_S,
    )
    await _badges(host, guest, guest_sid, "on", FRAMING_TIMEOUT_S)
    await guest.until(
        "the guest's own button to show it on",
        functools.partial(_button, guest),
        ready=lambda b: b["pressed"] == "true" and b["busy"] == "false",
        within=EVENT_TIMEOUT_S,
    )
    stop = host.page.locator(
        f'#participant-list button[aria-label="Stop auto-framing: {guest.name}"]'
    )
    await stop.wait_for(state="visible", timeout=EVENT_TIMEOUT_S * 1000)
    status = await host.page.inner_text(
        f'#participant-list li[data-sid="{guest_sid}"] .person-status'
    )
    assert "auto-framed" in status, status
    await stop.click()
    await guest.until(
        "the guest to be told a host turned framing off",
        functools.partial(_state, guest),
        ready=lambda s: "A host turned off auto-framing for your camera." in s["toasts"],
        within=EVENT_TIMEOUT_S,
    )
    await _badges(host, guest, guest_sid, "off", EVENT_TIMEOUT_S)
    await item.wait_for(state="visible", timeout=EVENT_TIMEOUT_S * 1000)
    for p in both:
        state = await _state(p)
        assert state["notices"] == [], state["notices"]
        assert not any(a["code"] in ("framing_refused", "framing_failed") for a in state["alerts"])


async def test_a_server_without_auto_framing_says_so(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(framing_workers="off")
    await _create_room(http, server)
    guest = await browsers.launch("Bob Builder")
    await guest.open_link(await _link(http, server, guest.name, host=False))
    await guest.join()
    await guest.until(
        "the camera to be published",
        functools.partial(_button, guest),
        ready=lambda b: not b["disabled"],
        within=EVENT_TIMEOUT_S,
    )
    await guest.page.click("#framing-button")
    state = await guest.until(
        "the refusal as a toast",
        functools.partial(_state, guest),
        ready=lambda s: "Auto-framing is not available on this server." in s["toasts"],
        within=EVENT_TIMEOUT_S,
    )
    assert [a["code"] for a in state["alerts"]] == ["framing_refused"], state["alerts"]
    button = await _button(guest)
    assert button["pressed"] == "false" and button["busy"] == "false", button
    tile = await _tile(guest, "self")
    assert tile is not None and tile["framing"] == "off" and tile["badge"] is None


async def test_framing_that_never_starts_stops_with_the_reason(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    # "remote": the server starts no framing process, and none comes to claim the job.
    server = await server_factory(framing_workers="remote", framing_join_timeout_s=1.0)
    await _create_room(http, server)
    guest = await browsers.launch("Bob Builder")
    await guest.open_link(await _link(http, server, guest.name, host=False))
    await guest.join()
    await guest.until(
        "the camera to be published",
        functools.partial(_button, guest),
        ready=lambda b: not b["disabled"],
        within=EVENT_TIMEOUT_S,
    )
    await guest.page.click("#framing-button")
    await guest.until(
        "the starting badge on our own tile",
        functools.partial(_tile, guest, "self"),
        ready=lambda t: t is not None and t["framing"] == "starting",
        within=EVENT_TIMEOUT_S,
    )
    await guest.until(
        "the reason as a toast",
        functools.partial(_state, guest),
        ready=lambda s: (
            "Auto-framing stopped: no framing worker joined the room in time" in s["toasts"]
        ),
        within=EVENT_TIMEOUT_S,
    )
    button = await _button(guest)
    assert button["pressed"] == "false" and button["busy"] == "false", button
    tile = await _tile(guest, "self")
    assert tile is not None and tile["framing"] == "off" and tile["badge"] is None
