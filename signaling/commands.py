"""Commands a joined participant sends besides media negotiation (docs/protocol.md, "Hosts",
"Waiting room", "Room settings", "Floor", "Chat"): host commands, which the server
checks against its own roster (signaling/moderation.py), and everyone's raise-hand and chat.

Parsed strictly here, like every client frame: the text of a refusal names the message and
the field.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from signaling.fields import BadMessage, Fields, RequestId, clip, json_type
from signaling.tokens import MAX_IDENTITY_LENGTH

MAX_SID_LENGTH = 64  # server sids are "PA_" + 12 characters
MAX_PASSWORD_LENGTH = 128
MAX_FILE_ID_LENGTH = 64
# The chat text limit is configuration (chat_max_chars); this bound only keeps a parse cheap.
MAX_CHAT_TEXT_PARSE = 65536
MAX_SCREEN_SHARES = 16
# The longest IANA zone name is 30 characters (America/Argentina/ComodRivadavia).
MAX_TIME_ZONE_LENGTH = 64

Permission = Literal["speak", "screen_share", "file_share"]
PERMISSIONS: tuple[Permission, ...] = ("speak", "screen_share", "file_share")
ShareAudience = Literal["hosts", "everyone"]
MUTABLE_SOURCES = ("microphone", "camera")


@dataclass(frozen=True)
class SetHost:
    """Host command: promote (``host`` true) or demote another participant."""

    participant_sid: str
    host: bool
    id: RequestId | None = None


@dataclass(frozen=True)
class RemoveParticipant:
    """Host command: remove a participant; with ``ban`` its identity may not rejoin."""

    participant_sid: str
    ban: bool
    id: RequestId | None = None


@dataclass(frozen=True)
class Unban:
    """Host command: lift the ban on an identity."""

    identity: str
    id: RequestId | None = None


@dataclass(frozen=True)
class EndMeeting:
    """Host command: end the meeting for everyone."""

    id: RequestId | None = None


@dataclass(frozen=True)
class Admit:
    """Host command: let one waiting participant in (``deny`` false) or turn it away."""

    participant_sid: str
    deny: bool = False
    id: RequestId | None = None


@dataclass(frozen=True)
class AdmitAll:
    """Host command: let everyone waiting in (``deny`` false) or turn them all away."""

    deny: bool = False
    id: RequestId | None = None


@dataclass(frozen=True)
class SettingsChange:
    """The room settings an ``update_room`` changes; None = unchanged. ``password`` uses
    ``clear_password`` to say "remove", since None already means "unchanged"."""

    lobby: bool | None = None
    locked: bool | None = None
    password: str | None = None
    clear_password: bool = False
    password_skips_lobby: bool | None = None
    mute_on_entry: bool | None = None
    self_unmute: bool | None = None
    require_name: bool | None = None
    require_camera: bool | None = None
    auto_record: bool | None = None
    auto_transcribe: bool | None = None
    time_zone: str | None = None
    screen_share: ShareAudience | None = None
    file_share: ShareAudience | None = None
    max_screen_shares: int | None = None


@dataclass(frozen=True)
class UpdateRoom:
    """Host command: change room settings (``set_lobby`` and ``lock_room`` are shorthands)."""

    settings: SettingsChange
    id: RequestId | None = None


@dataclass(frozen=True)
class MuteParticipant:
    """Host command: mute one participant's microphone or camera (``participant_sid``) or,
    with ``everyone``, every participant who is not a host."""

    source: str
    participant_sid: str | None
    id: RequestId | None = None

    @property
    def everyone(self) -> bool:
        return self.participant_sid is None


@dataclass(frozen=True)
class LowerHand:
    """Host command: lower someone's raised hand."""

    participant_sid: str
    id: RequestId | None = None


@dataclass(frozen=True)
class AskUnmute:
    """Host command: let someone speak (grant ``speak``, lower the hand) and ask them to
    unmute. Nobody is unmuted remotely: the person decides."""

    participant_sid: str
    id: RequestId | None = None


