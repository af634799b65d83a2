"""One published track: takes its packets from the receiver and fans them out to slots.

Per packet: count it, feed the speaker detector (audio), and for each attached subscriber
slot, unless the slot waits for a keyframe, rewrite and send it (see sfu/slot.py). Keyframe
requests from subscribers, gated slots and new subscribers become PLIs to the publisher,
at most one per ``pli_min_interval_s`` (a decoder fires a PLI per failed frame, RFC 4585
section 6.3.1; a storm of them would cost the publisher a keyframe each).
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiortc import RTCRtpReceiver
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtcpSrPacket, RtpPacket

from .aiortc_hooks import ReceiverTap
from .counters import MediaCounters
from .events import PublishedTrack
from .keyframe import PliLimiter, is_keyframe_start
from .slot import Slot
from .speaker import SpeakerDetector

logger = logging.getLogger(__name__)

# Seconds between 1900-01-01 (NTP epoch) and 1970-01-01 (Unix epoch), RFC 5905.
NTP_EPOCH_OFFSET = 2208988800


class TrackForwarder:
    def __init__(
        self,
        *,
        peer_id: str,
        mid: str,
        kind: str,
        source: str | None,
        receiver: RTCRtpReceiver,
        counters: MediaCounters,
        speaker: SpeakerDetector,
        pli_min_interval_s: float,
    ) -> None:
        self.peer_id = peer_id
        self.mid = mid
        self.kind = kind
        self.source = source
        self.counters = counters
        self.speaker = speaker
        self.track: PublishedTrack | None = None
        self.slots: list[Slot] = []
        self.muted = False
        # Set when the owner stopped this track (a host stopped a screen share): it stays
        # unpublished however long the client keeps sending, until its m-section goes
        # inactive (the client stopped it) and is offered again.
        self.stopped = False
        self.codec: RTCRtpCodecParameters | None = None
        self.media_ssrc: int | None = None
        self._limiter = PliLimiter(pli_min_interval_s)
        self._pli_interval = pli_min_interval_s
        self._subscriber_asked = False
        self._deferred: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sender_report: tuple[int, int] | None = None  # (NTP 32.32, RTP ts)
        self._last_timestamp: int | None = None
        self._closed = False
        self.tap = ReceiverTap(receiver, self._on_rtp, self._on_sender_report, self._on_drop)

    @property
    def published(self) -> bool:
        return self.track is not None

    def _on_drop(self) -> None:
        self.counters.packets_dropped += 1

    def _on_sender_report(self, packet: RtcpSrPacket) -> None:
        if packet.ssrc == self.media_ssrc:
            info = packet.sender_info
            self._sender_report = (info.ntp_timestamp, info.rtp_timestamp)

    def _ntp_for(self, timestamp: int, wall: float, clock_rate: int) -> int:
        """The publisher's wall clock (NTP 32.32) for an RTP timestamp, from its last SR;
        without one, the arrival time (what aiortc itself would report)."""
        report = self._sender_report
        if report is None:
            return int((wall + NTP_EPOCH_OFFSET) * (1 << 32))
        ntp, rtp = report
        delta = ((timestamp - rtp + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        return ntp + (delta << 32) // clock_rate

    async def _on_rtp(self, packet: RtpPacket, codec: RTCRtpCodecParameters) -> None:
        counters = self.counters
        counters.packets_received += 1
        counters.bytes_received += len(packet.payload)
        if packet.ssrc != self.media_ssrc:
            self._new_source(packet.ssrc)
        self.codec = codec
        if self.track is None or self.muted:
            counters.packets_dropped += 1
            return
        level = packet.extensions.audio_level
        if level is not None and self.kind == "audio":
            self.speaker.observe(self.peer_id, level[1])
        if not packet.payload or not self.slots:
            return  # padding-only probes are not forwarded
        wall = time.time()
        now = time.monotonic()
        # abs-send-time: 6.18 fixed-point seconds of the NTP clock (webrtc abs-send-time),
        # and the RFC 6464 audio level byte (V bit, level), kept: computed once for all slots.
        abs_send_time = (int((wall + NTP_EPOCH_OFFSET) * (1 << 18)) & 0xFFFFFF).to_bytes(3, "big")
        audio_level = None if level is None else (0x80 if level[0] else 0) | (level[1] & 0x7F)
        ntp: int | None = None
        if packet.timestamp != self._last_timestamp:
            self._last_timestamp = packet.timestamp
            ntp = self._ntp_for(packet.timestamp, wall, codec.clockRate)
        keyframe: bool | None = None
        for slot in tuple(self.slots):
            if slot.forwarder is not self or not slot.started:
                counters.packets_dropped += 1
                continue
            payload_type = slot.payload_type_for(codec)
            if payload_type is None:
                counters.packets_dropped += 1
                continue
            slot_ntp = ntp
            if slot.awaiting_keyframe:
                if keyframe is None:
                    keyframe = is_keyframe_start(codec.name.lower(), packet.payload)
                if not keyframe:
                    counters.packets_dropped += 1
                    self.request_keyframe()
                    continue
                slot.awaiting_keyframe = False
                slot_ntp = self._ntp_for(packet.timestamp, wall, codec.clockRate)
            try:
                slot.send(packet, payload_type, abs_send_time, audio_level, now, slot_ntp)
            except Exception:
                # One subscriber's broken transport must not starve the others.
                logger.debug("forwarding to %s failed", slot.subscriber_id, exc_info=True)
                counters.packets_dropped += 1

    def _new_source(self, ssrc: int) -> None:
        """The publisher's SSRC changed (or its first packet): its sequence numbers and
        timestamps start afresh, so every subscriber re-bases and, for video, waits for a
        keyframe (RFC 3550 8.2); the old SR mapping no longer applies."""
        first = self.media_ssrc is None
        self.media_ssrc = ssrc
        self._sender_report = None
        self._last_timestamp = None
        if not first:
            for slot in self.slots:
                slot.restart()

    def attach(self, slot: Slot) -> None:
        slot.attach(self)
        self.slots.append(slot)

    def detach(self, slot: Slot) -> None:
        if slot in self.slots:
            self.slots.remove(slot)
        if slot.forwarder is self:
            slot.detach()

    def detach_all(self) -> list[Slot]:
        slots, self.slots = self.slots, []
        for slot in slots:
            if slot.forwarder is self:
                slot.detach()
        return slots

    def restart(self) -> None:
        """After an unmute: every subscriber re-bases and waits for a keyframe."""
        for slot in self.slots:
            slot.restart()
        self.request_keyframe()

    def subscriber_wants_keyframe(self) -> None:
        self._subscriber_asked = True
        self.request_keyframe()

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe now, or once the rate limit allows."""
        if self.kind != "video" or self.media_ssrc is None or self._closed:
            return
        if self._limiter.allow(time.monotonic()):
            self._subscriber_asked = False
            self.counters.pli_sent += 1
            task = asyncio.ensure_future(self._send_pli(self.media_ssrc))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif self._deferred is None:
            self._deferred = asyncio.get_running_loop().call_later(
                self._pli_interval, self._retry_keyframe
            )

    def _retry_keyframe(self) -> None:
        self._deferred = None
        if self._subscriber_asked or any(s.awaiting_keyframe and s.started for s in self.slots):
            self.request_keyframe()

    async def _send_pli(self, media_ssrc: int) -> None:
        try:
            await self.tap.request_keyframe(media_ssrc)
        except Exception:  # a closed transport must not surface as an unretrieved error
            logger.debug("PLI to %s failed", self.peer_id, exc_info=True)

    async def close(self) -> None:
        self._closed = True
        self.detach_all()
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
