"""Guards for every aiortc/aioice internal that sfu/aiortc_hooks.py relies on.

If one of these fails after an upgrade, the SFU would silently decode, drop media or stop
answering NACKs: read the new aiortc source and fix sfu/aiortc_hooks.py before anything else.
"""

from __future__ import annotations

import inspect
import threading

import aioice
import aiortc
import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpDecodingParameters,
    RTCRtpReceiveParameters,
    RTCRtpRtxParameters,
)
from aiortc.rtp import RTCP_PSFB_PLI, RTCP_RTPFB_NACK, RtcpPsfbPacket, RtcpRtpfbPacket, RtpPacket

from sfu import aiortc_hooks
from sfu.aiortc_hooks import PRIVATE_NAMES, ReceiverTap, SenderTap, gather_on

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
RTX = RTCRtpCodecParameters(
    mimeType="video/rtx", clockRate=90000, payloadType=97, parameters={"apt": 96}
)


def test_versions_are_the_ones_the_hooks_were_written_for():
    assert aiortc.__version__.startswith("1.16."), aiortc.__version__
    assert aioice.__version__.startswith("0.13."), aioice.__version__
    assert aiortc_hooks.HISTORY_SIZE == 128


async def test_every_private_name_exists_on_real_objects():
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video")
        objects = {
            "RTCRtpReceiver": transceiver.receiver,
            "RTCRtpSender": transceiver.sender,
            "RTCDtlsTransport": transceiver.sender.transport,
            "RTCRtpTransceiver": transceiver,
            "RTCIceGatherer": transceiver.sender.transport.transport.iceGatherer,
        }
        missing = [
            f"{cls}.{name}" for cls, name in PRIVATE_NAMES if not hasattr(objects[cls], name)
        ]
        assert missing == [], f"aiortc changed: {missing}"
    finally:
        await pc.close()


@pytest.mark.parametrize(
    ("function", "parameters"),
    [
        (RTCRtpReceiver._handle_rtp_packet, ["self", "packet", "arrival_time_ms"]),
        (RTCRtpReceiver._handle_rtcp_packet, ["self", "packet"]),
        (RTCRtpReceiver._send_rtcp_pli, ["self", "media_ssrc"]),
        (RTCRtpReceiver._send_rtcp_nack, ["self", "media_ssrc", "lost"]),
        (RTCRtpReceiver.receive, ["self", "parameters"]),
        (RTCRtpSender.send, ["self", "parameters"]),
        (RTCRtpSender._send_keyframe, ["self"]),
        (RTCRtpSender._handle_rtcp_packet, ["self", "packet"]),
        (RTCDtlsTransport._send_rtp, ["self", "data"]),
        (
            aioice.Connection.get_component_candidates,
            ["self", "component", "addresses", "timeout"],
        ),
    ],
)
def test_signatures(function, parameters):
    assert list(inspect.signature(function).parameters) == parameters


@pytest.mark.parametrize(
    ("function", "fragment"),
    [
        # The transport hands every routed packet to this per-instance attribute.
        (RTCDtlsTransport._handle_rtp_data, "receiver._handle_rtp_packet(packet, arrival_time_ms"),
        # receive() starts the decoder thread we stop.
        (RTCRtpReceiver.receive, "self.__decoder_thread.start()"),
        # aiortc answers NACKs from this history, keyed like we store it.
        (RTCRtpSender._retransmit, "self.__rtp_history.get(sequence_number % RTP_HISTORY_SIZE)"),
        # PLI and FIR arrive through _send_keyframe.
        (RTCRtpSender._handle_rtcp_packet, "self._send_keyframe()"),
        # SRs carry the fields SenderTap.set_report_clock writes.
        (RTCRtpSender._run_rtcp, "ntp_timestamp=self.__ntp_timestamp"),
        (RTCRtpSender._run_rtcp, "rtp_timestamp=self.__rtp_timestamp"),
        (RTCRtpSender._run_rtcp, "packet_count=self.__packet_count"),
        # Our tracks never yield, so the sender never creates an encoder.
        (RTCRtpSender._next_encoded_frame, "data = await self.__track.recv()"),
        # gather_candidates goes through the per-instance get_component_candidates.
        (aioice.Connection.gather_candidates, "self.get_component_candidates("),
        # The receiver's RTCP loop reports from the statistics we keep feeding.
        (RTCRtpReceiver._run_rtcp, "self.__remote_streams.items()"),
    ],
)
def test_behaviour_the_hooks_rely_on(function, fragment):
    assert fragment in inspect.getsource(function), f"aiortc changed {function.__qualname__}"


