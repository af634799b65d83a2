"""Receive slots in a first offer, in real Chromium.

The client puts a ``recvonly`` slot for every track ``joined`` listed into its first offer
(docs/client.md, "Signalling and media" step 2), next to its own ``sendonly`` tracks, so a
joiner sees the others without a ``renegotiate`` round trip. A participant without camera
or microphone sends only such slots; in an empty room it sends no offer at all and waits to
be asked for one.

Devices are refused the way a browser refuses them when permission is denied:
``getUserMedia`` rejects with ``NotAllowedError`` (an init script replaces it before the page
loads; the fake-device flags would otherwise grant them). Another init script records every
offer the page sends, with the direction of each m-section.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.conftest import RunningServer, ServerFactory
from tests.support.browser import Browsers, Participant, eventually
from tests.support.fake_media import nearest_colour

MEDIA_TIMEOUT_S = 20
MAX_COLOUR_DISTANCE = 60.0
MIN_PACKETS = 20  # Opus: 50 packets/s

DENY_DEVICES = """
(() => {
  const deny = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
  if (navigator.mediaDevices) {
    Object.defineProperty(navigator.mediaDevices, 'getUserMedia', { value: deny });
  }
})();
"""

RECORD_OFFERS = """
(() => {
  window.__sparkleOffers = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try {
      const m = JSON.parse(data);
      if (m.type === 'offer') {
        const sections = m.sdp.split(/\\r\\n(?=m=)/).slice(1).map((s) => ({
          kind: s.slice(2, 7),
          direction: (s.match(/a=(sendonly|recvonly|sendrecv|inactive)/) || [])[1],
        }));
        window.__sparkleOffers.push({ id: m.id, tracks: m.tracks, sections });
      }
    } catch {}
    return send.call(this, data);
  };
})();
"""


async def _new_room(http: aiohttp.ClientSession, server: RunningServer, room: str) -> None:
    async with http.post(
        server.url("/api/v1/rooms"), json={"name": room}, headers=server.auth_headers
    ) as response:
        assert response.status == 201, await response.text()


async def _enter(
    http: aiohttp.ClientSession,
    server: RunningServer,
    room: str,
    p: Participant,
    *,
    devices: bool = True,
    connected: bool = True,
) -> str:
    """Opens a token link, joins, and returns the participant's sid; with ``connected``,
    waits until its first offer was answered (so its tracks, if any, are published)."""
    if not devices:
        await p.page.add_init_script(DENY_DEVICES)
    await p.page.add_init_script(RECORD_OFFERS)
    async with http.post(
        server.url(f"/api/v1/rooms/{room}/tokens"),
        json={"identity": p.name.lower().replace(" ", "-"), "name": p.name},
        headers=server.auth_headers,
    ) as response:
        assert response.status == 200, await response.text()
        token = (await response.json())["token"]
    await p.open_link(server.url(f"/r/{room}#" + urlencode({"token": token, "name": p.name})))
    if not devices:
        message = await p.page.text_content("#device-message") or ""
        assert "permission was denied" in message, message
    await p.join()
    if connected:
        await p.until(
            f"{p.name}'s media connection",
            lambda: p.debug("state"),
            ready=lambda state: state["connection"]["state"] == "connected",
            within=MEDIA_TIMEOUT_S,
        )
    sid: str = (await p.debug("state"))["self"]["sid"]
    return sid


async def _offers(p: Participant) -> list[dict[str, Any]]:
    offers: list[dict[str, Any]] = await p.page.evaluate("() => window.__sparkleOffers")
    return offers


def _directions(offer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["kind"], s["direction"]) for s in offer["sections"]]


async def _tile(viewer: Participant, sid: str) -> dict[str, Any] | None:
    tiles: list[dict[str, Any]] = await viewer.debug("remoteTiles")
    return next((t for t in tiles if t["participantSid"] == sid), None)


async def _sees_and_hears(
    viewer: Participant, sender: Participant, sender_sid: str, everyone: tuple[Participant, ...]
) -> None:
    """``viewer`` shows ``sender``'s picture (frames, right colour) and gets its audio."""
    tile = await eventually(
        f"{viewer.name} to show {sender.name}'s video",
        lambda: _tile(viewer, sender_sid),
        ready=lambda t: t is not None and t["hasVideo"] and t["framesPresented"] >= 5,
        within=MEDIA_TIMEOUT_S,
        participants=everyone,
    )
    colour = await viewer.debug("sampleColor", sender_sid)
    assert colour is not None, f"{viewer.name} cannot sample {sender.name}'s tile"
    nearest, distance = nearest_colour(tuple(colour))
    assert nearest == sender.media.rgb and distance <= MAX_COLOUR_DISTANCE, (
        f"{viewer.name} shows {colour} on {sender.name}'s tile, expected ~{sender.media.rgb}"
    )
    assert tile is not None and tile["audioTrackSids"], f"{viewer.name}: no audio slot"
    audio_sids = set(tile["audioTrackSids"])
    await eventually(
        f"{viewer.name} to receive {sender.name}'s audio packets",
        lambda: viewer.debug("inboundStats"),
        ready=lambda stats: any(
            s["trackSid"] in audio_sids and s["packetsReceived"] >= MIN_PACKETS for s in stats
        ),
        within=MEDIA_TIMEOUT_S,
        participants=everyone,
    )


