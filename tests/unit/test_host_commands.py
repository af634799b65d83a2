"""Strict parsing of the host commands (issue 3) and the events they cause."""

from __future__ import annotations

import json
from typing import Any

import pytest

from signaling import protocol
from signaling.errors import CATALOGUE, ErrorCode
from signaling.protocol import (
    EndMeeting,
    LockRoom,
    MessageError,
    ParticipantInfo,
    RemoveParticipant,
    SetHost,
    Unban,
)


def parse(obj: Any) -> protocol.ClientMessage:
    return protocol.parse(json.dumps(obj))


def test_valid_host_commands() -> None:
    assert parse({"type": "set_host", "participant_sid": "PA_1", "host": True, "id": 3}) == (
        SetHost("PA_1", True, id=3)
    )
    assert parse({"type": "remove_participant", "participant_sid": "PA_1"}) == (
        RemoveParticipant("PA_1", False)
    )
    assert parse({"type": "remove_participant", "participant_sid": "PA_1", "ban": True}) == (
        RemoveParticipant("PA_1", True)
    )
    assert parse({"type": "unban", "identity": "bob"}) == Unban("bob")
    assert parse({"type": "lock_room", "locked": False}) == LockRoom(False)
    assert parse({"type": "end_meeting", "id": "e"}) == EndMeeting(id="e")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"type": "set_host", "participant_sid": "PA_1"}, "set_host: missing field 'host'"),
        (
            {"type": "set_host", "participant_sid": "PA_1", "host": 1},
            "set_host: field 'host' must be true or false, got a number",
        ),
        (
            {"type": "remove_participant", "participant_sid": 5},
            "remove_participant: field 'participant_sid' must be a string, got a number",
        ),
        (
            {"type": "remove_participant", "participant_sid": "P" * 65},
            "remove_participant: field 'participant_sid' is longer than 64 characters",
        ),
        (
            {"type": "remove_participant", "participant_sid": "PA_1", "ban": None},
            "remove_participant: field 'ban' must be true or false, got null",
        ),
        ({"type": "unban", "identity": ""}, "unban: field 'identity' must not be empty"),
        (
            {"type": "unban", "identity": "x" * 129},
            "unban: field 'identity' is longer than 128 characters",
        ),
        ({"type": "lock_room"}, "lock_room: missing field 'locked'"),
        ({"type": "end_meeting", "now": True}, "end_meeting: unknown field 'now'"),
    ],
)
def test_bad_host_commands_say_what_is_wrong(obj: Any, expected: str) -> None:
    with pytest.raises(MessageError) as info:
        parse(obj)
    assert info.value.code is ErrorCode.BAD_MESSAGE and info.value.message == expected


def test_event_payloads() -> None:
    bob = ParticipantInfo(sid="PA_2", identity="bob", name="Bob", host=True)
    assert protocol.participant_updated(bob) == {
        "type": "participant_updated",
        "participant": {"sid": "PA_2", "identity": "bob", "name": "Bob", "host": True},
    }
    assert protocol.room_updated("r", "RM_1", True, False) == {
        "type": "room_updated",
        "room": {"name": "r", "sid": "RM_1", "locked": True, "lobby": False},
    }


def test_catalogue_entries() -> None:
    forbidden = CATALOGUE[ErrorCode.FORBIDDEN]
    assert (forbidden.http_status, forbidden.fatal, forbidden.close_code) == (403, False, None)
    removed = CATALOGUE[ErrorCode.REMOVED]
    assert (removed.http_status, removed.fatal, removed.close_code) == (403, True, 4403)
