"""One published track: takes its packets from the receiver and fans them out to slots.

Per packet: count it, feed the speaker detector (audio), and for each attached subscriber
slot, unless the slot waits for a keyframe, rewrite and send it (see sfu/slot.py). Keyframe
requests from subscribers, gated slots and new subscribers become PLIs to the publisher,
at most one per ``pli_min_interval_s`` (a decoder fires a PLI per failed frame, RFC 4585
section 6.3.1; a storm of them would cost the publisher a keyframe each).

Stand-ins (issue 6, auto-framing): another forwarder F (a framing worker's output) may
stand in for this track T. Subscribers keep T's slot and sid, but their packets come from F
(``stand_in``); the framing worker itself still gets T. A slot changes source only at a
keyframe start of the new source and keeps the old one flowing until then, so the switch,
both ways, shows no frozen or broken picture and needs no renegotiation (the same
SSRC-rewriting switch as a slot moving between tracks, sfu/slot.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

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
        # Stand-ins: ``stand_in`` is the forwarder whose packets T's subscribers get instead
        # of T's own; ``stands_in_for`` is, on F, the track it stands in for.
        self.stand_in: TrackForwarder | None = None
        self.stands_in_for: TrackForwarder | None = None
        # Called once F's first keyframe start reaches T's subscribers' path after binding.
        self.on_stand_in_live: Callable[[TrackForwarder], None] | None = None
        self._live = False
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
        target = self.stands_in_for or self
        if target.track is None or target.muted:
            counters.packets_dropped += 1
            return
        if target is not self:
            self._fan_out(packet, codec, target)
            return
        level = packet.extensions.audio_level
        if level is not None and self.kind == "audio":
            self.speaker.observe(self.peer_id, level[1])
        self._fan_out(packet, codec, self)

    def _fan_out(
        self, packet: RtpPacket, codec: RTCRtpCodecParameters, target: TrackForwarder
    ) -> None:
        """Send one of our packets to the slots of ``target`` (ourselves, or the track we
        stand in for) that take their packets from us; ``target`` is published, unmuted."""
        counters = self.counters
        if not packet.payload or not target.slots:
            return  # padding-only probes are not forwarded
        wall = time.time()
        now = time.monotonic()
        # abs-send-time: 6.18 fixed-point seconds of the NTP clock (webrtc abs-send-time),
        # and the RFC 6464 audio level byte (V bit, level), kept: computed once for all slots.
        abs_send_time = (int((wall + NTP_EPOCH_OFFSET) * (1 << 18)) & 0xFFFFFF).to_bytes(3, "big")
        level = packet.extensions.audio_level
        audio_level = None if level is None else (0x80 if level[0] else 0) | (level[1] & 0x7F)
        ntp: int | None = None
        if packet.timestamp != self._last_timestamp:
            self._last_timestamp = packet.timestamp
            ntp = self._ntp_for(packet.timestamp, wall, codec.clockRate)
        keyframe: bool | None = None
        for slot in tuple(target.slots):
            if slot.forwarder is not target or not slot.started:
                counters.packets_dropped += 1
                continue
            if slot.source is not self:
                # Fed by the other source, or switching to us: a switch happens only at a
                # keyframe start of ours, and the old source keeps the picture until then.
                if target.source_for(slot) is not self:
                    continue
                if keyframe is None:
                    keyframe = is_keyframe_start(codec.name.lower(), packet.payload)
                if not keyframe:
                    self.request_keyframe()
                    continue
                slot.switch_source(self)
                if target is not self and not self._live:
                    self._live = True
                    if self.on_stand_in_live is not None:
                        self.on_stand_in_live(target)
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

    def source_for(self, slot: Slot) -> TrackForwarder:
        """Whose packets ``slot`` (one of ours) should carry: our stand-in's, unless the
        slot belongs to the stand-in's own peer (the framing worker needs the raw camera)
        or cannot take the stand-in's codec."""
        stand_in = self.stand_in
        if (
            stand_in is None
            or stand_in.closed
            or slot.subscriber_id == stand_in.peer_id
            or slot.accepts(stand_in.codec) is None
        ):
            return self
        return stand_in

    def bind_stand_in(self, stand_in: TrackForwarder) -> None:
        """Let ``stand_in`` feed our subscribers from its next keyframe on."""
        previous = self.stand_in
        if previous is stand_in:
            return
        if previous is not None:
            self.unbind_stand_in()
        old_target = stand_in.stands_in_for
        if old_target is not None and old_target is not self:
            old_target.unbind_stand_in()
            stand_in.release_slots()
        self.stand_in = stand_in
        stand_in.stands_in_for = self
        stand_in.await_live()
        stand_in.request_keyframe()

    def unbind_stand_in(self) -> None:
        """Back to our own packets. Slots fed by the stand-in keep getting them until our
        next keyframe (asked for now), so the picture never freezes on the way back."""
        stand_in, self.stand_in = self.stand_in, None
        if stand_in is None:
            return
        if stand_in.closed:
            stand_in.release_slots()
        self.request_keyframe()

    @property
    def closed(self) -> bool:
        return self._closed

    def await_live(self) -> None:
        """Report (``on_stand_in_live``) the next time our keyframe reaches the target's
        subscribers' path: we were just bound to a target."""
        self._live = False

    def release_slots(self) -> None:
        """We no longer feed anyone (we stand in for nothing, or are closing): slots we
        fed wait for their own track's next keyframe."""
        target, self.stands_in_for = self.stands_in_for, None
        if target is None:
            return
        if target.stand_in is self:
            target.stand_in = None
        for slot in target.slots:
            if slot.source is self:
                slot.source = None
                slot.awaiting_keyframe = slot.kind == "video"
        target.request_keyframe()

    def _new_source(self, ssrc: int) -> None:
        """The publisher's SSRC changed (or its first packet): its sequence numbers and
        timestamps start afresh, so every subscriber re-bases and, for video, waits for a
        keyframe (RFC 3550 8.2); the old SR mapping no longer applies."""
        first = self.media_ssrc is None
        self.media_ssrc = ssrc
        self._sender_report = None
        self._last_timestamp = None
        if not first:
            target = self.stands_in_for or self
            for slot in target.slots:
                if slot.source is self:
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
        """After an unmute: every subscriber re-bases and waits for a keyframe of the
        source that feeds it (ours, or our stand-in's)."""
        sources: set[TrackForwarder] = {self}
        for slot in self.slots:
            slot.restart()
            if slot.source is not None:
                sources.add(slot.source)
        for source in sources:
            source.request_keyframe()

    def subscriber_wants_keyframe(self, slot: Slot | None = None) -> None:
        """A subscriber's PLI/FIR: the source feeding its slot makes the keyframe."""
        source = slot.source if slot is not None and slot.source is not None else self
        source.keyframe_asked()

    def keyframe_asked(self) -> None:
        """A subscriber fed by us asked for a keyframe (kept until one is requested)."""
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
        if self._subscriber_asked or self._slots_waiting():
            self.request_keyframe()

    def _slots_waiting(self) -> bool:
        """Whether a started slot waits for a keyframe of ours (gated, or switching to us)."""
        target = self.stands_in_for or self
        for slot in target.slots:
            if not slot.started:
                continue
            if slot.source is self and slot.awaiting_keyframe:
                return True
            if slot.source is not self and target.source_for(slot) is self:
                return True
        return False

    async def _send_pli(self, media_ssrc: int) -> None:
        try:
            await self.tap.request_keyframe(media_ssrc)
        except Exception:  # a closed transport must not surface as an unretrieved error
            logger.debug("PLI to %s failed", self.peer_id, exc_info=True)

    async def close(self) -> None:
        self._closed = True
        self.release_slots()
        if self.stand_in is not None:
            self.unbind_stand_in()
        self.detach_all()
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
