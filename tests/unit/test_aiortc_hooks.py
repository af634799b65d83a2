"""Guards for every aiortc/aioice internal that sfu/aiortc_hooks.py relies on.

If one of these fails after an upgrade, the SFU would silently decode, drop media or stop
answering NACKs: read the new aiortc source and fix sfu/aiortc_hooks.py before anything else.
"""

from __future__ import annotations

import inspect
import socket
import threading

import aioice
import aiortc
import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc import rtcpeerconnection as aiortc_pc
from aiortc.rtcdtlstransport import RTCDtlsTransport, RtpRouter
from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpCodecParameters,
    RTCRtpDecodingParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpParameters,
    RTCRtpReceiveParameters,
    RTCRtpRtxParameters,
    RTCRtpSendParameters,
)
from aiortc.rtp import (
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtpPacket,
)

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
            "RTCIceTransport": transceiver.sender.transport.transport,
            "Connection": transceiver.sender.transport.transport._connection,
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
        (aioice.ice.StunProtocol.send_data, ["self", "data", "addr"]),
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
        # aiortc's own sender answers NACKs only here; SenderTap answers them instead.
        (RTCRtpSender._handle_rtcp_packet, "await self._retransmit(seq)"),
        # The answer announces the RTX SSRC SenderTap.answer_nack sends from.
        (
            aiortc_pc.create_media_description_for_transceiver,
            "items=[transceiver.sender._ssrc, transceiver.sender._rtx_ssrc]",
        ),
        # The receive loop calls the per-instance entry points guard_transport replaces ...
        (RTCDtlsTransport._recv_next, "await self._handle_rtp_data(data, arrival_time_ms="),
        (RTCDtlsTransport._recv_next, "await self._handle_rtcp_data(data)"),
        # ... which mirror these (parse with the transport's map, route with its router).
        (RTCDtlsTransport._handle_rtp_data, "parse(data, self._rtp_header_extensions_map)"),
        (RTCDtlsTransport._handle_rtp_data, "receiver = self._rtp_router.route_rtp(packet)"),
        (RTCDtlsTransport._handle_rtcp_data, "self._rtp_router.route_rtcp(packet)"),
        # The router learns unknown SSRCs into this table (what MAX_SSRCS_PER_RECEIVER caps).
        (RtpRouter.route_rtp, "self.ssrc_table[packet.ssrc] = pt_receiver"),
        # guard_transport inlines route_rtp's first case from these two tables.
        (RtpRouter.route_rtp, "ssrc_receiver = self.ssrc_table.get(packet.ssrc)"),
        (RtpRouter.route_rtp, "self.payload_type_table.get(packet.payload_type, set())"),
        (RtpRouter.route_rtp, "if ssrc_receiver is not None and ssrc_receiver in pt_receivers:"),
        # ... and relies on the tables never being replaced, only filled.
        (RtpRouter.__init__, "self.ssrc_table: dict[int, RtpReceiver] = {}"),
        # PLI and FIR arrive through _send_keyframe.
        (RTCRtpSender._handle_rtcp_packet, "self._send_keyframe()"),
        # SenderTap._send does what these layers do, minus their coroutines: protect with
        # the transport's SRTP session once DTLS is connected ...
        (RTCDtlsTransport._send_rtp, "if self._state != State.CONNECTED:"),
        (RTCDtlsTransport._send_rtp, "data = self._tx_srtp.protect(data)"),
        (RTCDtlsTransport._send_rtp, "await self.transport._send(data)"),
        # ... then send on the nominated pair of component 1 ...
        (aioice.Connection.send, "await self.sendto(data, 1)"),
        (aioice.Connection.sendto, "active_pair = self._nominated.get(component)"),
        (
            aioice.Connection.sendto,
            "await active_pair.protocol.send_data(data, active_pair.remote_addr)",
        ),
        # ... through its datagram transport (a TurnTransport for a relayed pair).
        (aioice.ice.StunProtocol.send_data, "self.transport.sendto(data, addr)"),
        # aioice fills and clears the pair table in place (SenderTap keeps a reference).
        (aioice.Connection.close, "self._nominated.clear()"),
        # size_socket_buffers finds the sockets aioice binds here.
        (aioice.Connection.get_component_candidates, "self._protocols += host_protocols"),
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
            on_drop=lambda: None,
        )
        assert tap.ssrc == sender._ssrc
        assert tap.rtx_ssrc == sender._rtx_ssrc
        with pytest.raises(ConnectionError):  # not connected: nothing sent, history kept
            tap.write(96, 0, 300, 9000, b"abc", None, None)
        seq, data, header_length = tap._history[300 % 128]  # type: ignore[misc]
        assert seq == 300 and data[header_length:] == b"abc"
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


