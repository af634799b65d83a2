"""What the media plane tells its owner. The owner (signaling) implements this protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["audio", "video"]
Source = Literal["camera", "microphone", "screen_share", "screen_share_audio"]
SOURCES: frozenset[str] = frozenset({"camera", "microphone", "screen_share", "screen_share_audio"})
SOURCE_KIND: dict[str, Kind] = {
    "camera": "video",
    "microphone": "audio",
    "screen_share": "video",
    "screen_share_audio": "audio",
}


@dataclass(frozen=True)
class PublishedTrack:
    sid: str  # server-assigned track id, unique in the process ("TR_...")
    peer_id: str  # the publishing peer
    kind: Kind
    source: Source
    mid: str  # the publisher's mid


class MediaEvents(Protocol):
    def track_published(self, track: PublishedTrack) -> None: ...

    def track_unpublished(self, track: PublishedTrack) -> None: ...

    def track_refused(self, peer_id: str, mid: str, source: str, reason: str) -> None:
        """A track arrived whose source was not allowed (or not declared); it is not
        forwarded."""

    def stand_in_live(self, track: PublishedTrack) -> None:
        """Subscribers of ``track`` now get its stand-in's video (the first keyframe of a
        framing worker's output for it arrived)."""

    def renegotiation_needed(self, peer_id: str, audio_slots: int, video_slots: int) -> None:
        """Ask the peer's client for a new offer with this many recvonly slots per kind."""

    def active_speaker_changed(self, peer_id: str | None) -> None: ...

    def peer_state_changed(self, peer_id: str, state: str) -> None:
        """RTCPeerConnection state: new, connecting, connected, failed, closed."""