@dataclass(frozen=True)
class SetPermission:
    """Host command: grant or revoke one participant's ``speak``, ``screen_share`` or
    ``file_share``."""

    participant_sid: str
    permission: Permission
    allowed: bool
    id: RequestId | None = None


@dataclass(frozen=True)
class StopShare:
    """Host command: stop forwarding someone's screen share now."""

    participant_sid: str
    id: RequestId | None = None


RecordingAction = Literal["start", "stop", "pause", "resume"]


@dataclass(frozen=True)
class RecordingControl:
    """Host command: start, stop, pause or resume the room's recording (issue 4)."""

    action: RecordingAction
    id: RequestId | None = None


@dataclass(frozen=True)
class TranscriptionControl:
    """Host command: turn live transcription (captions, transcript) on or off (issue 5)."""

    on: bool
    id: RequestId | None = None


@dataclass(frozen=True)
class SetFraming:
    """Anyone, for their own camera (``participant_sid`` None or their own); hosts, for
    anyone's: turn auto-framing on or off (issue 6)."""

    participant_sid: str | None
    enabled: bool
    id: RequestId | None = None


@dataclass(frozen=True)
class RaiseHand:
    """Anyone joined: raise (``raised`` true) or lower one's own hand."""

    raised: bool
    id: RequestId | None = None


@dataclass(frozen=True)
class Chat:
    """Anyone joined: a chat line to the room (``to`` None), to the hosts (``"hosts"``) or to
    one participant (a sid), optionally with a file uploaded beforehand (``file_id``)."""

    text: str
    to: str | None
    file_id: str | None
    id: RequestId | None = None


HostCommand: TypeAlias = (
    SetHost
    | RemoveParticipant
    | Unban
    | EndMeeting
    | Admit
    | AdmitAll
    | UpdateRoom
    | MuteParticipant
    | LowerHand
    | AskUnmute
    | SetPermission
    | StopShare
    | RecordingControl
    | TranscriptionControl
)
Command: TypeAlias = HostCommand | RaiseHand | Chat | SetFraming

# type -> (required fields, optional fields); "type" and "id" are allowed everywhere.
FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "set_host": (frozenset({"participant_sid", "host"}), frozenset()),
    "remove_participant": (frozenset({"participant_sid"}), frozenset({"ban"})),
    "unban": (frozenset({"identity"}), frozenset()),
    "lock_room": (frozenset({"locked"}), frozenset()),
    "end_meeting": (frozenset(), frozenset()),
    "set_lobby": (frozenset({"enabled"}), frozenset()),
    "admit": (frozenset({"participant_sid"}), frozenset()),
    "deny": (frozenset({"participant_sid"}), frozenset()),
    "admit_all": (frozenset(), frozenset()),
    "deny_all": (frozenset(), frozenset()),
    "update_room": (frozenset({"settings"}), frozenset()),
    "mute_participant": (frozenset({"participant_sid", "source"}), frozenset()),
    "mute_all": (frozenset({"source"}), frozenset()),
    "lower_hand": (frozenset({"participant_sid"}), frozenset()),
    "ask_unmute": (frozenset({"participant_sid"}), frozenset()),
    "set_permission": (frozenset({"participant_sid", "permission", "allowed"}), frozenset()),
    "stop_share": (frozenset({"participant_sid"}), frozenset()),
    "start_recording": (frozenset(), frozenset()),
    "stop_recording": (frozenset(), frozenset()),
    "pause_recording": (frozenset(), frozenset()),
    "resume_recording": (frozenset(), frozenset()),
    "start_transcription": (frozenset(), frozenset()),
    "stop_transcription": (frozenset(), frozenset()),
    "raise_hand": (frozenset({"raised"}), frozenset()),
    "set_framing": (frozenset({"enabled"}), frozenset({"participant_sid"})),
    "chat": (frozenset({"text"}), frozenset({"to", "file_id"})),
}

