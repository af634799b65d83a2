"""A subscriber's receive slot: one recvonly m-section of its offer, one outgoing stream.

The slot owns the sender side of one transceiver for its whole life (one SSRC). A published
track is attached to it and later detached; the rewriter keeps sequence numbers contiguous
and timestamps moving forward across such switches, and video waits for a keyframe start
after each switch (RFC 7741 / RFC 6184: a decoder cannot start on a delta frame).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiortc import RTCRtpTransceiver
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from .aiortc_hooks import SenderTap, negotiated_codecs
from .codec_match import find_payload_type
from .counters import MediaCounters
from .forwarding_track import ForwardingTrack
from .rtp_rewriter import StreamRewriter

if TYPE_CHECKING:
    from .forwarder import TrackForwarder


class Slot:
    def __init__(
        self,
        subscriber_id: str,
        transceiver: RTCRtpTransceiver,
        counters: MediaCounters,
        on_started: Callable[[Slot], None],
    ) -> None:
        self.subscriber_id = subscriber_id
        self.transceiver = transceiver
        self.mid: str = transceiver.mid or ""
        self.kind: str = transceiver.kind
        self.counters = counters
        self.track = ForwardingTrack(self.kind)
        transceiver.sender.replaceTrack(self.track)
        # The client's recvonly m-section is answered sendonly: we send, it receives.
        transceiver.direction = "sendonly"
        self.tap = SenderTap(
            transceiver.sender,
            on_started=lambda: on_started(self),
            on_keyframe_request=self._keyframe_requested,
            on_nack=self._nacked,
            on_drop=self._dropped,
        )
        self.rewriter = StreamRewriter(90000 if self.kind == "video" else 48000)
        self.forwarder: TrackForwarder | None = None
        # Whose packets flow into this slot now: the attached forwarder, or the forwarder
        # standing in for it (sfu/forwarder.py); None until the next keyframe start decides.
        self.source: TrackForwarder | None = None
        # publisher payload type -> ours (None: we cannot carry that codec)
        self._payload_types: dict[int, int | None] = {}
        self.awaiting_keyframe = True
        self.open = True

    @property
    def started(self) -> bool:
        return self.tap.started

    def accepts(self, codec: RTCRtpCodecParameters | None) -> int | None:
        """The payload type this slot would use for ``codec``, or None."""
        if codec is None:
            return None
        return find_payload_type(codec, negotiated_codecs(self.transceiver))

    def payload_type_for(self, codec: RTCRtpCodecParameters) -> int | None:
        key = -1 if codec.payloadType is None else codec.payloadType
        try:
            return self._payload_types[key]
        except KeyError:
            pt = self._payload_types[key] = self.accepts(codec)
            return pt

    def attach(self, forwarder: TrackForwarder) -> None:
        self.forwarder = forwarder
        self.source = forwarder
        self._payload_types.clear()
        self.awaiting_keyframe = self.kind == "video"
        self.rewriter.switch()
        self.counters.tracks_subscribed += 1

    def detach(self) -> None:
        if self.forwarder is not None:
            self.forwarder = None
            self.counters.tracks_subscribed -= 1
        self.source = None
        self.rewriter.switch()

    def switch_source(self, source: TrackForwarder) -> None:
        """Carry ``source``'s packets from now on (called at a keyframe start of it): a
        new stream for the receiver's decoder, re-based like a switch of track."""
        self.source = source
        self._payload_types.clear()  # the new source's payload type numbers are its own
        self.awaiting_keyframe = False
        self.rewriter.switch()

    def restart(self) -> None:
        """The source paused (mute) and resumes: re-base and, for video, wait for a keyframe."""
        self.awaiting_keyframe = self.kind == "video"
        self.rewriter.switch()

    def close(self) -> None:
        self.detach()
        self.open = False
        self.track.stop()

    def _keyframe_requested(self) -> None:
        self.counters.pli_received += 1
        if self.forwarder is not None:
            self.forwarder.subscriber_wants_keyframe(self)

    def _dropped(self) -> None:
        self.counters.packets_dropped += 1

    def _nacked(self, lost: int, answered: int) -> None:
        self.counters.nack_received += lost
        self.counters.rtx_sent += answered

    def send(
        self,
        packet: RtpPacket,
        payload_type: int,
        abs_send_time: bytes,
        audio_level: int | None,
        now: float,
        ntp: int | None,
    ) -> None:
        """Rewrite and send one packet (synchronous: see SenderTap). ``abs_send_time`` and
        ``audio_level`` are the wire values the forwarder computed once for all slots."""
        mapped = self.rewriter.rewrite(packet.sequence_number, packet.timestamp, now)
        counters = self.counters
        if mapped is None:
            counters.packets_dropped += 1
            return
        sequence_number, timestamp = mapped
        try:
            sent = self.tap.write(
                payload_type, packet.marker, sequence_number, timestamp, packet.payload,
                abs_send_time, audio_level, packet.csrc,
            )  # fmt: skip
        except ConnectionError:
            counters.packets_dropped += 1
            return
        if ntp is not None:
            self.tap.set_report_clock(ntp, timestamp)
        counters.packets_forwarded += 1
        counters.bytes_forwarded += sent