async def test_receiver_tap_stops_the_decoder_and_routes_packets():
    pc = RTCPeerConnection()
    received: list[tuple[RtpPacket, RTCRtpCodecParameters]] = []
    drops: list[None] = []

    async def on_rtp(packet: RtpPacket, codec: RTCRtpCodecParameters) -> None:
        received.append((packet, codec))

    try:
        receiver = pc.addTransceiver("video").receiver
        receiver._track = aiortc.rtcrtpreceiver.RemoteStreamTrack(kind="video")
        tap = ReceiverTap(receiver, on_rtp, lambda sr: None, lambda: drops.append(None))
        await receiver.receive(
            RTCRtpReceiveParameters(
                codecs=[VP8, RTX],
                encodings=[
                    RTCRtpDecodingParameters(
                        ssrc=1234, payloadType=96, rtx=RTCRtpRtxParameters(ssrc=5678)
                    )
                ],
            )
        )
        assert tap.started
        assert receiver._RTCRtpReceiver__decoder_thread is None
        assert not [t for t in threading.enumerate() if t.name.endswith("-decoder")]
        await receiver._handle_rtp_packet(
            RtpPacket(payload_type=96, sequence_number=10, ssrc=1234, payload=b"\x10\x00"), 0
        )
        rtx = RtpPacket(payload_type=97, sequence_number=1, ssrc=5678, payload=b"\x00\x0b\x10\x01")
        await receiver._handle_rtp_packet(rtx, 0)
        await receiver._handle_rtp_packet(RtpPacket(payload_type=111, ssrc=1234), 0)
        assert [(p.sequence_number, p.ssrc, p.payload, c.name) for p, c in received] == [
            (10, 1234, b"\x10\x00", "VP8"),
            (11, 1234, b"\x10\x01", "VP8"),
        ]
        assert len(drops) == 1  # unknown payload type
        assert 1234 in receiver._RTCRtpReceiver__remote_streams
        await receiver.stop()
    finally:
        await pc.close()


async def test_sender_tap_history_counters_and_keyframe_requests():
    pc = RTCPeerConnection()
    requests: list[None] = []
    nacks: list[tuple[int, int]] = []
    try:
        sender = pc.addTransceiver("video").sender
        tap = SenderTap(
            sender,
            on_started=lambda: None,
            on_keyframe_request=lambda: requests.append(None),
            on_nack=lambda lost, answered: nacks.append((lost, answered)),
        )
        assert tap.ssrc == sender._ssrc
        packet = RtpPacket(payload_type=96, sequence_number=300, ssrc=tap.ssrc, payload=b"abc")
        with pytest.raises(ConnectionError):  # not connected: nothing sent, history kept
            await tap.write(packet)
        assert sender._RTCRtpSender__rtp_history[300 % 128] is packet
        tap.set_report_clock(123 << 32, 456)
        assert sender._RTCRtpSender__ntp_timestamp == 123 << 32
        assert sender._RTCRtpSender__rtp_timestamp == 456
        await sender._handle_rtcp_packet(
            RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=tap.ssrc)
        )
        assert len(requests) == 1
        nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=tap.ssrc)
        nack.lost = [1000, 1001]  # not in the history: nothing to resend
        await sender._handle_rtcp_packet(nack)
        assert nacks == [(2, 0)]
    finally:
        await pc.close()


async def test_gather_on_binds_loopback_and_announces_the_configured_address():
    pc = RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver("audio")
        gather_on(pc, ["127.0.0.1"], "203.0.113.7")
        gather_on(pc, ["127.0.0.1"], "203.0.113.7")  # idempotent
        await pc.setLocalDescription(await pc.createOffer())
        gatherer = transceiver.sender.transport.transport.iceGatherer
        assert {c.host for c in gatherer._connection.local_candidates} == {"127.0.0.1"}
        candidates = [x for x in pc.localDescription.sdp.splitlines() if "candidate:" in x]
        assert candidates and all(" 203.0.113.7 " in line for line in candidates)
    finally:
        await pc.close()
