"""A participant of a live room, and what the room needs from its connection.

Split from signaling/rooms.py so the room's membership logic and the moderation commands
(signaling/moderation.py) share one definition of who is in a meeting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class Connection(Protocol):
    """What a room needs from a participant's connection (``signaling.session.Session``)."""

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message; never blocks, never raises."""

    def terminate(self, message: dict[str, Any] | None, close_code: int) -> None:
        """Queue ``message`` (an error or a bye), then close the socket with ``close_code``."""

    async def wait_closed(self) -> None: ...


@dataclass(eq=False)
class Participant:
    sid: str
    identity: str
    name: str
    host: bool
    hidden: bool
    can_subscribe: bool
    allowed_sources: frozenset[str]
    connection: Connection
    muted_sources: set[str] = field(default_factory=set)
    # A transcription worker (the token's ``transcriber`` grant): the only participant whose
    # ``caption`` messages are taken (signaling/transcription.py).
    transcriber: bool = False
    # An auto-framing worker (the token's ``framer`` grant): the only participant whose
    # offer may declare stand-ins (``frames``) for others' cameras (signaling/framing.py).
    framer: bool = False
    # Floor control (signaling/floor.py): permissions a host granted this participant
    # ("speak", "screen_share", "file_share"), its raised hand's queue ticket, and whether
    # it is held back until its camera publishes (the room's require_camera).
    grants: set[str] = field(default_factory=set)
    hand: int | None = None
    held: bool = False
    # Messages for this participant are held here until its ``joined`` went out, so an event
    # fired while the media plane adds the peer never overtakes the ``joined`` reply.
    pending: list[dict[str, Any]] | None = field(default_factory=list)

    def send(self, message: dict[str, Any]) -> None:
        if self.pending is not None:
            self.pending.append(message)
        else:
            self.connection.send(message)

    def release(self, first: dict[str, Any]) -> None:
        """Send ``first`` (the joined reply), then whatever was held back."""
        held, self.pending = self.pending or [], None
        self.connection.send(first)
        for message in held:
            self.connection.send(message)
