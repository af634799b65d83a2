"""Every use of aiortc/aioice internals, in one place (aiortc 1.16.x, aioice 0.13).

aiortc has no API for an SFU: a receiver always feeds a jitter buffer and a decoder thread,
a sender always pulls frames from a track and encodes them. The functions here take those
objects over *per instance* (no class or module is patched), so that:

- a publisher's packets go to our handler instead of the jitter buffer/decoder
  (``RTCRtpReceiver._handle_rtp_packet``), while aiortc's own RTCP bookkeeping (receiver
  reports, REMB, NACK generation) keeps being fed through its private state;
- the idle decoder thread ``receive()`` starts is stopped before it ever gets a frame;
- rewritten packets are written straight to a subscriber's DTLS transport, kept in the
  sender's history and reflected in its SR counters; NACKs are answered here (aiortc's own
  ``_retransmit`` would use the RTX type of the *first* negotiated codec, whatever codec the
  lost packet carried); a subscriber's PLI/FIR reaches us via ``_send_keyframe``;
- the DTLS transport's packet entry points are replaced by versions that drop, instead of
  dying on, packets aiortc's parsers choke on, and that cap the SSRCs a peer can make us
  track (``guard_transport``);
- ICE gathers on configured addresses (aioice's ``get_host_addresses`` drops 127.0.0.1)
  and announces a configured address.

Each private name used below is listed in ``PRIVATE_NAMES`` and checked by
tests/unit/test_aiortc_hooks.py, which fails loudly when an aiortc upgrade changes one.
"""

from __future__ import annotations

import logging
import queue
import random
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from aiortc import (
    RTCDtlsTransport,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpParameters
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_RTPFB_NACK,
    RTP_HISTORY_SIZE,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    RtpPacket,
    pack_remb_fci,
    unwrap_rtx,
)

from .rtp_header import ExtensionIds, HeaderWriter

logger = logging.getLogger(__name__)

# (class, attribute) pairs this module reads or replaces; the guard test checks each one.
PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("RTCRtpReceiver", "_handle_rtp_packet"),
    ("RTCRtpReceiver", "_handle_rtcp_packet"),
    ("RTCRtpReceiver", "_send_rtcp"),
    ("RTCRtpReceiver", "_send_rtcp_nack"),
    ("RTCRtpReceiver", "_send_rtcp_pli"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__codecs"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__rtx_ssrc"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__remote_streams"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__remote_bitrate_estimator"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__nack_generator"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__rtcp_ssrc"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__decoder_queue"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__decoder_thread"),
    ("RTCRtpSender", "_ssrc"),
    ("RTCRtpSender", "_rtx_ssrc"),
    ("RTCRtpSender", "_send_keyframe"),
    ("RTCRtpSender", "_handle_rtcp_packet"),
    ("RTCRtpSender", "_RTCRtpSender__packet_count"),
    ("RTCRtpSender", "_RTCRtpSender__octet_count"),
    ("RTCRtpSender", "_RTCRtpSender__ntp_timestamp"),
    ("RTCRtpSender", "_RTCRtpSender__rtp_timestamp"),
    ("RTCDtlsTransport", "_state"),
    ("RTCDtlsTransport", "_tx_srtp"),
    ("RTCDtlsTransport", "_handle_rtp_data"),
    ("RTCDtlsTransport", "_handle_rtcp_data"),
    ("RTCDtlsTransport", "_rtp_router"),
    ("RTCDtlsTransport", "_rtp_header_extensions_map"),
    ("RTCRtpTransceiver", "_codecs"),
    ("RTCIceGatherer", "_connection"),
    ("RTCIceTransport", "_connection"),
    ("Connection", "_nominated"),
    ("Connection", "_protocols"),
)

