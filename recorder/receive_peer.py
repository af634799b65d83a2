"""The recorder's receive slots: every track, audio and video, tapped before decoding.

The negotiation (max-bundle, one recvonly slot per track the server would send, slots only
ever added, one offer in flight, each answer's ``mids``) is roomclient/receive_slots.py's.
What the recorder adds: each slot's receiver is taken over by a FrameTap
(recorder/aiortc_frames.py) as soon as its transceiver exists, so encoded frames and RTCP
sender reports go to the session's callbacks with the slot they came on, and keyframes can
be asked for (PLI) at most once an interval per slot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiortc import RTCRtpTransceiver
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from roomclient.receive_slots import ReceiveSlots, Request

from .aiortc_frames import FrameTap, bind_ice
from .track_recording import SenderReport

# At most one keyframe request per video slot in this interval (the SFU rate-limits too).
KEYFRAME_REQUEST_INTERVAL_S = 1.0


@dataclass
class Slot:
    """One receive transceiver."""

    transceiver: RTCRtpTransceiver
    tap: FrameTap
    report: SenderReport | None = None  # the last RTCP sender report on this slot
    last_keyframe_request: float = 0.0


class ReceivePeer(ReceiveSlots[Slot]):
    def __init__(
        self,
        rtc_addresses: tuple[str, ...],
        request: Request,
        on_frame: Callable[[Slot, RTCRtpCodecParameters, bytes, int], None],
        on_report: Callable[[Slot, SenderReport], None],
    ) -> None:
        super().__init__(request, lambda pc: bind_ice(pc, rtc_addresses), ("audio", "video"))
        self._on_frame = on_frame
        self._on_report = on_report

    def report_for(self, sid: str) -> SenderReport | None:
        """The last sender report on the slot that carries track ``sid``."""
        return next((s.report for s in self.slots if self.track_sid(s) == sid), None)

    def _new_slot(self, transceiver: RTCRtpTransceiver) -> Slot:
        slot: Slot

        def on_frame(codec: RTCRtpCodecParameters, data: bytes, timestamp: int) -> None:
            self._on_frame(slot, codec, data, timestamp)

        def on_report(ssrc: int, ntp: int, rtp: int) -> None:
            slot.report = report = SenderReport(ntp, rtp)
            self._on_report(slot, report)

        slot = Slot(transceiver, FrameTap(transceiver.receiver, on_frame, on_report))
        return slot

    # --- keyframes ------------------------------------------------------------------------

    def request_keyframe(self, slot: Slot) -> None:
        """Ask the sender for a keyframe on ``slot`` (PLI), at most once an interval."""
        now = time.monotonic()
        if now - slot.last_keyframe_request >= KEYFRAME_REQUEST_INTERVAL_S:
            slot.last_keyframe_request = now
            self.spawn(slot.tap.request_keyframe())

    def request_video_keyframes(self) -> None:
        for slot in self.slots:
            if slot.transceiver.kind == "video":
                self.request_keyframe(slot)