BOOL_SETTINGS = (
    "lobby",
    "locked",
    "password_skips_lobby",
    "mute_on_entry",
    "self_unmute",
    "require_name",
    "require_camera",
    "auto_record",
    "auto_transcribe",
)
AUDIENCE_SETTINGS = ("screen_share", "file_share")
# Every setting but the password, whose change is a hash (signaling/room_settings.py).
PLAIN_SETTINGS = (*BOOL_SETTINGS, *AUDIENCE_SETTINGS, "max_screen_shares", "time_zone")
SETTING_NAMES = frozenset((*PLAIN_SETTINGS, "password"))


def parse(kind: str, fields: Fields, request_id: RequestId | None) -> Command:
    """Build the command of type ``kind`` (a key of ``FIELDS``; presence already checked)."""
    sid = _sid(fields) if "participant_sid" in FIELDS[kind][0] else ""
    if kind == "set_host":
        return SetHost(participant_sid=sid, host=fields.boolean("host"), id=request_id)
    if kind == "remove_participant":
        ban = fields.boolean("ban") if "ban" in fields.data else False
        return RemoveParticipant(participant_sid=sid, ban=ban, id=request_id)
    if kind == "unban":
        identity = fields.string("identity", max_length=MAX_IDENTITY_LENGTH)
        if not identity:
            raise BadMessage("unban: field 'identity' must not be empty", request_id)
        return Unban(identity=identity, id=request_id)
    if kind == "lock_room":
        return UpdateRoom(SettingsChange(locked=fields.boolean("locked")), id=request_id)
    if kind == "set_lobby":
        return UpdateRoom(SettingsChange(lobby=fields.boolean("enabled")), id=request_id)
    if kind == "end_meeting":
        return EndMeeting(id=request_id)
    if kind in ("admit", "deny"):
        return Admit(participant_sid=sid, deny=kind == "deny", id=request_id)
    if kind in ("admit_all", "deny_all"):
        return AdmitAll(deny=kind == "deny_all", id=request_id)
    if kind == "update_room":
        return UpdateRoom(_settings_change(fields, request_id), id=request_id)
    if kind in ("mute_participant", "mute_all"):
        source = fields.string("source", max_length=64)
        if source not in MUTABLE_SOURCES:
            raise BadMessage(
                f"{kind}: field 'source' is {clip(source)!r}; expected microphone or camera",
                request_id,
            )
        return MuteParticipant(
            source=source,
            participant_sid=sid if kind == "mute_participant" else None,
            id=request_id,
        )
    if kind == "lower_hand":
        return LowerHand(participant_sid=sid, id=request_id)
    if kind == "ask_unmute":
        return AskUnmute(participant_sid=sid, id=request_id)
    if kind == "set_permission":
        permission = fields.string("permission", max_length=64)
        if permission not in PERMISSIONS:
            raise BadMessage(
                f"set_permission: field 'permission' is {clip(permission)!r}; expected one "
                f"of {', '.join(PERMISSIONS)}",
                request_id,
            )
        return SetPermission(
            participant_sid=sid,
            permission=_permission(permission),
            allowed=fields.boolean("allowed"),
            id=request_id,
        )
    if kind == "stop_share":
        return StopShare(participant_sid=sid, id=request_id)
    if kind == "raise_hand":
        return RaiseHand(raised=fields.boolean("raised"), id=request_id)
    if kind == "set_framing":
        target = _sid(fields) if "participant_sid" in fields.data else None
        return SetFraming(participant_sid=target, enabled=fields.boolean("enabled"), id=request_id)
    if kind.endswith("_recording"):
        return RecordingControl(action=_RECORDING_ACTIONS[kind], id=request_id)
    if kind.endswith("_transcription"):
        return TranscriptionControl(on=kind == "start_transcription", id=request_id)
    return _chat(fields, request_id)


_RECORDING_ACTIONS: dict[str, RecordingAction] = {
    "start_recording": "start",
    "stop_recording": "stop",
    "pause_recording": "pause",
    "resume_recording": "resume",
}