H264 = RTCRtpCodecParameters(
    mimeType="video/H264",
    clockRate=90000,
    payloadType=102,
    parameters={"packetization-mode": "1", "profile-level-id": "42e01f"},
)
H264_RTX = RTCRtpCodecParameters(
    mimeType="video/rtx", clockRate=90000, payloadType=103, parameters={"apt": 102}
)


async def test_sender_tap_pairs_each_payload_type_with_its_own_rtx_type():
    """aiortc's sender keeps only the RTX type of the first codec (rtcrtpsender.py send());
    an H.264 packet to a subscriber that listed VP8 first needs apt=102's type, not 97."""
    pc = RTCPeerConnection()
    try:
        sender = pc.addTransceiver("video").sender
        started: list[None] = []
        tap = SenderTap(
            sender,
            on_started=lambda: started.append(None),
            on_keyframe_request=lambda: None,
            on_nack=lambda lost, answered: None,
            on_drop=lambda: None,
        )
        await sender.send(
            RTCRtpSendParameters(
                codecs=[VP8, RTX, H264, H264_RTX], muxId="0", rtcp=RTCRtcpParameters(cname="x")
            )
        )
        assert started == [None]
        assert tap.rtx_payload_types == {96: 97, 102: 103}
        await sender.stop()
    finally:
        await pc.close()


def _abs_send_time_map(transport: RTCDtlsTransport) -> None:
    transport._rtp_header_extensions_map.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(
                    id=3, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
                )
            ]
        )
    )


# abs-send-time (id 3) with 2 bytes instead of 3 (one-byte header, RFC 8285 4.2: L=1).
BAD_ABS_SEND_TIME = bytes.fromhex("906000050000000700000009bede0001310102000000") + b"\x90"
# A REMB claiming 12 SSRCs but carrying 2 (aiortc's unpack_remb_fci raises struct.error).
BAD_REMB = bytes.fromhex("8fce0006000000010000000052454d420c0186a00000000100000002")


async def test_aiortc_itself_dies_on_these_packets():
    """Control for the guard below: unguarded, these escape the receive loop."""
    import struct

    pc = RTCPeerConnection()
    try:
        transport = pc.addTransceiver("video").sender.transport
        _abs_send_time_map(transport)
        with pytest.raises(struct.error):
            await RTCDtlsTransport._handle_rtp_data(transport, BAD_ABS_SEND_TIME, 0)
        with pytest.raises(struct.error):
            await RTCDtlsTransport._handle_rtcp_data(transport, BAD_REMB)
    finally:
        await pc.close()


