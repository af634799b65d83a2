"""The active-speaker outline, end to end through two real Chromium participants.

Ada's fake microphone plays a loud tone, Bob's plays digital silence. Chromium puts the level
of every audio packet in the RFC 6464 header extension, the server's detector
(sfu/speaker.py) picks the loudest peer above its threshold and broadcasts
``active_speaker``, and each page outlines that participant's tile (grid.js ``.speaking``).
So Bob must see Ada's tile outlined, Ada must see her own tile outlined and never Bob's, and
the outline must go away once Ada mutes (a disabled track sends silence).

Participants enter with API-minted tokens in the link's fragment, as test_leave.py does.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.conftest import RunningServer, ServerFactory
from tests.support.browser import Browsers, Participant, eventually
from tests.support.fake_media import write_wav

# The speaker is re-evaluated every 0.3 s and held for at least 1 s (signaling/config.py,
# sfu/room.py); joining plus ICE on loopback takes 1-3 s. These bounds leave room for a
# loaded 2-core machine and keep the whole test well under 20 s when things work.
SPEAKING_TIMEOUT_S = 12
SILENCE_TIMEOUT_S = 8
WATCH_WINDOW_S = 2.0
# A newcomer should learn the current speaker with (or right after) `joined`.
LATE_JOIN_TIMEOUT_S = 5
ROOM = "speaker-test"
# --accent in web/css, the colour of the outline (#7cc4fa).
ACCENT = "rgb(124, 196, 250)"

_TILE_LOOK = """
(sid) => {
  const el = document.querySelector(sid === null
    ? '#grid .tile.self'
    : `#grid .tile[data-participant="${CSS.escape(sid)}"]`);
  if (!el) return null;
  return {speaking: el.classList.contains('speaking'),
          border: getComputedStyle(el).borderTopColor};
}
"""


async def _link(http: aiohttp.ClientSession, server: RunningServer, room: str, name: str) -> str:
    async with http.post(
        server.url(f"/api/v1/rooms/{room}/tokens"),
        json={"identity": name.lower().replace(" ", "-"), "name": name},
        headers=server.auth_headers,
    ) as response:
        assert response.status == 200, await response.text()
        token = (await response.json())["token"]
    return server.url(f"/r/{room}#" + urlencode({"token": token, "name": name}))


async def _look(viewer: Participant, sid: str | None) -> dict[str, Any] | None:
    """The tile of ``sid`` (None: the viewer's own) as drawn: outline class and colour."""
    viewer.check_alive()
    look: dict[str, Any] | None = await asyncio.wait_for(
        viewer.page.evaluate(_TILE_LOOK, sid), timeout=10
    )
    return look


async def _view(viewer: Participant, sid: str) -> dict[str, Any]:
    """What ``viewer`` shows of ``sid``: the debug tile, the drawn tile, the active speaker."""
    tiles: list[dict[str, Any]] = await viewer.debug("remoteTiles")
    state = await viewer.debug("state")
    return {
        "tile": next((t for t in tiles if t["participantSid"] == sid), None),
        "look": await _look(viewer, sid),
        "self": await _look(viewer, None),
        "activeSpeaker": state["activeSpeaker"],
    }


def _outlined(look: dict[str, Any] | None) -> bool:
    # The class and the colour it draws (after its 0.2 s transition).
    return look is not None and look["speaking"] and look["border"] == ACCENT


def _plain(look: dict[str, Any] | None) -> bool:
    return look is not None and not look["speaking"] and look["border"] != ACCENT


async def _meeting(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> tuple[RunningServer, Participant, Participant]:
    """A room and two launched browsers: Ada with a loud tone, Bob with a silent microphone."""
    server = await server_factory()
    async with http.post(
        server.url("/api/v1/rooms"), json={"name": ROOM}, headers=server.auth_headers
    ) as response:
        assert response.status == 201, await response.text()
    ada, bob = await asyncio.gather(browsers.launch("Ada Lovelace"), browsers.launch("Bob Builder"))
    # Chromium opens the fake-capture WAV when getUserMedia starts the device, not at launch
    # (media/audio/simple_sources.cc: FileSource loads it on the first OnMoreData), so Bob's
    # file can still be made silent here, before his page exists.
    write_wav(bob.media.wav, bob.media.tone_hz, amplitude=0.0)
    return server, ada, bob


async def _enter(p: Participant, http: aiohttp.ClientSession, server: RunningServer) -> str:
    """Opens ``p``'s token link, joins, and returns ``p``'s participant sid."""
    await p.open_link(await _link(http, server, ROOM, p.name))
    await p.join()
    sid: str = (await p.debug("state"))["self"]["sid"]
    return sid


def _shows_speaker(v: dict[str, Any], speaker_sid: str) -> bool:
    return (
        v["tile"] is not None
        and v["tile"]["speaking"]
        and _outlined(v["look"])
        and v["activeSpeaker"] == speaker_sid
    )


async def test_the_speaking_participant_is_outlined_for_the_others(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    server, ada, bob = await _meeting(server_factory, browsers, http)
    both = (ada, bob)
    # Bob first: Ada's audio can only reach the server after her own join, so Bob is in the
    # room when the server announces her. (A participant joining after the announcement is
    # never told: see test_a_late_joiner_sees_who_is_speaking.)
    bob_sid = await _enter(bob, http, server)
    ada_sid = await _enter(ada, http, server)

    # Bob sees Ada speaking: the debug tile, the outline drawn on her tile, the room state.
    seen = await eventually(
        "Bob to outline Ada's tile as the speaker",
        lambda: _view(bob, ada_sid),
        ready=lambda v: _shows_speaker(v, ada_sid),
        within=SPEAKING_TIMEOUT_S,
        participants=both,
    )
    assert _plain(seen["self"]), f"Bob's own tile is outlined though he is silent: {seen}"

    # Ada sees herself as the speaker, and Bob's tile plain.
    await eventually(
        "Ada to outline her own tile and not Bob's",
        lambda: _view(ada, bob_sid),
        ready=lambda v: (
            v["tile"] is not None
            and not v["tile"]["speaking"]
            and _plain(v["look"])
            and _outlined(v["self"])
            and v["activeSpeaker"] == ada_sid
        ),
        within=SPEAKING_TIMEOUT_S,
        participants=both,
    )

    # It stays that way while Ada keeps talking: no flapping over to the silent Bob.
    deadline = time.monotonic() + WATCH_WINDOW_S
    while time.monotonic() < deadline:
        for viewer, other, speaker_tile in ((ada, bob_sid, None), (bob, ada_sid, ada_sid)):
            view = await _view(viewer, other)
            assert view["activeSpeaker"] == ada_sid, f"{viewer.name}: {view}"
            assert _outlined(await _look(viewer, speaker_tile)), f"{viewer.name}: {view}"
        await asyncio.sleep(0.25)

    # Ada mutes: her track sends silence, and after the hold nobody is outlined any more.
    await ada.page.click("#mic-button")
    assert await ada.page.get_attribute("#mic-button", "aria-pressed") == "false"
    await eventually(
        "Bob to drop the outline once Ada is muted",
        lambda: _view(bob, ada_sid),
        ready=lambda v: (
            v["tile"] is not None
            and not v["tile"]["speaking"]
            and _plain(v["look"])
            and v["activeSpeaker"] is None
        ),
        within=SILENCE_TIMEOUT_S,
        participants=both,
    )
    ada_view = await eventually(
        "Ada to drop her own outline once muted",
        lambda: _view(ada, bob_sid),
        ready=lambda v: _plain(v["self"]) and v["activeSpeaker"] is None,
        within=SILENCE_TIMEOUT_S,
        participants=both,
    )
    assert _plain(ada_view["look"]), ada_view

    for p in both:
        assert (await p.debug("state"))["notices"] == []


async def test_a_late_joiner_sees_who_is_speaking(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    # Regression: `joined` did not carry the current speaker and the media plane reports
    # only changes, so someone joining while another talked saw no outline.
    server, ada, bob = await _meeting(server_factory, browsers, http)
    ada_sid = await _enter(ada, http, server)
    # Ada alone, talking: the server has made her the speaker before Bob arrives.
    await ada.until(
        "Ada to be the active speaker while alone",
        lambda: _look(ada, None),
        ready=_outlined,
        within=SPEAKING_TIMEOUT_S,
    )
    assert (await ada.debug("state"))["activeSpeaker"] == ada_sid

    await _enter(bob, http, server)
    await eventually(
        "Bob, who joined while Ada was talking, to outline her tile",
        lambda: _view(bob, ada_sid),
        ready=lambda v: _shows_speaker(v, ada_sid),
        within=LATE_JOIN_TIMEOUT_S,
        participants=(ada, bob),
    )