async def test_participant_without_devices_sees_and_hears_the_others(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    server = await server_factory()
    await _new_room(http, server, "receive-only")
    ada = await browsers.launch("Ada Lovelace")
    bob = await browsers.launch("Bob Builder")
    everyone = (ada, bob)
    ada_sid = await _enter(http, server, "receive-only", ada)
    bob_sid = await _enter(http, server, "receive-only", bob, devices=False)

    await _sees_and_hears(bob, ada, ada_sid, everyone)
    # From his first offer: receive-only, one slot per track of Ada's.
    first = (await _offers(bob))[0]
    assert first["tracks"] == []
    assert sorted(_directions(first)) == [("audio", "recvonly"), ("video", "recvonly")]

    # Ada shows Bob with his camera off and his microphone muted: he sends nothing.
    bob_tile = await eventually(
        "Ada to show Bob's tile",
        lambda: _tile(ada, bob_sid),
        ready=lambda t: t is not None,
        within=MEDIA_TIMEOUT_S,
        participants=everyone,
    )
    assert bob_tile["cameraOff"] and bob_tile["microphoneMuted"]


async def test_joiners_receive_from_their_first_offer(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    server = await server_factory()
    await _new_room(http, server, "first-offer")
    bob = await browsers.launch("Bob Builder")
    ada = await browsers.launch("Ada Lovelace")
    chloe = await browsers.launch("Chloe Carter")
    everyone = (bob, ada, chloe)

    # Bob, without devices, in an empty room: nothing to offer, so no offer yet.
    await _enter(http, server, "first-offer", bob, devices=False, connected=False)
    assert await _offers(bob) == []

    # Ada publishes: Bob is asked for an offer and gets her picture and sound.
    ada_sid = await _enter(http, server, "first-offer", ada)
    await _sees_and_hears(bob, ada, ada_sid, everyone)

    # Chloe joins with camera and microphone: her one and only offer carries her tracks
    # and a slot for each of Ada's, and they carry media.
    chloe_sid = await _enter(http, server, "first-offer", chloe)
    await _sees_and_hears(chloe, ada, ada_sid, everyone)
    offers = await _offers(chloe)
    assert len(offers) == 1, [_directions(o) for o in offers]
    assert sorted(_directions(offers[0])) == [
        ("audio", "recvonly"),
        ("audio", "sendonly"),
        ("video", "recvonly"),
        ("video", "sendonly"),
    ]
    assert sorted(t["source"] for t in offers[0]["tracks"]) == ["camera", "microphone"]
    await _sees_and_hears(ada, chloe, chloe_sid, everyone)
    await _sees_and_hears(bob, chloe, chloe_sid, everyone)
    for p in everyone:
        state = await p.debug("state")
        assert state["notices"] == [], state["notices"]
