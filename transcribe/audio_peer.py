"""The transcriber's receive slots: audio only, decoded.

The negotiation (max-bundle, one recvonly slot per track the server would send, slots only
ever added, one offer in flight, each answer's ``mids``) is roomclient/receive_slots.py's.
A transcriber has no use for video, so it offers audio slots only and ``renegotiate``'s
video counts are ignored.

Unlike the recorder it decodes: each slot's remote track is read with aiortc's ordinary
``track.recv()`` (Opus decoded in aiortc's decoder thread), so no aiortc internals are
touched here. A slot keeps one remote track for its whole life, while the SFU may move it
from one published track to another; ``track_sid`` tells which one it carries now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiortc import RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamTrack

from recorder.aiortc_frames import bind_ice
from roomclient.receive_slots import ReceiveSlots, Request


@dataclass
class AudioSlot:
    """One receive transceiver and, once an answer started it, its remote track."""

    index: int
    transceiver: RTCRtpTransceiver
    track: MediaStreamTrack | None = None


class AudioPeer(ReceiveSlots[AudioSlot]):
    def __init__(
        self,
        rtc_addresses: tuple[str, ...],
        request: Request,
        on_track: Callable[[AudioSlot], None],
    ) -> None:
        super().__init__(request, lambda pc: bind_ice(pc, rtc_addresses), ("audio",))
        self._on_track = on_track

    def _new_slot(self, transceiver: RTCRtpTransceiver) -> AudioSlot:
        return AudioSlot(len(self.slots), transceiver)

    def _answered(self) -> None:
        for slot in self.slots:
            # aiortc creates a slot's remote track when the first answer starts it.
            track = slot.transceiver.receiver.track
            if slot.track is None and track is not None:
                slot.track = track
                self._on_track(slot)
