"""The framer's peer connection: target cameras in (recvonly video slots), framed cameras out
(one sendonly video transceiver per target).

The negotiation (max-bundle, slots only ever added, one offer in flight, each answer's
``mids``) is roomclient/receive_slots.py's. The SFU sends the framer only the cameras it
frames (contract "Server protocol additions": selective subscription), so only video slots
are offered and ``renegotiate``'s audio count is ignored. A slot keeps one remote track for
its whole life while the SFU may move it to another published track: ``track_sid`` tells
which one it carries now, and the session routes each frame by it.

Every slot's track is read from the moment an answer starts it, whether or not a target
needs it: aiortc decodes in its own thread whether anyone reads or not, and an unread
track's queue of decoded frames grows without bound (/work/shared/notes/media-plane.md).

Outputs: ``set_outputs`` names the targets to send; each has a FramedTrack on a ``sendonly``
transceiver declared in the offer's ``tracks`` as ``{"mid", "source": "camera", "frames":
target track sid}`` (the SFU forwards it to the others in place of that camera). A
transceiver whose target left is reused for the next new target (its ``frames``
re-declared); until then it stays declared with its last target and sends nothing, since
protocol.md has every sending m-section listed. Transceivers are only added inside an
offer (``_add_senders``), so they never race the offer in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from recorder.aiortc_frames import bind_ice
from roomclient.receive_slots import ReceiveSlots, Request

from .framed_track import FramedTrack

logger = logging.getLogger(__name__)

# A sane bound on outputs per framer session (protocol.md: at most 64 tracks per offer).
MAX_OUTPUTS = 32


@dataclass
class VideoSlot:
    """One receive transceiver and, once an answer started it, its remote track."""

    index: int
    transceiver: RTCRtpTransceiver
    track: MediaStreamTrack | None = None


@dataclass
class Output:
    """One framed camera being sent: its track, and its transceiver once offered."""

    frames: str  # the target camera's track sid
    track: FramedTrack
    transceiver: RTCRtpTransceiver | None = None
    active: bool = True  # False: its target left; the transceiver waits for another


FrameSink = Callable[[VideoSlot, VideoFrame], None]
SlotEnd = Callable[[VideoSlot], None]


class VideoPeer(ReceiveSlots[VideoSlot]):
    def __init__(
        self,
        rtc_addresses: tuple[str, ...],
        request: Request,
        on_frame: FrameSink,
        on_slot_end: SlotEnd,
        repeat_interval_s: float = 1.0,
    ) -> None:
        super().__init__(request, lambda pc: bind_ice(pc, rtc_addresses), ("video",))
        self.outputs: list[Output] = []
        self._on_frame = on_frame
        self._on_slot_end = on_slot_end
        self._repeat_interval_s = repeat_interval_s

    # --- receiving ------------------------------------------------------------------------

    def _new_slot(self, transceiver: RTCRtpTransceiver) -> VideoSlot:
        return VideoSlot(len(self.slots), transceiver)

    def _answered(self) -> None:
        for slot in self.slots:
            # aiortc creates a slot's remote track when the first answer starts it.
            track = slot.transceiver.receiver.track
            if slot.track is None and track is not None:
                slot.track = track
                self.spawn(self._read(slot, track))

    async def _read(self, slot: VideoSlot, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    self._on_frame(slot, frame)
        except MediaStreamError:
            pass  # the connection closed
        finally:
            self._on_slot_end(slot)

    # --- sending --------------------------------------------------------------------------

    def track_for(self, target: str) -> FramedTrack | None:
        for output in self.outputs:
            if output.active and output.frames == target:
                return output.track
        return None

    def set_outputs(self, targets: Iterable[str]) -> dict[str, FramedTrack]:
        """Send exactly ``targets`` (track sids, at most MAX_OUTPUTS); return each one's
        track. Offers again when the declarations change."""
        wanted = list(dict.fromkeys(targets))[:MAX_OUTPUTS]
        changed = False
        for output in self.outputs:
            if output.active and output.frames not in wanted:
                output.active = False
                output.track.detach()
        for target in wanted:
            if self.track_for(target) is not None:
                continue
            idle = next((o for o in self.outputs if not o.active), None)
            if idle is not None:
                idle.frames, idle.active = target, True
                idle.track.detach()  # nothing of the former target is ever repeated
            else:
                self.outputs.append(Output(target, FramedTrack(self._repeat_interval_s)))
            changed = True
        if changed:
            self.offer_again()
        return {o.frames: o.track for o in self.outputs if o.active}

    def _add_senders(self, pc: RTCPeerConnection) -> None:
        for output in self.outputs:
            if output.transceiver is None:
                output.transceiver = pc.addTransceiver(output.track, direction="sendonly")

    def _declared_tracks(self) -> list[dict[str, Any]]:
        return [
            {"mid": output.transceiver.mid, "source": "camera", "frames": output.frames}
            for output in self.outputs
            if output.transceiver is not None and output.transceiver.mid is not None
        ]

    async def close(self) -> None:
        for output in self.outputs:
            output.track.stop()  # its sender's RTP loop ends (MediaStreamError)
        await super().close()
