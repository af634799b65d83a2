"""H.264 forwarded end to end between real aiortc peers on 127.0.0.1.

The publisher offers only H.264 (packetization-mode 1, RFC 6184); the subscribers offer
aiortc's default list, VP8 first, so the SFU must pick the subscriber's H.264 payload type
and the subscriber's H.264 decoder (FFmpeg) must get frames it can decode.
"""

from __future__ import annotations

import asyncio

import av
import pytest

from tests.support.aiortc_client import MediaClient, join
from tests.support.media import ColorVideoTrack, PreEncodedVideoTrack, close_to

BLUE = (30, 60, 220)
ORANGE = (240, 140, 20)

pytestmark = pytest.mark.skipif(
    "libx264" not in av.codecs_available, reason="this PyAV build has no H.264 encoder"
)


def h264_payload_type(client: MediaClient, mid: str) -> int:
    """The payload type the client's answer-applied receiver uses for H.264."""
    transceiver = next(t for t in client.pc.getTransceivers() if t.mid == mid)
    return next(c.payloadType for c in transceiver._codecs if c.mimeType.lower() == "video/h264")


async def test_h264_from_aiortc_encoder_is_decoded_by_the_subscriber(room_and_events):
    room, events = room_and_events
    publisher = MediaClient("pub", tracks=[("camera", ColorVideoTrack(BLUE))], video_codec="H264")
    subscriber = MediaClient("sub")
    try:
        await join(room, events, publisher, subscribe=False)
        await join(room, events, subscriber)
        camera = events.published[0]
        await subscriber.wait_until(
            lambda: (
                (r := subscriber.by_sid(camera.sid)) is not None
                and r.frames >= 10
                and close_to(r.colors[-1], BLUE)
            ),
            timeout=10,
        )
        received = subscriber.by_sid(camera.sid)
        assert received is not None
        offered = next(t for t in subscriber.pc.getTransceivers() if t.mid == received.mid)
        assert offered._codecs[0].mimeType == "video/VP8"  # H.264 is not its first choice
        h264 = h264_payload_type(subscriber, received.mid)
        assert {p.payload_type for p in received.wire} == {h264}
    finally:
        await asyncio.gather(publisher.close(), subscriber.close())


async def test_h264_late_joiner_gets_an_idr_and_decodes(room_and_events):
    room, events = room_and_events
    # Only an IDR when asked (see PreEncodedVideoTrack): a late joiner decodes only if the
    # SFU held it until an IDR and asked the publisher for one.
    video = PreEncodedVideoTrack(ORANGE, codec="h264")
    publisher = MediaClient("pub", tracks=[("camera", video)], video_codec="H264")
    early = MediaClient("early")
    late = MediaClient("late")
    try:
        await join(room, events, publisher, subscribe=False)
        await join(room, events, early)
        await early.wait_for_video_frames(5, timeout=10)
        await asyncio.sleep(1.0)  # well past the first IDR
        keyframes, requests = video.keyframes, video.keyframe_requests
        await join(room, events, late)
        await late.wait_until(
            lambda: any(r.frames >= 5 and close_to(r.colors[-1], ORANGE) for r in late.video()),
            timeout=5,
        )
        assert video.keyframe_requests > requests
        assert video.keyframes > keyframes
        # The first packet the late joiner got starts the IDR: SPS in a STAP-A (aiortc
        # aggregates SPS+PPS, RFC 6184 5.7.1) or the SPS itself.
        head = late.video()[0].wire[0].head
        nal_type = head[0] & 0x1F
        first_nal = head[3] & 0x1F if nal_type == 24 else nal_type
        assert first_nal == 7, head.hex()  # SPS: the IDR's parameter sets come first
    finally:
        await asyncio.gather(publisher.close(), early.close(), late.close())
