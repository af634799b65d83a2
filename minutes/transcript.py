"""The transcript's value types, shared by the server, the transcriber worker and the exports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Participant:
    identity: str
    name: str


@dataclass(frozen=True)
class Segment:
    """One utterance of one speaker (an SFU has one audio track per participant, so the
    speaker is known without diarization)."""

    identity: str  # the speaker's participant identity
    name: str  # the speaker's display name
    start: float  # epoch seconds (UTC)
    end: float  # epoch seconds
    text: str
    id: int = 0  # the server's segment id (0 when not stored)