def _sid(fields: Fields) -> str:
    return fields.string("participant_sid", max_length=MAX_SID_LENGTH)


def _permission(value: str) -> Permission:
    for permission in PERMISSIONS:
        if permission == value:
            return permission
    raise AssertionError(value)  # checked by the caller


def _settings_change(fields: Fields, request_id: RequestId | None) -> SettingsChange:
    raw = fields.data["settings"]
    if not isinstance(raw, dict):
        raise BadMessage(
            f"update_room: field 'settings' must be an object, got {json_type(raw)}", request_id
        )
    if not raw:
        raise BadMessage("update_room: field 'settings' names no setting", request_id)
    unknown = sorted(set(raw) - SETTING_NAMES)
    if unknown:
        raise BadMessage(
            f"update_room: unknown setting {clip(str(unknown[0]))!r}; expected any of "
            f"{', '.join(sorted(SETTING_NAMES))}",
            request_id,
        )
    inner = Fields("update_room: settings", raw, request_id)
    values: dict[str, Any] = {}
    for name in BOOL_SETTINGS:
        if name in raw:
            values[name] = inner.boolean(name)
    for name in AUDIENCE_SETTINGS:
        if name in raw:
            audience = inner.string(name, max_length=16)
            if audience not in ("hosts", "everyone"):
                raise BadMessage(
                    f"update_room: setting {name!r} is {clip(audience)!r}; expected hosts or "
                    "everyone",
                    request_id,
                )
            values[name] = audience
    if "max_screen_shares" in raw:
        count = inner.integer("max_screen_shares")
        if not 1 <= count <= MAX_SCREEN_SHARES:
            raise BadMessage(
                f"update_room: setting 'max_screen_shares' must be 1 to {MAX_SCREEN_SHARES}",
                request_id,
            )
        values["max_screen_shares"] = count
    if "time_zone" in raw:
        values["time_zone"] = _time_zone(inner, request_id)
    if "password" in raw:
        if raw["password"] is None:
            values["clear_password"] = True
        else:
            values["password"] = password_field(inner, "update_room", request_id)
    return SettingsChange(**values)


def _time_zone(fields: Fields, request_id: RequestId | None) -> str:
    """An IANA time zone name (the meeting's, for due dates such as "by Friday"), or "" for
    the server's default_time_zone."""
    name = fields.string("time_zone", max_length=MAX_TIME_ZONE_LENGTH)
    if name and not is_time_zone(name):
        raise BadMessage(
            f"update_room: setting 'time_zone' is {clip(name)!r}; expected an IANA time zone "
            'name such as Europe/Berlin, or "" for the server\'s default',
            request_id,
        )
    return name


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is a time zone this machine's tz database knows."""
    if not name or len(name) > MAX_TIME_ZONE_LENGTH or name.startswith(("/", ".")):
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def password_field(fields: Fields, where: str, request_id: RequestId | None) -> str:
    value = fields.string("password", max_length=MAX_PASSWORD_LENGTH)
    if not value:
        raise BadMessage(f"{where}: field 'password' must not be empty", request_id)
    return value


def _chat(fields: Fields, request_id: RequestId | None) -> Chat:
    text = fields.string("text", max_length=MAX_CHAT_TEXT_PARSE)
    to = fields.optional_string("to", max_length=MAX_SID_LENGTH)
    file_id = fields.optional_string("file_id", max_length=MAX_FILE_ID_LENGTH)
    if not text.strip() and file_id is None:
        raise BadMessage("chat: field 'text' must not be empty without 'file_id'", request_id)
    return Chat(text=text, to=to, file_id=file_id, id=request_id)


def settings_as_dict(change: SettingsChange) -> Mapping[str, object]:
    """The changed settings, for the audit log (the password itself is never written)."""
    out: dict[str, object] = {}
    for name in PLAIN_SETTINGS:
        value = getattr(change, name)
        if value is not None:
            out[name] = value
    if change.password is not None:
        out["password"] = "set"
    if change.clear_password:
        out["password"] = "removed"
    return out