# aiortc.rtcrtpsender keeps RTP_HISTORY_SIZE sent packets, keyed by seq % size.
HISTORY_SIZE = RTP_HISTORY_SIZE
# SSRCs a transport learns per receiving m-section (media + RTX, and one SSRC change each);
# aiortc's router learns every unknown SSRC with a known payload type, and each learned one
# costs a statistics entry, an RR report block (at most 31 fit, RFC 3550 6.4.2) and a REMB
# entry: a peer spraying random SSRCs must not grow those without bound.
MAX_SSRCS_PER_RECEIVER = 4
# A sequence number NACKed again within this time is not resent again: one NACK listing a
# number many times (or a NACK storm) must not turn into a retransmission flood.
MIN_RESEND_INTERVAL_S = 0.1


class StreamStatistics(Protocol):
    def add(self, packet: RtpPacket) -> None: ...


RtpHandler = Callable[[RtpPacket, RTCRtpCodecParameters], Awaitable[None]]
SrHandler = Callable[[RtcpSrPacket], None]


class ReceiverTap:
    """Owns one publisher-side RTCRtpReceiver: packets go to ``on_rtp``, never to a decoder.

    Mirrors ``RTCRtpReceiver._handle_rtp_packet`` (aiortc 1.16.0 rtcrtpreceiver.py:467-545)
    minus the jitter buffer and decoder queue.
    """

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        on_rtp: RtpHandler,
        on_sr: SrHandler,
        on_drop: Callable[[], None],
    ) -> None:
        self.receiver = receiver
        self._on_rtp = on_rtp
        self._on_sr = on_sr
        self._on_drop = on_drop
        self.codecs: dict[int, RTCRtpCodecParameters] = {}
        self._rtx_ssrc: dict[int, int] = {}
        self._media_ssrc: int | None = None
        self.started = False
        r: Any = receiver
        self._streams: dict[int, StreamStatistics] = r._RTCRtpReceiver__remote_streams
        self._estimator: Any = r._RTCRtpReceiver__remote_bitrate_estimator
        self._nack: Any = r._RTCRtpReceiver__nack_generator
        original_receive = receiver.receive
        original_rtcp = receiver._handle_rtcp_packet

        async def receive(parameters: Any) -> None:
            await original_receive(parameters)
            self._after_receive()

        async def handle_rtcp(packet: Any) -> None:
            await original_rtcp(packet)
            if isinstance(packet, RtcpSrPacket):
                self._on_sr(packet)

        r.receive = receive
        r._handle_rtcp_packet = handle_rtcp
        r._handle_rtp_packet = self._handle_rtp
        guard_transport(receiver.transport, on_drop)

    def _after_receive(self) -> None:
        r: Any = self.receiver
        # receive() started a decoder thread (rtcrtpreceiver.py:380); it has not been given
        # anything yet, so it has not created a decoder. Stop it: None ends decoder_worker.
        thread: threading.Thread | None = r._RTCRtpReceiver__decoder_thread
        if thread is not None:
            decoder_queue: queue.Queue[Any] = r._RTCRtpReceiver__decoder_queue
            decoder_queue.put(None)
            thread.join()
            r._RTCRtpReceiver__decoder_thread = None
        self.codecs = dict(r._RTCRtpReceiver__codecs)
        self._rtx_ssrc = dict(r._RTCRtpReceiver__rtx_ssrc)
        self.started = True

    async def _handle_rtp(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        # Called by RTCDtlsTransport's receive loop: an exception here would end that loop
        # and the whole connection, so a bad packet is dropped and counted instead.
        try:
            await self._process(packet, arrival_time_ms)
        except Exception:
            logger.debug("dropped a malformed RTP packet", exc_info=True)
            self._on_drop()

    async def _process(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        r: Any = self.receiver
        if not r._enabled:
            return
        if self._estimator is not None and packet.extensions.abs_send_time is not None:
            remb = self._estimator.add(
                abs_send_time=packet.extensions.abs_send_time,
                arrival_time_ms=arrival_time_ms,
                payload_size=len(packet.payload) + packet.padding_size,
                ssrc=packet.ssrc,
            )
            rtcp_ssrc = r._RTCRtpReceiver__rtcp_ssrc
            if rtcp_ssrc is not None and remb is not None:
                await r._send_rtcp(
                    RtcpPsfbPacket(
                        fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb)
                    )
                )
        codec = self.codecs.get(packet.payload_type)
        if codec is None:
            self._on_drop()
            return
        stats = self._streams.get(packet.ssrc)
        if stats is None:
            stats = _new_stream_statistics(codec.clockRate)
            self._streams[packet.ssrc] = stats
        stats.add(packet)
        if is_rtx(codec):
            original_ssrc = self._rtx_ssrc.get(packet.ssrc)
            apt = codec.parameters.get("apt")
            if (
                original_ssrc is None
                or len(packet.payload) < 2
                or not isinstance(apt, int)
                or apt not in self.codecs
            ):
                self._on_drop()
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
            codec = self.codecs[apt]
        nack = self._nack
        if nack is not None:
            if packet.ssrc != self._media_ssrc:
                # A new source: its sequence numbers have nothing to do with the old ones.
                self._media_ssrc = packet.ssrc
                nack.max_seq = None
                nack.missing.clear()
            elif (
                nack.max_seq is not None
                and HISTORY_SIZE < (packet.sequence_number - nack.max_seq) & 0xFFFF < 0x8000
            ):
                # aiortc's NackGenerator walks every number of a jump (up to 32767 per
                # packet) only to truncate all but the last 128: a CPU sink a peer can
                # trigger at will. Packets that far back could not be repaired anyway.
                nack.max_seq = packet.sequence_number
                nack.missing.clear()
            if nack.add(packet):
                await r._send_rtcp_nack(packet.ssrc, sorted(nack.missing))
        await self._on_rtp(packet, codec)

    async def request_keyframe(self, media_ssrc: int) -> None:
        """Send a PLI (RFC 4585 section 6.3.1) to the publisher."""
        await self.receiver._send_rtcp_pli(media_ssrc)


def _new_stream_statistics(clock_rate: int) -> StreamStatistics:
    from aiortc.rtcrtpreceiver import StreamStatistics as AiortcStreamStatistics

    stats: StreamStatistics = AiortcStreamStatistics(clock_rate)
    return stats


# RFC 8285 extension URIs SenderTap writes (a=extmap), by the name HeaderWriter uses.
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"


def extension_ids(parameters: RTCRtpParameters) -> ExtensionIds:
    """The negotiated ids of the extensions we write (ids outside 1-255 are ignored,
    RFC 8285 section 5)."""
    ids = {e.uri: e.id for e in parameters.headerExtensions if 1 <= e.id <= 255}
    return ExtensionIds(
        mid=ids.get(MID_URI),
        abs_send_time=ids.get(ABS_SEND_TIME_URI),
        audio_level=ids.get(AUDIO_LEVEL_URI),
    )


class SenderTap:
    """Owns one subscriber-side RTCRtpSender: we write its RTP and answer NACKs, aiortc
    keeps the rest of its RTCP (SR, SDES, BYE, RTT).

    The send path is synchronous and skips aiortc's and aioice's coroutine layers
    (``RTCDtlsTransport._send_rtp`` -> ``RTCIceTransport._send`` -> ``Connection.send`` ->
    ``sendto`` -> ``StunProtocol.send_data``), which only forward the bytes: the packet is
    serialized by our ``HeaderWriter``, protected with the transport's own SRTP session and
    handed to the nominated candidate pair's datagram transport, exactly what
    ``StunProtocol.send_data`` does (for a relayed pair that transport is aioice's
    ``TurnTransport``, which wraps it for TURN itself).
    """

    def __init__(
        self,
        sender: RTCRtpSender,
        *,
        on_started: Callable[[], None],
        on_keyframe_request: Callable[[], None],
        on_nack: Callable[[int, int], None],
        on_drop: Callable[[], None],
    ) -> None:
        self.sender = sender
        s: Any = sender
        self.ssrc: int = s._ssrc
        # The SSRC aiortc announces for RTX in the answer (a=ssrc-group:FID ssrc rtx_ssrc).
        self.rtx_ssrc: int = s._rtx_ssrc
        # Sent packets for NACKs, by seq % HISTORY_SIZE: (seq, serialized, header length).
        # aiortc's own history (``__rtp_history``) would need an RtpPacket per packet.
        self._history: list[tuple[int, bytes, int] | None] = [None] * HISTORY_SIZE
        # our payload type -> its RTX payload type (a=fmtp:<rtx> apt=<pt>, RFC 4588 8.6)
        self.rtx_payload_types: dict[int, int] = {}
        self.writer = HeaderWriter(self.ssrc, "", ExtensionIds())
        self._rtx_sequence = random.randrange(1 << 15)
        self._resent: dict[int, float] = {}  # seq -> when last retransmitted
        self._on_nack = on_nack
        self._dtls: Any = None
        self._srtp: Any = None
        self._nominated: dict[int, Any] = {}
        self.started = False
        original_send = sender.send
        original_rtcp = sender._handle_rtcp_packet

        async def send(parameters: Any) -> None:
            await original_send(parameters)
            if not self.started:
                self.rtx_payload_types = {
                    apt: codec.payloadType
                    for codec in parameters.codecs
                    if is_rtx(codec) and isinstance(apt := codec.parameters.get("apt"), int)
                }
                self.writer = HeaderWriter(self.ssrc, parameters.muxId, extension_ids(parameters))
                self._route()
                self.started = True
                on_started()

        async def handle_rtcp(packet: Any) -> None:
            if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                await self.answer_nack(packet.lost)
            else:
                await original_rtcp(packet)

        s.send = send
        s._handle_rtcp_packet = handle_rtcp
        # aiortc calls _send_keyframe for PLI and FIR (rtcrtpsender.py:258); its own version
        # flags its encoder, which never exists here.
        s._send_keyframe = on_keyframe_request
        guard_transport(sender.transport, on_drop)

    def _route(self) -> None:
        """Capture the transport's SRTP session and ICE pairs (``send`` runs once DTLS is
        connected, rtcpeerconnection.py ``__connect``)."""
        dtls: Any = self.sender.transport
        self._dtls = dtls
        self._srtp = getattr(dtls, "_tx_srtp", None)
        # Filled and cleared in place by aioice (Connection.check_complete / close).
        self._nominated = dtls.transport._connection._nominated

    def write(
        self,
        payload_type: int,
        marker: int,
        sequence_number: int,
        timestamp: int,
        payload: bytes,
        abs_send_time: bytes | None,
        audio_level: int | None,
        csrc: Sequence[int] = (),
    ) -> int:
        """Serialize, keep for RTX, protect and send one packet; return the bytes sent.

        Raises ConnectionError when the subscriber's transport is not (or no longer)
        connected; the packet is then still kept for a NACK.
        """
        data, header_length = self.writer.packet(
            payload_type, marker, sequence_number, timestamp, payload, abs_send_time,
            audio_level, csrc,
        )  # fmt: skip
        self._history[sequence_number % HISTORY_SIZE] = (sequence_number, data, header_length)
        self._send(data)
        s: Any = self.sender
        s._RTCRtpSender__packet_count += 1
        s._RTCRtpSender__octet_count += len(payload)
        return len(data)

    def _send(self, data: bytes) -> None:
        dtls = self._dtls
        if dtls is None or dtls._state is not DtlsState.CONNECTED or self._srtp is None:
            raise ConnectionError("the subscriber's transport is not connected")
        pair = self._nominated.get(1)
        if pair is None:
            raise ConnectionError("the subscriber's ICE connection has no nominated pair")
        pair.protocol.transport.sendto(self._srtp.protect(data), pair.remote_addr)

    async def answer_nack(self, lost: Sequence[int]) -> None:
        """Resend NACKed packets from the history (RFC 4585 6.2.1), as RTX (RFC 4588 4)
        with the RTX type paired with *that packet's* payload type, or as is without RTX."""
        now = time.monotonic()
        resent = 0
        try:
            for seq in dict.fromkeys(lost):  # each number once, in order
                entry = self._history[seq % HISTORY_SIZE]
                if entry is None or entry[0] != seq:
                    continue
                last = self._resent.get(seq)
                if last is not None and now - last < MIN_RESEND_INTERVAL_S:
                    continue
                self._resent[seq] = now
                _, data, header_length = entry
                rtx_type = self.rtx_payload_types.get(data[1] & 0x7F)
                if rtx_type is not None:
                    data = self._rtx(data, header_length, rtx_type)
                self._send(data)
                resent += 1
        except ConnectionError:
            pass  # the subscriber is gone; nothing more to resend
        finally:
            if len(self._resent) > 2 * HISTORY_SIZE:
                self._resent = {
                    seq: t for seq, t in self._resent.items() if now - t < MIN_RESEND_INTERVAL_S
                }
            self._on_nack(len(lost), resent)

    def _rtx(self, data: bytes, header_length: int, rtx_type: int) -> bytes:
        """RFC 4588 section 4: the RTX stream's SSRC, sequence number and payload type, the
        original sequence number (OSN) ahead of the original payload; marker, timestamp,
        CSRCs and extensions unchanged."""
        out = bytearray(data[:header_length])
        out += data[2:4]  # OSN
        out += data[header_length:]
        out[1] = (data[1] & 0x80) | rtx_type
        out[2:4] = self._rtx_sequence.to_bytes(2, "big")
        out[8:12] = self.rtx_ssrc.to_bytes(4, "big")
        self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        return bytes(out)

    def set_report_clock(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        """The NTP/RTP pair the sender's next RTCP SR carries (RFC 3550 section 6.4.1)."""
        s: Any = self.sender
        s._RTCRtpSender__ntp_timestamp = ntp_timestamp
        s._RTCRtpSender__rtp_timestamp = rtp_timestamp


def guard_transport(transport: RTCDtlsTransport, on_drop: Callable[[], None]) -> None:
    """Replace ``transport``'s RTP/RTCP entry points with ones that never raise.

    aiortc 1.16 (rtcdtlstransport.py ``_handle_rtp_data``/``_handle_rtcp_data``) catches only
    ValueError around parsing, but a header extension of the wrong length raises
    struct.error (rtp.py ``HeaderExtensionsMap.get``: abs-send-time, audio level), as does a
    REMB whose SSRC count exceeds its length (``unpack_remb_fci``, called while routing).
    Either escapes into the transport's receive loop and ends the peer's whole connection.
    Same routing as aiortc's, plus a cap on learned SSRCs (``MAX_SSRCS_PER_RECEIVER``).
    Idempotent; a dropped packet calls ``on_drop``.
    """
    t: Any = transport
    if getattr(t, "_sparkle_guarded", False):
        return
    t._sparkle_guarded = True
    router: Any = t._rtp_router
    ssrc_table: dict[int, Any] = router.ssrc_table
    payload_type_table: dict[int, set[Any]] = router.payload_type_table
    extensions_map: Any = t._rtp_header_extensions_map  # configured in place later

    async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
        try:
            packet = RtpPacket.parse(data, extensions_map)
        except Exception:  # ValueError, struct.error, UnicodeDecodeError (a bad MID)
            on_drop()
            return
        # RtpRouter.route_rtp, with its common case inlined (a known SSRC and a payload type
        # of that receiver) and a cap before it learns an unknown SSRC.
        receiver = ssrc_table.get(packet.ssrc)
        if receiver is None:
            if len(ssrc_table) >= MAX_SSRCS_PER_RECEIVER * max(1, len(router.receivers)):
                on_drop()
                return
            receiver = router.route_rtp(packet)
        elif receiver not in payload_type_table.get(packet.payload_type, ()):
            receiver = None
        if receiver is None:
            on_drop()
            return
        try:
            await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)
        except Exception:
            logger.debug("an RTP handler failed", exc_info=True)
            on_drop()

    async def handle_rtcp_data(data: bytes) -> None:
        try:
            packets = RtcpPacket.parse(data)
        except Exception:
            on_drop()
            return
        for packet in packets:
            try:
                for recipient in router.route_rtcp(packet):
                    await recipient._handle_rtcp_packet(packet)
            except Exception:
                logger.debug("dropped an RTCP packet", exc_info=True)
                on_drop()

    t._handle_rtp_data = handle_rtp_data
    t._handle_rtcp_data = handle_rtcp_data


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The codecs (with the remote's payload types) setRemoteDescription settled on."""
    codecs: list[RTCRtpCodecParameters] = list(transceiver._codecs)
    return codecs


def size_socket_buffers(connection: Any, size: int) -> None:
    """Set SO_RCVBUF and SO_SNDBUF of every UDP socket of an aioice ``connection``.

    aioice sets only SO_RCVBUF, to 256 KiB (ice.py ``get_component_candidates``,
    ``turn.UDP_SOCKET_BUFFER_SIZE``). The kernel caps the request at net.core.rmem_max /
    wmem_max; what it granted is logged at debug level. Idempotent.
    """
    if size <= 0:
        return
    for protocol in connection._protocols:
        transport: Any = getattr(protocol, "transport", None)
        sock = None if transport is None else transport.get_extra_info("socket")
        if sock is None or getattr(protocol, "_sparkle_buffers", 0) == size:
            continue  # a relayed (TURN) transport has no socket of its own
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        except OSError:
            logger.warning("could not size the buffers of %s", sock, exc_info=True)
            continue
        protocol._sparkle_buffers = size
        logger.debug(
            "UDP socket %s: asked %d bytes, got receive %d / send %d (kernel-doubled)",
            sock.getsockname(),
            size,
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
        )


def gather_on(
    pc: RTCPeerConnection,
    addresses: Sequence[str],
    announced: str | None,
    buffer_bytes: int = 0,
) -> None:
    """Make every ICE gatherer of ``pc`` bind on ``addresses`` and announce ``announced``.

    aioice's ``Connection.gather_candidates`` lists host addresses itself and always skips
    127.0.0.1 (aioice/ice.py get_host_addresses); ``get_component_candidates`` takes the
    address list as an argument, so a per-instance wrapper substitutes ours. Candidates keep
    their real address inside aioice (it pairs by socket); only what is put into SDP is
    rewritten to ``announced`` (like mediasoup's announcedAddress). With ``buffer_bytes``,
    each socket gathered gets that SO_RCVBUF/SO_SNDBUF (``size_socket_buffers``).
    Idempotent; call it after every setRemoteDescription/addTransceiver, before
    setLocalDescription gathers.
    """
    wanted = list(addresses)
    for transceiver in pc.getTransceivers():
        for transport in (transceiver.receiver.transport, transceiver.sender.transport):
            gatherer: Any = transport.transport.iceGatherer
            if getattr(gatherer, "_sparkle_gather_on", None) is not None:
                continue
            connection: Any = gatherer._connection
            original = connection.get_component_candidates

            async def get_component_candidates(
                component: int,
                addresses: list[str],
                timeout: int = 5,  # noqa: ASYNC109 (aioice's signature)
                _original: Any = original,
                _connection: Any = connection,
            ) -> Any:
                candidates = await _original(component=component, addresses=wanted, timeout=timeout)
                size_socket_buffers(_connection, buffer_bytes)
                return candidates

            connection.get_component_candidates = get_component_candidates
            if announced is not None:
                original_local = gatherer.getLocalCandidates

                def get_local_candidates(_original: Any = original_local) -> Any:
                    return [
                        replace(c, ip=announced) if c.type == "host" else c for c in _original()
                    ]

                gatherer.getLocalCandidates = get_local_candidates
            gatherer._sparkle_gather_on = wanted
