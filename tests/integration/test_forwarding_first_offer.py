"""Receive slots in a participant's *first* offer carry media at once.

The browser client puts a recvonly slot for every track ``joined`` listed into its first
offer, next to its own sendonly tracks (docs/client.md). aiortc's default bundle policy
("balanced") gave the second m-section of a kind the transport of the first one of that
kind, and its BUNDLE handling then stopped that transport without moving the m-section off
it: the slot was answered with port 9 and no candidates, its sender never started, and it
never got a packet (whichever kind came second: video after the sendonly camera, or audio
after the sendonly microphone). sfu/peer.py now uses max-bundle.

A participant with nothing to send and nobody publishing yet makes no offer at all (an
offer without m-sections means nothing); it must still be asked for one when a track
appears.
"""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.support.aiortc_client import (
    MediaClient,
    join,
    room_exchange,
)
from tests.support.media import PreEncodedVp8Track, ToneAudioTrack, close_to

RED = (230, 30, 30)
GREEN = (30, 230, 30)
MEDIA_TIMEOUT_S = 6


def _own_tracks(order: str, color: tuple[int, int, int]) -> list[tuple[str, object]]:
    camera = ("camera", PreEncodedVp8Track(color))
    microphone = ("microphone", ToneAudioTrack())
    return [camera, microphone] if order == "camera-first" else [microphone, camera]


@pytest.mark.parametrize("order", ["camera-first", "microphone-first"])
async def test_slots_in_a_first_offer_with_own_tracks_get_media(room_and_events, order):
    room, events = room_and_events
    publisher = MediaClient("pub", tracks=_own_tracks("camera-first", RED))
    # Own sendonly tracks first, then one recvonly slot per published track: the second
    # m-section of each kind is a receive slot.
    joiner = MediaClient("joiner", tracks=_own_tracks(order, GREEN), audio_slots=1, video_slots=1)
    try:
        await join(room, events, publisher)
        published = {t.source: t.sid for t in events.published}
        assert set(published) == {"camera", "microphone"}
        await join(room, events, joiner)
        # The first answer already maps both slots: no renegotiation round trip.
        assert joiner.answers == 1
        assert set(joiner.mids.values()) == set(published.values())
        await joiner.wait_until(
            lambda: (
                (video := joiner.by_sid(published["camera"])) is not None
                and video.frames >= 3
                and close_to(video.colors[-1], RED)
                and (audio := joiner.by_sid(published["microphone"])) is not None
                and audio.frames >= 10
            ),
            timeout=MEDIA_TIMEOUT_S,
        )
        assert not [r for r in events.renegotiations if r[0] == "joiner"]
        # And the publisher, who got the joiner's tracks through renegotiation, too.
        joiner_camera = next(
            t.sid for t in events.published if t.peer_id == "joiner" and t.source == "camera"
        )
        await publisher.wait_until(
            lambda: (r := publisher.by_sid(joiner_camera)) is not None and r.frames >= 3,
            timeout=MEDIA_TIMEOUT_S,
        )
    finally:
        await asyncio.gather(publisher.close(), joiner.close())


async def test_receive_only_participant_in_an_empty_room_is_asked_to_offer(room_and_events):
    room, events = room_and_events
    # Nothing to send, nothing to receive yet: like the browser client, no offer.
    watcher = MediaClient("watcher", wait_when_empty=True)
    publisher = MediaClient("pub", tracks=_own_tracks("camera-first", RED))
    try:
        await join(room, events, watcher)
        assert watcher.answers == 0
        await join(room, events, publisher)
        camera = next(t.sid for t in events.published if t.source == "camera")
        await watcher.wait_until(
            lambda: (r := watcher.by_sid(camera)) is not None and r.frames >= 3,
            timeout=MEDIA_TIMEOUT_S,
        )
        assert ("watcher", 1, 1) in events.renegotiations
        assert close_to(watcher.by_sid(camera).colors[-1], RED)  # type: ignore[union-attr]
    finally:
        await asyncio.gather(watcher.close(), publisher.close())


def _firefox_style(sdp: str) -> str:
    """Rewrite an offer the way Firefox writes it under max-bundle (RFC 8843 section 6):
    every m-section after the first carries port 0 and ``a=bundle-only``."""
    out: list[str] = []
    sections = 0
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections += 1
            if sections > 1:
                kind, _port, rest = line.split(" ", 2)
                line = f"{kind} 0 {rest}"
                out.append(line)
                out.append("a=bundle-only")
                continue
        out.append(line)
    return "\r\n".join(out) + "\r\n"


async def test_bundle_only_sections_are_part_of_the_bundle(room_and_events):
    # Regression: port 0 was read as "rejected" even with a=bundle-only, so a Firefox
    # participant's camera (its second m-section) was never published, its receive slots
    # were answered inactive, and the server asked it to renegotiate forever.
    room, events = room_and_events
    publisher = MediaClient("pub", tracks=_own_tracks("microphone-first", RED))
    await room.add_peer("pub", allowed_sources=frozenset({"camera", "microphone"}), subscribe=True)
    events.clients["pub"] = publisher
    inner = room_exchange(room, "pub")

    async def firefox_exchange(sdp: str, sources: dict[str, str]) -> tuple[str, dict[str, str]]:
        return await inner(_firefox_style(sdp), sources)

    watcher = MediaClient("watcher", audio_slots=1, video_slots=1)
    try:
        await publisher.connect(firefox_exchange)
        assert {t.source for t in events.published} == {"camera", "microphone"}
        await join(room, events, watcher)
        camera = next(t.sid for t in events.published if t.source == "camera")
        await watcher.wait_until(
            lambda: (r := watcher.by_sid(camera)) is not None and r.frames >= 3,
            timeout=MEDIA_TIMEOUT_S,
        )
        assert close_to(watcher.by_sid(camera).colors[-1], RED)  # type: ignore[union-attr]
        assert not [r for r in events.renegotiations if r[0] == "pub"]
    finally:
        await asyncio.gather(publisher.close(), watcher.close())


async def test_a_client_that_adds_no_slots_is_not_asked_again_and_again(room_and_events):
    # Regression: when an offer left tracks without a slot, every answer was followed by
    # another renegotiate request for the same counts, forever.
    room, events = room_and_events
    first = MediaClient("first", tracks=[("camera", PreEncodedVp8Track(RED))])
    second = MediaClient("second", tracks=[("camera", PreEncodedVp8Track(GREEN))])
    stubborn = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    stubborn.addTransceiver("video", direction="recvonly")  # one slot, two cameras to see
    try:
        await join(room, events, first)
        await join(room, events, second)
        await room.add_peer("stubborn", allowed_sources=frozenset(), subscribe=True)
        for _ in range(3):
            await stubborn.setLocalDescription(await stubborn.createOffer())
            answer = await room.handle_offer("stubborn", stubborn.localDescription.sdp, {})
            await stubborn.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
            await asyncio.sleep(0.05)  # requests are sent one loop turn after the answer
        asked = [r for r in events.renegotiations if r[0] == "stubborn"]
        assert asked == [("stubborn", 0, 2)]
    finally:
        await asyncio.gather(first.close(), second.close(), stubborn.close())