async def test_guard_transport_drops_what_aiortc_chokes_on_and_caps_ssrcs():
    pc = RTCPeerConnection()
    drops: list[None] = []
    received: list[int] = []

    async def on_rtp(packet: RtpPacket, codec: RTCRtpCodecParameters) -> None:
        received.append(packet.ssrc)

    try:
        receiver = pc.addTransceiver("video").receiver
        receiver._track = aiortc.rtcrtpreceiver.RemoteStreamTrack(kind="video")
        ReceiverTap(receiver, on_rtp, lambda sr: None, lambda: drops.append(None))
        await receiver.receive(
            RTCRtpReceiveParameters(
                codecs=[VP8], encodings=[RTCRtpDecodingParameters(ssrc=1234, payloadType=96)]
            )
        )
        transport = receiver.transport
        _abs_send_time_map(transport)
        await transport._handle_rtp_data(BAD_ABS_SEND_TIME, 0)
        await transport._handle_rtcp_data(BAD_REMB)
        await transport._handle_rtp_data(b"\x80", 0)
        assert len(drops) == 3
        # A peer spraying SSRCs with a valid payload type: a bounded number is learned.
        for ssrc in range(5000, 5100):
            packet = RtpPacket(payload_type=96, sequence_number=1, ssrc=ssrc, payload=b"\x10")
            await transport._handle_rtp_data(packet.serialize(), 0)
        router = transport._rtp_router
        assert len(router.ssrc_table) == aiortc_hooks.MAX_SSRCS_PER_RECEIVER
        assert len(receiver._RTCRtpReceiver__remote_streams) < aiortc_hooks.MAX_SSRCS_PER_RECEIVER
        assert len(drops) == 3 + 100 - (aiortc_hooks.MAX_SSRCS_PER_RECEIVER - 1)
        # The signalled SSRC still gets through.
        packet = RtpPacket(payload_type=96, sequence_number=2, ssrc=1234, payload=b"\x10")
        await transport._handle_rtp_data(packet.serialize(), 0)
        assert received[-1] == 1234
        await receiver.stop()
    finally:
        await pc.close()


async def test_receiver_tap_does_not_walk_a_sequence_number_jump():
    """aiortc's NackGenerator loops over every number of a jump (32767 per packet at most);
    the tap resets it instead, and a new SSRC starts a fresh NACK state."""
    pc = RTCPeerConnection()

    async def on_rtp(packet: RtpPacket, codec: RTCRtpCodecParameters) -> None:
        pass

    try:
        receiver = pc.addTransceiver("video").receiver
        receiver._track = aiortc.rtcrtpreceiver.RemoteStreamTrack(kind="video")
        ReceiverTap(receiver, on_rtp, lambda sr: None, lambda: None)
        await receiver.receive(
            RTCRtpReceiveParameters(
                codecs=[VP8], encodings=[RTCRtpDecodingParameters(ssrc=1234, payloadType=96)]
            )
        )
        nack = receiver._RTCRtpReceiver__nack_generator
        for seq in (10, 12, 30000):
            await receiver._handle_rtp_packet(
                RtpPacket(payload_type=96, sequence_number=seq, ssrc=1234, payload=b"\x10"), 0
            )
        assert nack.max_seq == 30000 and nack.missing == set()
        await receiver._handle_rtp_packet(
            RtpPacket(payload_type=96, sequence_number=30003, ssrc=1234, payload=b"\x10"), 0
        )
        assert nack.missing == {30001, 30002}  # ordinary loss is still NACKed
        await receiver._handle_rtp_packet(
            RtpPacket(payload_type=96, sequence_number=7, ssrc=4321, payload=b"\x10"), 0
        )
        assert nack.max_seq == 7 and nack.missing == set()
        await receiver.stop()
    finally:
        await pc.close()


def _kernel_limit(name: str) -> int:
    with open(f"/proc/sys/net/core/{name}") as limit:
        return int(limit.read())


async def test_gather_on_sizes_the_socket_buffers():
    size = 1024 * 1024
    pc = RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver("audio")
        gather_on(pc, ["127.0.0.1"], None, size)
        await pc.setLocalDescription(await pc.createOffer())
        connection = transceiver.sender.transport.transport._connection
        sockets = [p.transport.get_extra_info("socket") for p in connection._protocols]
        assert sockets
        for sock in sockets:
            # Linux doubles the value for its bookkeeping and caps it at the sysctl.
            received = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            sent = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            assert received == 2 * min(size, _kernel_limit("rmem_max"))
            assert sent == 2 * min(size, _kernel_limit("wmem_max"))
    finally:
        await pc.close()
