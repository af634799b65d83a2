"""Every use of aiortc/aioice internals, in one place (aiortc 1.16.x, aioice 0.13).

aiortc has no API for an SFU: a receiver always feeds a jitter buffer and a decoder thread,
a sender always pulls frames from a track and encodes them. The functions here take those
objects over *per instance* (no class or module is patched), so that:

- a publisher's packets go to our handler instead of the jitter buffer/decoder
  (``RTCRtpReceiver._handle_rtp_packet``), while aiortc's own RTCP bookkeeping (receiver
  reports, REMB, NACK generation) keeps being fed through its private state;
- the idle decoder thread ``receive()`` starts is stopped before it ever gets a frame;
- rewritten packets are written straight to a subscriber's DTLS transport, stored in the
  sender's RTX history so aiortc's own ``_retransmit`` answers NACKs, and reflected in the
  sender's SR counters; a subscriber's PLI/FIR reaches us via ``_send_keyframe``;
- ICE gathers on configured addresses (aioice's ``get_host_addresses`` drops 127.0.0.1)
  and announces a configured address.

Each private name used below is listed in ``PRIVATE_NAMES`` and checked by
tests/unit/test_aiortc_hooks.py, which fails loudly when an aiortc upgrade changes one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_RTPFB_NACK,
    RTP_HISTORY_SIZE,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    RtpPacket,
    pack_remb_fci,
    unwrap_rtx,
)

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
    ("RTCRtpSender", "_send_keyframe"),
    ("RTCRtpSender", "_handle_rtcp_packet"),
    ("RTCRtpSender", "_RTCRtpSender__rtp_history"),
    ("RTCRtpSender", "_RTCRtpSender__rtp_header_extensions_map"),
    ("RTCRtpSender", "_RTCRtpSender__packet_count"),
    ("RTCRtpSender", "_RTCRtpSender__octet_count"),
    ("RTCRtpSender", "_RTCRtpSender__ntp_timestamp"),
    ("RTCRtpSender", "_RTCRtpSender__rtp_timestamp"),
    ("RTCDtlsTransport", "_send_rtp"),
    ("RTCRtpTransceiver", "_codecs"),
    ("RTCIceGatherer", "_connection"),
)

# aiortc.rtcrtpsender keeps RTP_HISTORY_SIZE sent packets, keyed by seq % size.
HISTORY_SIZE = RTP_HISTORY_SIZE


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
        if self._nack is not None and self._nack.add(packet):
            await r._send_rtcp_nack(packet.ssrc, sorted(self._nack.missing))
        await self._on_rtp(packet, codec)

    async def request_keyframe(self, media_ssrc: int) -> None:
        """Send a PLI (RFC 4585 section 6.3.1) to the publisher."""
        await self.receiver._send_rtcp_pli(media_ssrc)


def _new_stream_statistics(clock_rate: int) -> StreamStatistics:
    from aiortc.rtcrtpreceiver import StreamStatistics as AiortcStreamStatistics

    stats: StreamStatistics = AiortcStreamStatistics(clock_rate)
    return stats


class SenderTap:
    """Owns one subscriber-side RTCRtpSender: we write its RTP, aiortc keeps its RTCP."""

    def __init__(
        self,
        sender: RTCRtpSender,
        *,
        on_started: Callable[[], None],
        on_keyframe_request: Callable[[], None],
        on_nack: Callable[[int, int], None],
    ) -> None:
        self.sender = sender
        s: Any = sender
        self.ssrc: int = s._ssrc
        self._history: dict[int, RtpPacket] = s._RTCRtpSender__rtp_history
        self._extensions_map: Any = s._RTCRtpSender__rtp_header_extensions_map
        self.started = False
        original_send = sender.send
        original_rtcp = sender._handle_rtcp_packet

        async def send(parameters: Any) -> None:
            await original_send(parameters)
            if not self.started:
                self.started = True
                on_started()

        async def handle_rtcp(packet: Any) -> None:
            if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                answered = sum(
                    1
                    for seq in packet.lost
                    if (old := self._history.get(seq % HISTORY_SIZE)) is not None
                    and old.sequence_number == seq
                )
                on_nack(len(packet.lost), answered)
            await original_rtcp(packet)

        s.send = send
        s._handle_rtcp_packet = handle_rtcp
        # aiortc calls _send_keyframe for PLI and FIR (rtcrtpsender.py:258); its own version
        # flags its encoder, which never exists here.
        s._send_keyframe = on_keyframe_request

    async def write(self, packet: RtpPacket) -> int:
        """Send one rewritten packet; keep it for RTX; return the bytes sent."""
        self._history[packet.sequence_number % HISTORY_SIZE] = packet
        data = packet.serialize(self._extensions_map)
        await self.sender.transport._send_rtp(data)
        s: Any = self.sender
        s._RTCRtpSender__packet_count += 1
        s._RTCRtpSender__octet_count += len(packet.payload)
        return len(data)

    def set_report_clock(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        """The NTP/RTP pair the sender's next RTCP SR carries (RFC 3550 section 6.4.1)."""
        s: Any = self.sender
        s._RTCRtpSender__ntp_timestamp = ntp_timestamp
        s._RTCRtpSender__rtp_timestamp = rtp_timestamp


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The codecs (with the remote's payload types) setRemoteDescription settled on."""
    codecs: list[RTCRtpCodecParameters] = list(transceiver._codecs)
    return codecs


def gather_on(pc: RTCPeerConnection, addresses: Sequence[str], announced: str | None) -> None:
    """Make every ICE gatherer of ``pc`` bind on ``addresses`` and announce ``announced``.

    aioice's ``Connection.gather_candidates`` lists host addresses itself and always skips
    127.0.0.1 (aioice/ice.py get_host_addresses); ``get_component_candidates`` takes the
    address list as an argument, so a per-instance wrapper substitutes ours. Candidates keep
    their real address inside aioice (it pairs by socket); only what is put into SDP is
    rewritten to ``announced`` (like mediasoup's announcedAddress). Idempotent; call it after
    every setRemoteDescription/addTransceiver, before setLocalDescription gathers.
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
            ) -> Any:
                return await _original(component=component, addresses=wanted, timeout=timeout)

            connection.get_component_candidates = get_component_candidates
            if announced is not None:
                original_local = gatherer.getLocalCandidates

                def get_local_candidates(_original: Any = original_local) -> Any:
                    return [
                        replace(c, ip=announced) if c.type == "host" else c for c in _original()
                    ]

                gatherer.getLocalCandidates = get_local_candidates
            gatherer._sparkle_gather_on = wanted
