"""RTP forwarding between real aiortc peers on 127.0.0.1 (no ICE servers)."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.support.aiortc_client import MediaClient, join
from tests.support.media import ColorVideoTrack, PreEncodedVp8Track, ToneAudioTrack, close_to

RED = (230, 30, 30)


async def close_all(*clients: MediaClient) -> None:
    await asyncio.gather(*(c.close() for c in clients))


async def test_publisher_reaches_three_subscribers(room_and_events):
    room, events = room_and_events
    publisher = MediaClient(
        "pub", tracks=[("camera", ColorVideoTrack(RED)), ("microphone", ToneAudioTrack())]
    )
    subscribers = [MediaClient(f"sub{i}") for i in range(3)]
    try:
        await join(room, events, publisher, subscribe=False)
        assert {t.source for t in events.published} == {"camera", "microphone"}
        for sub in subscribers:
            await join(room, events, sub)
        camera = next(t for t in events.published if t.source == "camera")
        for sub in subscribers:
            await sub.wait_until(
                lambda s=sub: (
                    (r := s.by_sid(camera.sid)) is not None
                    and r.frames >= 3
                    and close_to(r.colors[-1], RED)
                    and any(a.frames >= 10 for a in s.audio())
                ),
                timeout=10,
            )
        assert room.counters.packets_forwarded > 0
        assert room.counters.tracks_subscribed == 6
    finally:
        await close_all(publisher, *subscribers)


async def test_late_joiner_gets_a_keyframe_on_request(room_and_events):
    room, events = room_and_events
    # Keyframes only when asked: see tests/support/media.py for why aiortc's own encoder
    # would hide a missing keyframe request.
    video = PreEncodedVp8Track(RED)
    publisher = MediaClient("pub", tracks=[("camera", video)])
    early = MediaClient("early")
    late = MediaClient("late")
    try:
        await join(room, events, publisher, subscribe=False)
        await join(room, events, early)
        await early.wait_for_video_frames(5, timeout=10)
        await asyncio.sleep(1.0)  # the stream is now well past its first keyframe
        requests_before = video.keyframe_requests
        loop = asyncio.get_running_loop()
        connected = loop.create_future()

        @late.pc.on("connectionstatechange")
        def on_state() -> None:
            if late.pc.connectionState == "connected" and not connected.done():
                connected.set_result(loop.time())

        started = loop.time()
        await join(room, events, late)
        await late.wait_for_video_frames(1, timeout=5)
        first = late.video()[0].first_frame_at
        assert first is not None
        assert connected.done()
        assert first - connected.result() < 1.0, "late joiner waited too long for a keyframe"
        assert first - started < 3.0
        assert video.keyframe_requests > requests_before
        assert close_to(late.video()[0].colors[-1], RED)
    finally:
        await close_all(publisher, early, late)


async def test_leaving_publisher_is_unpublished_and_media_stops(room_and_events):
    room, events = room_and_events
    publisher = MediaClient("pub", tracks=[("camera", ColorVideoTrack(RED))])
    subscriber = MediaClient("sub")
    try:
        await join(room, events, publisher, subscribe=False)
        await join(room, events, subscriber)
        await subscriber.wait_for_video_frames(3, timeout=10)
        await room.remove_peer("pub")
        assert [t.peer_id for t in events.unpublished] == ["pub"]
        assert room.published_tracks() == []
        assert room.counters.tracks_subscribed == 0
        await asyncio.sleep(0.3)  # frames already in the subscriber's jitter buffer
        frames = subscriber.video()[0].frames
        await asyncio.sleep(1.0)
        assert subscriber.video()[0].frames == frames
    finally:
        await close_all(publisher, subscriber)


async def test_source_not_allowed_is_refused_and_never_forwarded(room_and_events):
    room, events = room_and_events
    publisher = MediaClient(
        "pub", tracks=[("camera", ColorVideoTrack(RED)), ("microphone", ToneAudioTrack())]
    )
    subscriber = MediaClient("sub", video_slots=1)
    try:
        await join(room, events, publisher, allowed_sources=frozenset({"microphone"}))
        assert [(r[0], r[2]) for r in events.refused] == [("pub", "camera")]
        assert "not allowed" in events.refused[0][3]
        assert [t.source for t in events.published] == ["microphone"]
        await join(room, events, subscriber)
        await subscriber.wait_until(lambda: any(a.frames >= 10 for a in subscriber.audio()), 10)
        await asyncio.sleep(0.5)
        assert all(v.frames == 0 for v in subscriber.video())
        assert all(sid in {t.sid for t in events.published} for sid in subscriber.mids.values())
        assert room.counters.tracks_subscribed == 1
    finally:
        await close_all(publisher, subscriber)


async def test_revoking_a_source_stops_forwarding_at_once(room_and_events):
    room, events = room_and_events
    publisher = MediaClient("pub", tracks=[("camera", ColorVideoTrack(RED))])
    subscriber = MediaClient("sub")
    try:
        await join(room, events, publisher, subscribe=False)
        await join(room, events, subscriber)
        await subscriber.wait_for_video_frames(3, timeout=10)
        forwarded = room.counters.packets_forwarded
        room.set_allowed_sources("pub", frozenset({"microphone"}))
        assert [t.source for t in events.unpublished] == ["camera"]
        assert room.counters.packets_forwarded == forwarded
        await asyncio.sleep(0.5)
        assert room.counters.packets_forwarded == forwarded
        # Granting it again publishes it anew (new sid) and media flows again.
        room.set_allowed_sources("pub", frozenset({"camera"}))
        assert len(events.published) == 2 and events.published[1].sid != events.published[0].sid
        frames = subscriber.video()[0].frames
        await subscriber.wait_until(lambda: subscriber.video()[0].frames > frames + 3, 5)
    finally:
        await close_all(publisher, subscriber)


BAD_CANDIDATES = [
    "garbage",
    "candidate:1 1 udp 2122260223 999.1.1.1 5000 typ host",
    "candidate:1 1 udp 2122260223 127.0.0.1 70000 typ host",
    "candidate:1 1 sctp 2122260223 127.0.0.1 5000 typ host",
    "candidate:1 x udp 2122260223 127.0.0.1 5000 typ host",
    "candidate:1 1 udp 2122260223 evil.example.com 5000 typ host",
    "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ bogus",
    "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host raddr",
    "candidate:" + "1" * 2000,
]


async def test_bad_sdp_and_candidates_are_refused_and_others_keep_receiving(room_and_events):
    from sfu import MediaError, SdpRejected, UnknownPeer

    room, events = room_and_events
    publisher = MediaClient("pub", tracks=[("camera", ColorVideoTrack(RED))])
    subscriber = MediaClient("sub")
    try:
        await join(room, events, publisher, subscribe=False)
        await join(room, events, subscriber)
        await subscriber.wait_for_video_frames(3, timeout=10)
        await room.add_peer("mallory", allowed_sources=frozenset({"camera"}), subscribe=True)
        good = subscriber.pc.localDescription.sdp
        bad_offers = {
            "": "SDP is empty",
            "v=0\r\n" + "a=x\r\n" * 3000: "lines; the limit is 2000",
            re.sub(r"(m=video \d+ \S+) ", r"\1 x ", good, count=1): "format",
            good.replace("a=rtcp-mux\r\n", ""): "rtcp-mux",
            good.replace("a=mid:", "a=notmid:"): "no a=mid",
            "x" * 70000: "bytes; the limit is 65536",
        }
        for sdp, reason in bad_offers.items():
            with pytest.raises(SdpRejected) as info:
                await room.handle_offer("mallory", sdp, {})
            assert reason in info.value.reason
        with pytest.raises(UnknownPeer):
            await room.handle_offer("nobody", good, {})
        with pytest.raises(MediaError, match="before the offer"):
            await room.add_ice_candidate("mallory", BAD_CANDIDATES[1], "0", None)
        for candidate in BAD_CANDIDATES:
            with pytest.raises(MediaError):
                await room.add_ice_candidate("sub", candidate, "0", 0)
        with pytest.raises(MediaError, match="unknown m-section"):
            await room.add_ice_candidate(
                "sub", "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "nope", None
            )
        await room.add_ice_candidate("sub", "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "0", 0)
        frames = subscriber.video()[0].frames
        await subscriber.wait_until(lambda: subscriber.video()[0].frames > frames + 5, 5)
    finally:
        await close_all(publisher, subscriber)


async def test_pli_storm_is_rate_limited_and_nacks_are_answered_with_rtx(room_and_events):
    room, events = room_and_events
    video = PreEncodedVp8Track(RED)
    publisher = MediaClient("pub", tracks=[("camera", video)])
    subscriber = MediaClient("sub")
    try:
        await join(room, events, publisher, subscribe=False)
        await join(room, events, subscriber)
        await subscriber.wait_for_video_frames(5, timeout=10)
        await asyncio.sleep(0.6)  # let the join-time keyframe request age out
        # The subscriber's receiver speaks RTCP on our behalf: 30 PLIs in ~0.75 s (a storm).
        receiver = next(t.receiver for t in subscriber.pc.getTransceivers() if t.kind == "video")
        stats = await receiver.getStats()
        media_ssrc = next(s.ssrc for s in stats.values() if s.type == "inbound-rtp")
        pli_received = room.counters.pli_received
        requests = video.keyframe_requests
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(30):
            await receiver._send_rtcp_pli(media_ssrc)
            await asyncio.sleep(0.025)
        elapsed = loop.time() - started
        await asyncio.sleep(0.6)  # the deferred, coalesced request
        assert room.counters.pli_received - pli_received == 30
        upstream = video.keyframe_requests - requests
        # One per 0.5 s while the storm lasts, plus the coalesced one after it.
        assert 1 <= upstream <= int(elapsed / 0.5) + 2, (upstream, elapsed)
        assert upstream < 10

        # NACK the last few packets the subscriber saw: answered from the RTX history.
        remote = receiver._RTCRtpReceiver__remote_streams[media_ssrc]
        lost = sorted((remote.max_seq - i) & 0xFFFF for i in range(1, 5))
        rtx_sent = room.counters.rtx_sent
        await receiver._send_rtcp_nack(media_ssrc, lost)
        await subscriber.wait_until(lambda: room.counters.rtx_sent >= rtx_sent + 4, timeout=2)
        assert room.counters.nack_received >= 4
    finally:
        await close_all(publisher, subscriber)
