"""Who publishes what, as a worker learns it from signalling (docs/protocol.md).

``joined.participants``/``participant_joined``/``participant_updated`` give names,
``joined.tracks``/``track_published`` map a track sid to its participant, kind and source,
and ``answer.mids`` (kept by the receive slots) maps a receive mid to a track sid. A
participant is kept after it leaves: its tracks may still be being closed, and the manifest
wants its name. Likewise each track's owner (``owners``) is kept after it is unpublished: its
last utterances are recognised after that, and their caption needs the speaker.
Every field read from the server is checked: a malformed entry is skipped, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SOURCES = frozenset({"camera", "microphone", "screen_share", "screen_share_audio"})
KINDS = frozenset({"audio", "video"})


@dataclass(frozen=True)
class ParticipantInfo:
    sid: str
    identity: str
    name: str


@dataclass(frozen=True)
class TrackInfo:
    sid: str
    participant_sid: str
    kind: str
    source: str


class Roster:
    def __init__(self) -> None:
        self.participants: dict[str, ParticipantInfo] = {}
        self.tracks: dict[str, TrackInfo] = {}
        self.owners: dict[str, str] = {}  # track sid -> participant sid, kept after it ends

    def add_participant(self, data: Any) -> ParticipantInfo | None:
        if not isinstance(data, dict):
            return None
        sid, identity, name = data.get("sid"), data.get("identity"), data.get("name")
        if not isinstance(sid, str) or not sid:
            return None
        info = ParticipantInfo(
            sid=sid,
            identity=identity if isinstance(identity, str) else "",
            name=name if isinstance(name, str) else "",
        )
        self.participants[sid] = info
        return info

    def add_track(self, data: Any) -> TrackInfo | None:
        if not isinstance(data, dict):
            return None
        sid, owner = data.get("sid"), data.get("participant_sid")
        kind, source = data.get("kind"), data.get("source")
        if not (isinstance(sid, str) and sid and isinstance(owner, str)):
            return None
        if kind not in KINDS or source not in SOURCES:
            return None
        info = TrackInfo(sid=sid, participant_sid=owner, kind=kind, source=source)
        self.tracks[sid] = info
        self.owners[sid] = owner
        return info

    def remove_track(self, sid: Any) -> TrackInfo | None:
        return self.tracks.pop(sid, None) if isinstance(sid, str) else None

    def load(self, participants: Any, tracks: Any) -> None:
        """The roster and tracks of ``joined`` (or ``camera_accepted``)."""
        for participant in participants if isinstance(participants, list) else ():
            self.add_participant(participant)
        for track in tracks if isinstance(tracks, list) else ():
            self.add_track(track)

    def participant(self, sid: str) -> ParticipantInfo:
        return self.participants.get(sid) or ParticipantInfo(sid=sid, identity="", name="")

    def slots_needed(self) -> dict[str, int]:
        """Receive slots per kind for every track currently published."""
        counts = dict.fromkeys(sorted(KINDS), 0)
        for track in self.tracks.values():
            counts[track.kind] += 1
        return counts
