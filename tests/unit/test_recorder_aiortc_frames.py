"""Guards for every aiortc/aioice internal recorder/aiortc_frames.py relies on.

If one of these fails after an upgrade, the recorder would decode every frame (and record
nothing), record rebased timestamps or lose its RTCP timing: read the new aiortc source and
fix recorder/aiortc_frames.py first.
"""

from __future__ import annotations

import inspect
import threading

import aioice
import aiortc
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver
from aiortc import rtcrtpreceiver as aiortc_receiver
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpDecodingParameters,
    RTCRtpReceiveParameters,
)
from aiortc.rtp import RtcpSenderInfo, RtcpSrPacket, RtpPacket

from recorder.aiortc_frames import PRIVATE_NAMES, FrameTap, bind_ice

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


def test_versions_are_the_ones_the_module_was_written_for() -> None:
    assert aiortc.__version__.startswith("1.16."), aiortc.__version__
    assert aioice.__version__.startswith("0.13."), aioice.__version__


async def test_every_private_name_exists_on_real_objects() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        objects = {
            "RTCRtpReceiver": transceiver.receiver,
            "RTCIceGatherer": transceiver.receiver.transport.transport.iceGatherer,
        }
        missing = [f"{c}.{n}" for c, n in PRIVATE_NAMES if not hasattr(objects[c], n)]
        assert missing == [], f"aiortc changed: {missing}"
    finally:
        await pc.close()


def _fragments() -> list[tuple[object, str]]:
    return [
        # Reassembled frames go to the (per-instance) decoder queue, only while the decoder
        # thread exists, after the (per-instance) timestamp mapper.
        (RTCRtpReceiver._handle_rtp_packet, "self.__decoder_queue.put((codec, encoded_frame))"),
        (
            RTCRtpReceiver._handle_rtp_packet,
            "if encoded_frame is not None and self.__decoder_thread",
        ),
        (RTCRtpReceiver._handle_rtp_packet, "self.__timestamp_mapper.map("),
        # receive() hands the thread our queue; stop() ends it with None through the queue.
        (RTCRtpReceiver.receive, "self.__decoder_queue,"),
        (RTCRtpReceiver.receive, "target=decoder_worker,"),
        (RTCRtpReceiver._RTCRtpReceiver__stop_decoder, "self.__decoder_queue.put(None)"),
        (aiortc_receiver.decoder_worker, "task = input_q.get()"),
        (aiortc_receiver.decoder_worker, "if task is None:"),
        # A JitterFrame carries .data and .timestamp.
        (aiortc.jitterbuffer.JitterFrame.__init__, "self.data = data"),
        (aiortc.jitterbuffer.JitterFrame.__init__, "self.timestamp = timestamp"),
        # SRs reach the receiver's per-instance RTCP entry point.
        (aiortc.rtcdtlstransport.RTCDtlsTransport._handle_rtcp_data, "_handle_rtcp_packet("),
        # Gathering goes through the per-instance get_component_candidates.
        (aioice.Connection.gather_candidates, "self.get_component_candidates("),
    ]


def test_behaviour_the_module_relies_on() -> None:
    for function, fragment in _fragments():
        source = inspect.getsource(function)  # type: ignore[arg-type]
        assert fragment in source, f"aiortc changed {function}: {fragment!r}"
    signature = inspect.signature(RTCRtpReceiver._send_rtcp_pli)
    assert list(signature.parameters) == ["self", "media_ssrc"]
    get = inspect.signature(aioice.Connection.get_component_candidates)
    assert list(get.parameters) == ["self", "component", "addresses", "timeout"]


def _vp8_packet(seq: int, timestamp: int, body: bytes) -> RtpPacket:
    # VP8 payload descriptor (RFC 7741 4.2): S=1, PID=0, no extensions.
    return RtpPacket(
        payload_type=96, sequence_number=seq, timestamp=timestamp, ssrc=1234, payload=b"\x10" + body
    )


async def test_frames_reach_the_sink_undecoded_with_raw_timestamps() -> None:
    pc = RTCPeerConnection()
    frames: list[tuple[str, bytes, int]] = []
    reports: list[tuple[int, int, int]] = []
    try:
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        receiver._track = aiortc_receiver.RemoteStreamTrack(kind="video")
        tap = FrameTap(
            receiver,
            lambda codec, data, ts: frames.append((codec.name, data, ts)),
            lambda ssrc, ntp, rtp: reports.append((ssrc, ntp, rtp)),
        )
        assert await tap.request_keyframe() is False  # nothing received yet
        await receiver.receive(
            RTCRtpReceiveParameters(
                codecs=[VP8], encodings=[RTCRtpDecodingParameters(ssrc=1234, payloadType=96)]
            )
        )
        # Timestamps across the 32-bit wrap; a frame is complete when the next one starts.
        stamps = [0xFFFFF000, 0xFFFFF000 + 3000, (0xFFFFF000 + 6000) & 0xFFFFFFFF, 9999]
        for seq, stamp in enumerate(stamps):
            await receiver._handle_rtp_packet(_vp8_packet(seq, stamp, bytes([seq]) * 5), 0)
        assert frames == [("VP8", bytes([i]) * 5, stamps[i]) for i in range(3)]
        assert receiver.track._queue.qsize() == 0  # nothing was decoded
        # No bandwidth estimation on the recorder's video receivers (nothing it steers).
        assert receiver._RTCRtpReceiver__remote_bitrate_estimator is None
        assert tap.media_ssrc() == 1234
        # A sink that raises is contained (the transport's receive loop must survive).
        tap.queue._on_frame = lambda codec, data, ts: 1 / 0
        await receiver._handle_rtp_packet(_vp8_packet(4, 20000, b"x"), 0)
        assert tap.queue.failures == 1
        # SRs are reported; one without an NTP time (nothing forwarded yet) is not.
        for ntp in (0, 0xE000000080000000):
            sr = RtcpSrPacket(
                ssrc=1234,
                sender_info=RtcpSenderInfo(
                    ntp_timestamp=ntp, rtp_timestamp=777, packet_count=1, octet_count=1
                ),
            )
            await receiver._handle_rtcp_packet(sr)
        assert reports == [(1234, 0xE000000080000000, 777)]
        await receiver.stop()
        # stop() ended aiortc's decoder thread through our queue.
        assert not [t for t in threading.enumerate() if t.name == "video-decoder"]
    finally:
        await pc.close()


async def test_bind_ice_gathers_on_loopback() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver("audio", direction="recvonly")
        bind_ice(pc, ["127.0.0.1"])
        bind_ice(pc, ["127.0.0.1"])  # idempotent
        await pc.setLocalDescription(await pc.createOffer())
        gatherer = transceiver.receiver.transport.transport.iceGatherer
        assert {c.host for c in gatherer._connection.local_candidates} == {"127.0.0.1"}
    finally:
        await pc.close()
