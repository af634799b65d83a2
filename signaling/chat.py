"""In-meeting chat (docs/protocol.md, "Chat"): who may say what to whom.

A ``chat`` command goes to the room (``to`` absent), to the hosts (``"hosts"``) or to one
participant (a sid; only to or from a host, so the host stays in control of side channels).
The server decides who gets a line: everyone joined for room chat, never anyone in the lobby
or held by the camera requirement (security checklist item 23: 0 chat until admitted), and
never more people than the sender addressed. Every recipient, the sender included, gets the
same ``chat`` message with the server's ``id`` and ``at``; the sender's copy also echoes the
command's request ``id`` so its client can replace the pending line.

Chat is not stored: a line lives in the clients that received it. Only shared files are kept
(signaling/chat_files.py), for as long as their room exists.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from signaling.chat_files import SharedFile, find_file
from signaling.commands import Chat
from signaling.config import Config
from signaling.errors import ErrorCode
from signaling.fields import BadMessage, MessageError, RequestId, clip
from signaling.ratelimit import TokenBucket

if TYPE_CHECKING:
    from signaling.participant import Participant
    from signaling.registry import RoomRegistry
    from signaling.rooms import LiveRoom

TO_HOSTS = "hosts"
# Buckets of participants who left without forget() are dropped once there are this many
# more than people in the room, so a room's chat state stays bounded whatever happens.
_SLACK = 16


class RoomChat:
    """One room's chat state: a message and an upload rate limiter per participant sid.

    The room calls ``forget(sid)`` when a participant leaves."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._clock = clock
        self._wall_clock = wall_clock
        self._messages: dict[str, TokenBucket] = {}
        self._uploads: dict[str, TokenBucket] = {}

    def allow_message(self, sid: str) -> bool:
        """Count one chat line of ``sid``; False once it sent ``chat_messages_per_minute``
        lines within a minute (a bucket: a full minute's worth at once, then one line per
        ``60 / chat_messages_per_minute`` seconds)."""
        return self._take(self._messages, sid, self._config.chat_messages_per_minute)

    def allow_upload(self, sid: str) -> bool:
        """Count one file upload of ``sid`` against ``chat_files_per_minute``."""
        return self._take(self._uploads, sid, self._config.chat_files_per_minute)

    def forget(self, sid: str) -> None:
        self._messages.pop(sid, None)
        self._uploads.pop(sid, None)

    def retain(self, sids: set[str]) -> None:
        """Forget everyone not in ``sids`` (the room's participants)."""
        for buckets in (self._messages, self._uploads):
            for sid in [sid for sid in buckets if sid not in sids]:
                del buckets[sid]

    @property
    def tracked(self) -> int:
        """How many participants have a limiter (for tests of the bound)."""
        return len(self._messages.keys() | self._uploads.keys())

    def now(self) -> float:
        """Unix time for a message's ``at``, to the millisecond."""
        return round(self._wall_clock(), 3)

    def _take(self, buckets: dict[str, TokenBucket], sid: str, per_minute: int) -> bool:
        bucket = buckets.get(sid)
        if bucket is None:
            bucket = TokenBucket(per_minute / 60.0, per_minute, clock=self._clock)
            buckets[sid] = bucket
        return bucket.try_take()


def chat_message(
    *,
    message_id: str,
    sender_sid: str,
    sender_name: str,
    to: str | None,
    text: str,
    file: SharedFile | None,
    at: float,
    request_id: RequestId | None = None,
) -> dict[str, Any]:
    """The server's ``chat`` message; ``request_id`` only on the sender's copy."""
    payload: dict[str, Any] = {
        "type": "chat",
        "message": {
            "id": message_id,
            "from": {"sid": sender_sid, "name": sender_name},
            "to": to,
            "text": text,
            "file": None if file is None else file.to_wire(),
            "at": at,
        },
    }
    if request_id is not None:
        payload["id"] = request_id
    return payload


async def handle(
    registry: RoomRegistry, room: LiveRoom, sender: Participant, message: Chat
) -> None:
    """Deliver ``message`` from ``sender``, or raise ``MessageError`` (forbidden, not_found,
    bad_message, rate_limited; none fatal) carrying the command's ``id``."""
    config = registry.config
    request_id = message.id
    if sender.hidden:
        # A hidden participant (a recorder, an agent) must not appear anywhere.
        raise MessageError(ErrorCode.FORBIDDEN, "chat: hidden participants cannot send", request_id)
    if not room.receives_room_events(sender):
        raise MessageError(
            ErrorCode.FORBIDDEN, "chat: you can chat once you are in the meeting", request_id
        )
    if len(message.text) > config.chat_max_chars:
        raise BadMessage(
            f"chat: field 'text' is longer than {config.chat_max_chars} characters", request_id
        )
    recipients = _recipients(room, sender, message.to, request_id)
    shared = None
    if message.file_id is not None:
        if not room.may(sender, "file_share"):
            raise MessageError(
                ErrorCode.FORBIDDEN, "chat: you may not share files in this meeting", request_id
            )
        shared = find_file(registry.store, room.name, message.file_id)
        if shared is None:
            raise MessageError(
                ErrorCode.NOT_FOUND,
                f"chat: no file {clip(message.file_id)!r} was shared in this meeting",
                request_id,
            )
    # Counted only once the line is deliverable: a refused line can be fixed and resent.
    if len(room.participants) + _SLACK < room.chat.tracked:
        room.chat.retain(set(room.participants))
    if not room.chat.allow_message(sender.sid):
        raise MessageError(
            ErrorCode.RATE_LIMITED,
            f"chat: at most {config.chat_messages_per_minute} messages a minute; slow down",
            request_id,
        )
    payload = chat_message(
        message_id="CM_" + secrets.token_urlsafe(9),
        sender_sid=sender.sid,
        sender_name=sender.name,
        to=message.to,
        text=message.text,
        file=shared,
        at=room.chat.now(),
    )
    echo = payload if request_id is None else {**payload, "id": request_id}
    for recipient in recipients:
        recipient.send(echo if recipient is sender else payload)


def _recipients(
    room: LiveRoom, sender: Participant, to: str | None, request_id: RequestId | None
) -> list[Participant]:
    """Who gets the line, sender included; raises not_found or forbidden."""
    present = [p for p in room.participants.values() if room.receives_room_events(p)]
    if to is None:
        return present
    if to == TO_HOSTS:
        return [p for p in present if p.host or p is sender]
    target = room.participants.get(to)
    if target is None or target.hidden or not room.receives_room_events(target):
        raise MessageError(
            ErrorCode.NOT_FOUND, f"chat: no participant {clip(to)!r} in this meeting", request_id
        )
    if not (sender.host or target.host):
        raise MessageError(
            ErrorCode.FORBIDDEN,
            "chat: private messages must be to or from a host",
            request_id,
        )
    return [sender] if target is sender else [sender, target]
