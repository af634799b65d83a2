"""TrackForwarder on real aiortc objects (not connected: writes fail, state is what counts)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiortc.rtcrtpreceiver
import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpCodecParameters,
    RTCRtpDecodingParameters,
    RTCRtpReceiveParameters,
    RTCRtpSendParameters,
)
from aiortc.rtp import RtcpSenderInfo, RtcpSrPacket, RtpPacket

from sfu.counters import MediaCounters
from sfu.events import PublishedTrack
from sfu.forwarder import TrackForwarder
from sfu.slot import Slot
from sfu.speaker import SpeakerDetector

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
KEYFRAME = b"\x10\x00"  # VP8 descriptor S=1 PID=0, then P=0
DELTA = b"\x10\x01"


@pytest.fixture
async def setup() -> AsyncIterator[tuple[TrackForwarder, Slot, MediaCounters]]:
    publisher, subscriber = RTCPeerConnection(), RTCPeerConnection()
    counters = MediaCounters()
    receiver = publisher.addTransceiver("video").receiver
    receiver._track = aiortc.rtcrtpreceiver.RemoteStreamTrack(kind="video")
    forwarder = TrackForwarder(
        peer_id="pub",
        mid="0",
        kind="video",
        source="camera",
        receiver=receiver,
        counters=counters,
        speaker=SpeakerDetector(),
        pli_min_interval_s=0.5,
    )
    await receiver.receive(
        RTCRtpReceiveParameters(
            codecs=[VP8], encodings=[RTCRtpDecodingParameters(ssrc=1, payloadType=96)]
        )
    )
    forwarder.track = PublishedTrack(
        sid="TR_x", peer_id="pub", kind="video", source="camera", mid="0"
    )
    transceiver = subscriber.addTransceiver("video", direction="sendonly")
    transceiver._codecs = [VP8]
    slot = Slot("sub", transceiver, counters, lambda slot: None)
    await transceiver.sender.send(
        RTCRtpSendParameters(codecs=[VP8], muxId="0", rtcp=RTCRtcpParameters(cname="c"))
    )
    forwarder.attach(slot)
    yield forwarder, slot, counters
    await forwarder.close()
    await receiver.stop()
    await publisher.close()
    await subscriber.close()


async def feed(forwarder: TrackForwarder, ssrc: int, seq: int, payload: bytes) -> None:
    packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=seq * 3000, ssrc=ssrc)
    packet.payload = payload
    await forwarder.tap.receiver._handle_rtp_packet(packet, 0)


async def test_a_new_publisher_ssrc_rebases_and_regates_every_slot(setup):
    forwarder, slot, counters = setup
    await feed(forwarder, 1, 100, KEYFRAME)
    await feed(forwarder, 1, 101, DELTA)
    assert not slot.awaiting_keyframe
    await forwarder.tap.receiver._handle_rtcp_packet(
        RtcpSrPacket(
            ssrc=1,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=5 << 32, rtp_timestamp=0, packet_count=2, octet_count=4
            ),
        )
    )
    assert forwarder._sender_report is not None
    dropped = counters.packets_dropped
    await feed(forwarder, 2, 40000, DELTA)  # another SSRC, mid-GOP
    assert forwarder.media_ssrc == 2
    assert slot.awaiting_keyframe  # a decoder cannot continue on the new source's delta
    assert forwarder._sender_report is None  # SSRC 1's NTP/RTP mapping no longer applies
    assert counters.packets_dropped == dropped + 1
    seq_before = slot.rewriter._highest_out
    await feed(forwarder, 2, 40001, KEYFRAME)
    assert not slot.awaiting_keyframe
    assert slot.rewriter._highest_out == (seq_before + 1) & 0xFFFF  # contiguous for the subscriber


async def test_a_closed_forwarder_asks_for_nothing(setup):
    forwarder, _, counters = setup
    await feed(forwarder, 1, 100, KEYFRAME)
    await forwarder.close()
    sent = counters.pli_sent
    forwarder.request_keyframe()
    forwarder.subscriber_wants_keyframe()
    assert counters.pli_sent == sent
    assert forwarder._tasks == set() and forwarder._deferred is None
