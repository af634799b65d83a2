"""A live room's waiting room (issue 3): who knocked and waits for a host to let them in.

A waiting participant is not in the room: it has no media peer, receives no roster, track or
chat message and is not announced to anyone but the room's hosts (``lobby_knock``). It waits
even while no host is present: Jitsi let the first arrivals of a room with no moderator in
(jitsi-meet#7676), which turns a lobby into a race; here only a host opens the door.

``LiveRoom`` (signaling/rooms.py) owns one ``Lobby`` and does the admitting, under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from signaling.participant import Participant
from signaling.protocol import RequestId


@dataclass(eq=False)
class Knock:
    """One waiting participant; ``request_id`` is its join's, echoed by the later ``joined``."""

    participant: Participant
    request_id: RequestId | None


class Lobby:
    """The waiting participants of one live room, in arrival order."""

    def __init__(self) -> None:
        self._knocks: dict[str, Knock] = {}

    def __len__(self) -> int:
        return len(self._knocks)

    def knocks(self) -> list[Knock]:
        return list(self._knocks.values())

    def get(self, sid: str) -> Knock | None:
        return self._knocks.get(sid)

    def by_identity(self, identity: str) -> Knock | None:
        for knock in self._knocks.values():
            if knock.participant.identity == identity:
                return knock
        return None

    def holds(self, participant: Participant) -> bool:
        knock = self._knocks.get(participant.sid)
        return knock is not None and knock.participant is participant

    def add(self, knock: Knock) -> None:
        self._knocks[knock.participant.sid] = knock

    def discard(self, participant: Participant) -> Knock | None:
        """Take ``participant`` out of the lobby; its knock, or None if it was not waiting."""
        if not self.holds(participant):
            return None
        return self._knocks.pop(participant.sid)

    def clear(self) -> list[Knock]:
        knocks, self._knocks = list(self._knocks.values()), {}
        return knocks
