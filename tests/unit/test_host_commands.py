"""Strict parsing of the host commands (issue 3) and the events they cause."""

from __future__ import annotations

import json
from typing import Any

import pytest

from signaling import messages, protocol
from signaling.commands import (
    AskUnmute,
    Chat,
    EndMeeting,
    LowerHand,
    MuteParticipant,
    RaiseHand,
    RemoveParticipant,
    SetHost,
    SetPermission,
    SettingsChange,
    StopShare,
    Unban,
    UpdateRoom,
)
from signaling.errors import CATALOGUE, ErrorCode
from signaling.messages import ParticipantInfo
from signaling.protocol import Join, MessageError
from signaling.room_settings import RoomSettings, from_stored


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
    assert parse({"type": "lock_room", "locked": False}) == UpdateRoom(SettingsChange(locked=False))
    assert parse({"type": "set_lobby", "enabled": True}) == UpdateRoom(SettingsChange(lobby=True))
    assert parse({"type": "end_meeting", "id": "e"}) == EndMeeting(id="e")


def test_valid_floor_commands() -> None:
    assert parse({"type": "mute_participant", "participant_sid": "PA_1", "source": "camera"}) == (
        MuteParticipant("camera", "PA_1")
    )
    everyone = parse({"type": "mute_all", "source": "microphone"})
    assert everyone == MuteParticipant("microphone", None)
    assert isinstance(everyone, MuteParticipant) and everyone.everyone
    assert parse({"type": "raise_hand", "raised": True}) == RaiseHand(True)
    assert parse({"type": "lower_hand", "participant_sid": "PA_1"}) == LowerHand("PA_1")
    assert parse({"type": "ask_unmute", "participant_sid": "PA_1"}) == AskUnmute("PA_1")
    assert parse(
        {
            "type": "set_permission",
            "participant_sid": "PA_1",
            "permission": "file_share",
            "allowed": True,
        }
    ) == SetPermission("PA_1", "file_share", True)
    assert parse({"type": "stop_share", "participant_sid": "PA_1"}) == StopShare("PA_1")
    assert parse({"type": "chat", "text": "hi", "to": "hosts"}) == Chat("hi", "hosts", None)
    assert parse({"type": "join", "v": 1, "token": "t", "password": "pw"}) == Join("t", None, "pw")


def test_update_room_settings() -> None:
    message = parse(
        {
            "type": "update_room",
            "settings": {
                "password": "1234",
                "self_unmute": False,
                "screen_share": "everyone",
                "max_screen_shares": 2,
            },
        }
    )
    assert isinstance(message, UpdateRoom)
    change = message.settings
    assert change == SettingsChange(
        password="1234", self_unmute=False, screen_share="everyone", max_screen_shares=2
    )
    after = RoomSettings().changed(change)
    assert after.has_password and not after.self_unmute and after.max_screen_shares == 2
    cleared = parse({"type": "update_room", "settings": {"password": None}})
    assert isinstance(cleared, UpdateRoom) and cleared.settings.clear_password
    assert not after.changed(cleared.settings).has_password
    # What is stored comes back, and a damaged row falls back to defaults, never fails.
    stored = from_stored(after.stored_json(), lobby=True, has_password=True)
    assert stored == RoomSettings(
        lobby=True,
        has_password=True,
        self_unmute=False,
        screen_share="everyone",
        max_screen_shares=2,
    )
    assert from_stored("not json", lobby=False, has_password=False) == RoomSettings()
    assert (
        from_stored(
            '{"max_screen_shares": 99, "screen_share": "all"}', lobby=False, has_password=False
        )
        == RoomSettings()
    )


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
        (
            {"type": "mute_all", "source": "screen_share"},
            "mute_all: field 'source' is 'screen_share'; expected microphone or camera",
        ),
        (
            {"type": "set_permission", "participant_sid": "P", "permission": "x", "allowed": 1},
            "set_permission: field 'permission' is 'x'; expected one of speak, screen_share, "
            "file_share",
        ),
        ({"type": "update_room", "settings": {}}, "update_room: field 'settings' names no setting"),
        (
            {"type": "update_room", "settings": {"colour": "red"}},
            "update_room: unknown setting 'colour'; expected any of auto_record, "
            "auto_transcribe, file_share, lobby, locked, max_screen_shares, mute_on_entry, "
            "password, password_skips_lobby, require_camera, require_name, screen_share, "
            "self_unmute, time_zone",
        ),
        (
            {"type": "update_room", "settings": {"time_zone": "Mars/Olympus"}},
            "update_room: setting 'time_zone' is 'Mars/Olympus'; expected an IANA time zone "
            'name such as Europe/Berlin, or "" for the server\'s default',
        ),
        (
            {"type": "update_room", "settings": {"time_zone": "../../etc/passwd"}},
            "update_room: setting 'time_zone' is '../../etc/passwd'; expected an IANA time zone "
            'name such as Europe/Berlin, or "" for the server\'s default',
        ),
        (
            {"type": "update_room", "settings": {"max_screen_shares": 0}},
            "update_room: setting 'max_screen_shares' must be 1 to 16",
        ),
        (
            {"type": "update_room", "settings": {"password": ""}},
            "update_room: field 'password' must not be empty",
        ),
        (
            {"type": "update_room", "settings": {"lobby": "yes"}},
            "update_room: settings: field 'lobby' must be true or false, got a string",
        ),
        ({"type": "chat", "text": "  "}, "chat: field 'text' must not be empty without 'file_id'"),
        ({"type": "raise_hand"}, "raise_hand: missing field 'raised'"),
    ],
)
def test_bad_host_commands_say_what_is_wrong(obj: Any, expected: str) -> None:
    with pytest.raises(MessageError) as info:
        parse(obj)
    assert info.value.code is ErrorCode.BAD_MESSAGE and info.value.message == expected


def test_event_payloads() -> None:
    bob = ParticipantInfo(sid="PA_2", identity="bob", name="Bob", host=True)
    assert messages.participant_updated(bob) == {
        "type": "participant_updated",
        "participant": {
            "sid": "PA_2",
            "identity": "bob",
            "name": "Bob",
            "host": True,
            "hand": None,
            "permissions": {"speak": True, "screen_share": False, "file_share": False},
        },
    }
    room = RoomSettings(locked=True).to_wire("r", "RM_1")
    assert messages.room_updated(room) == {"type": "room_updated", "room": room}
    assert room["locked"] is True and room["password"] is False and "has_password" not in room


def test_catalogue_entries() -> None:
    forbidden = CATALOGUE[ErrorCode.FORBIDDEN]
    assert (forbidden.http_status, forbidden.fatal, forbidden.close_code) == (403, False, None)
    removed = CATALOGUE[ErrorCode.REMOVED]
    assert (removed.http_status, removed.fatal, removed.close_code) == (403, True, 4403)
