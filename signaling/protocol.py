"""The WebSocket protocol, version 1 (docs/protocol.md): strict parsing and message builders.

Client frames are parsed into frozen dataclasses here, at the edge, and nowhere else: an
unknown field, a wrong type or an unknown ``type`` is a ``bad_message`` whose text names the
field and what was expected, so a client author can fix the call from the error alone.
Server messages are plain dicts built by the functions at the bottom, one per ``type``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sfu.events import SOURCES, PublishedTrack
from sfu.settings import IceServer
from signaling.errors import ErrorCode, SparkleError
from signaling.tokens import MAX_IDENTITY_LENGTH

PROTOCOL_VERSION = 1
MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 64
MAX_MID_LENGTH = 32  # RFC 8843 section 5.4 says 16 octets; browsers use small integers.
MAX_TRACKS = 64  # equal to the default max_m_sections: more could never be accepted anyway
MAX_CANDIDATE_LENGTH = 1024  # an ICE candidate line is ~100-200 characters
MAX_SID_LENGTH = 64  # server sids are "PA_" + 12 characters

RequestId: TypeAlias = str | int
_SOURCES_TEXT = ", ".join(sorted(SOURCES))


class MessageError(SparkleError):
    """An error caused by one client frame; ``request_id`` is echoed if it had a valid one."""

    def __init__(
        self, code: ErrorCode, message: str | None = None, request_id: RequestId | None = None
    ) -> None:
        super().__init__(code, message)
        self.request_id = request_id


class BadMessage(MessageError):
    def __init__(self, message: str, request_id: RequestId | None = None) -> None:
        super().__init__(ErrorCode.BAD_MESSAGE, message, request_id)


@dataclass(frozen=True)
class Join:
    token: str
    name: str | None
    id: RequestId | None = None
    v: int = PROTOCOL_VERSION


@dataclass(frozen=True)
class TrackSource:
    mid: str
    source: str


@dataclass(frozen=True)
class Offer:
    sdp: str
    tracks: tuple[TrackSource, ...]
    id: RequestId | None = None

    def sources(self) -> dict[str, str]:
        return {track.mid: track.source for track in self.tracks}


@dataclass(frozen=True)
class IceCandidate:
    candidate: str
    sdp_mid: str | None
    sdp_mline_index: int | None
    id: RequestId | None = None


@dataclass(frozen=True)
class Mute:
    source: str
    muted: bool
    id: RequestId | None = None


@dataclass(frozen=True)
class Ping:
    id: RequestId | None = None


@dataclass(frozen=True)
class Leave:
    id: RequestId | None = None


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
class LockRoom:
    """Host command: refuse (``locked`` true) or admit again new joins."""

    locked: bool
    id: RequestId | None = None


@dataclass(frozen=True)
class EndMeeting:
    """Host command: end the meeting for everyone."""

    id: RequestId | None = None


@dataclass(frozen=True)
class SetLobby:
    """Host command: turn the waiting room on or off; off admits everyone waiting."""

    enabled: bool
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


HostCommand: TypeAlias = (
    SetHost | RemoveParticipant | Unban | LockRoom | EndMeeting | SetLobby | Admit | AdmitAll
)
ClientMessage: TypeAlias = Join | Offer | IceCandidate | Mute | Ping | Leave | HostCommand

# type -> (required fields, optional fields); "type" and "id" are allowed everywhere.
_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "join": (frozenset({"v", "token"}), frozenset({"name"})),
    "offer": (frozenset({"sdp", "tracks"}), frozenset()),
    "ice_candidate": (frozenset({"candidate", "sdp_mid", "sdp_mline_index"}), frozenset()),
    "mute": (frozenset({"source", "muted"}), frozenset()),
    "ping": (frozenset(), frozenset()),
    "leave": (frozenset(), frozenset()),
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
}
MESSAGE_TYPES = frozenset(_FIELDS)


def parse(text: str) -> ClientMessage:
    """Parse one text frame; raise ``MessageError`` (bad_message or unsupported_version)."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and the NaN/Infinity refusal below;
        # RecursionError: "[[[[..." nested past the interpreter's limit.
        raise BadMessage(f"not valid JSON: {_json_reason(exc)}") from None
    return parse_object(data)


def parse_object(data: object) -> ClientMessage:
    if not isinstance(data, dict):
        raise BadMessage(f"a message must be a JSON object, got {_json_type(data)}")
    request_id = _request_id(data)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise BadMessage(
            f"field 'type' must be a string, got {_json_type(kind)}"
            if "type" in data
            else "missing field 'type'",
            request_id,
        )
    if kind not in _FIELDS:
        raise BadMessage(
            f"unknown type {_clip(kind)!r}; expected one of {', '.join(sorted(_FIELDS))}",
            request_id,
        )
    required, optional = _FIELDS[kind]
    missing = sorted(required - data.keys())
    if missing:
        raise BadMessage(f"{kind}: missing field {missing[0]!r}", request_id)
    extra = sorted(data.keys() - required - optional - {"type", "id"})
    if extra:
        raise BadMessage(f"{kind}: unknown field {_clip(extra[0])!r}", request_id)
    fields = _Fields(kind, data, request_id)
    if kind == "join":
        return _join(fields, request_id)
    if kind == "offer":
        return Offer(sdp=fields.string("sdp"), tracks=_tracks(fields, request_id), id=request_id)
    if kind == "ice_candidate":
        return IceCandidate(
            candidate=fields.string("candidate", max_length=MAX_CANDIDATE_LENGTH),
            sdp_mid=fields.optional_string("sdp_mid", max_length=MAX_MID_LENGTH),
            sdp_mline_index=fields.optional_index("sdp_mline_index"),
            id=request_id,
        )
    if kind == "mute":
        return Mute(source=fields.source("source"), muted=fields.boolean("muted"), id=request_id)
    if kind == "ping":
        return Ping(id=request_id)
    if kind == "leave":
        return Leave(id=request_id)
    return _host_command(kind, fields, request_id)


def _host_command(kind: str, fields: _Fields, request_id: RequestId | None) -> HostCommand:
    if kind == "set_host":
        return SetHost(
            participant_sid=fields.string("participant_sid", max_length=MAX_SID_LENGTH),
            host=fields.boolean("host"),
            id=request_id,
        )
    if kind == "remove_participant":
        ban = fields.boolean("ban") if "ban" in fields.data else False
        return RemoveParticipant(
            participant_sid=fields.string("participant_sid", max_length=MAX_SID_LENGTH),
            ban=ban,
            id=request_id,
        )
    if kind == "unban":
        identity = fields.string("identity", max_length=MAX_IDENTITY_LENGTH)
        if not identity:
            raise BadMessage("unban: field 'identity' must not be empty", request_id)
        return Unban(identity=identity, id=request_id)
    if kind == "lock_room":
        return LockRoom(locked=fields.boolean("locked"), id=request_id)
    if kind == "set_lobby":
        return SetLobby(enabled=fields.boolean("enabled"), id=request_id)
    if kind in ("admit", "deny"):
        return Admit(
            participant_sid=fields.string("participant_sid", max_length=MAX_SID_LENGTH),
            deny=kind == "deny",
            id=request_id,
        )
    if kind in ("admit_all", "deny_all"):
        return AdmitAll(deny=kind == "deny_all", id=request_id)
    return EndMeeting(id=request_id)


def _join(fields: _Fields, request_id: RequestId | None) -> Join:
    version = fields.integer("v")
    if version != PROTOCOL_VERSION:
        raise MessageError(ErrorCode.UNSUPPORTED_VERSION, request_id=request_id)
    name = fields.optional_string("name", max_length=None)
    return Join(token=fields.string("token"), name=name, id=request_id)


def _tracks(fields: _Fields, request_id: RequestId | None) -> tuple[TrackSource, ...]:
    raw = fields.data["tracks"]
    if not isinstance(raw, list):
        raise BadMessage(f"offer: field 'tracks' must be a list, got {_json_type(raw)}", request_id)
    if len(raw) > MAX_TRACKS:
        raise BadMessage(f"offer: field 'tracks' has more than {MAX_TRACKS} entries", request_id)
    tracks: list[TrackSource] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"offer: tracks[{index}]"
        if not isinstance(item, dict):
            raise BadMessage(f"{where} must be an object, got {_json_type(item)}", request_id)
        keys = set(item.keys())
        if keys != {"mid", "source"}:
            missing = sorted({"mid", "source"} - keys)
            if missing:
                raise BadMessage(f"{where}: missing field {missing[0]!r}", request_id)
            extra = sorted(keys - {"mid", "source"})
            raise BadMessage(f"{where}: unknown field {_clip(extra[0])!r}", request_id)
        item_fields = _Fields(where, item, request_id)
        mid = item_fields.string("mid", max_length=MAX_MID_LENGTH)
        if not mid:
            raise BadMessage(f"{where}: field 'mid' must not be empty", request_id)
        if mid in seen:
            raise BadMessage(f"{where}: mid {mid!r} is listed twice", request_id)
        seen.add(mid)
        tracks.append(TrackSource(mid=mid, source=item_fields.source("source")))
    return tuple(tracks)


class _Fields:
    """Typed accessors that raise a ``BadMessage`` naming the message and the field."""

    def __init__(self, where: str, data: Mapping[str, Any], request_id: RequestId | None):
        self.where = where
        self.data = data
        self.request_id = request_id

    def _bad(self, name: str, expected: str) -> BadMessage:
        got = _json_type(self.data[name])
        return BadMessage(
            f"{self.where}: field {name!r} must be {expected}, got {got}", self.request_id
        )

    def string(self, name: str, *, max_length: int | None = None) -> str:
        value = self.data[name]
        if not isinstance(value, str):
            raise self._bad(name, "a string")
        if max_length is not None and len(value) > max_length:
            raise BadMessage(
                f"{self.where}: field {name!r} is longer than {max_length} characters",
                self.request_id,
            )
        return value

    def optional_string(self, name: str, *, max_length: int | None) -> str | None:
        if self.data.get(name) is None:
            return None
        value = self.data[name]
        if not isinstance(value, str):
            raise self._bad(name, "a string or null")
        return self.string(name, max_length=max_length)

    def integer(self, name: str) -> int:
        value = self.data[name]
        # bool is a subclass of int in Python; JSON true is not a version number.
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._bad(name, "an integer")
        return value

    def optional_index(self, name: str) -> int | None:
        value = self.data[name]
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._bad(name, "an integer or null")
        if not 0 <= value < MAX_TRACKS * 4:
            raise BadMessage(
                f"{self.where}: field {name!r} is out of range 0-{MAX_TRACKS * 4 - 1}",
                self.request_id,
            )
        return value

    def boolean(self, name: str) -> bool:
        value = self.data[name]
        if not isinstance(value, bool):
            raise self._bad(name, "true or false")
        return value

    def source(self, name: str) -> str:
        value = self.string(name, max_length=64)
        if value not in SOURCES:
            raise BadMessage(
                f"{self.where}: field {name!r} is {_clip(value)!r}; expected one of "
                f"{_SOURCES_TEXT}",
                self.request_id,
            )
        return value


def _request_id(data: Mapping[str, Any]) -> RequestId | None:
    if "id" not in data:
        return None
    value = data["id"]
    if isinstance(value, str) and len(value) <= MAX_ID_LENGTH:
        return value
    # JSON integers only, and small enough for a JavaScript client to echo back exactly.
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53:
        return value
    raise BadMessage(
        f"field 'id' must be a string of at most {MAX_ID_LENGTH} characters or an integer "
        f"below 2**53, got {_json_type(value)}"
    )


def _refuse_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity, which are not JSON (RFC 8259 section 6).
    raise ValueError(f"{name} is not a JSON value")


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# --- server -> client -------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantInfo:
    sid: str
    identity: str
    name: str
    host: bool

    def to_wire(self) -> dict[str, Any]:
        return {"sid": self.sid, "identity": self.identity, "name": self.name, "host": self.host}


def track_info(track: PublishedTrack, muted: bool) -> dict[str, Any]:
    return {
        "sid": track.sid,
        "participant_sid": track.peer_id,
        "kind": track.kind,
        "source": track.source,
        "muted": muted,
    }


def _with_id(payload: dict[str, Any], request_id: RequestId | None) -> dict[str, Any]:
    if request_id is not None:
        payload["id"] = request_id
    return payload


def joined(
    *,
    room_name: str,
    room_sid: str,
    participant: ParticipantInfo,
    participants: Sequence[ParticipantInfo],
    tracks: Sequence[dict[str, Any]],
    ice_servers: Sequence[IceServer],
    max_message_bytes: int,
    messages_per_second: float,
    request_id: RequestId | None = None,
) -> dict[str, Any]:
    return _with_id(
        {
            "type": "joined",
            "v": PROTOCOL_VERSION,
            "room": {"name": room_name, "sid": room_sid},
            "participant": participant.to_wire(),
            "participants": [p.to_wire() for p in participants],
            "tracks": list(tracks),
            "ice_servers": [ice_server(server) for server in ice_servers],
            "limits": {
                "max_message_bytes": max_message_bytes,
                "messages_per_second": messages_per_second,
            },
        },
        request_id,
    )


def ice_server(server: IceServer) -> dict[str, Any]:
    # The shape of RTCIceServer (W3C webrtc-pc section 4.2.2), so a browser can use it as is.
    out: dict[str, Any] = {"urls": list(server.urls)}
    if server.username is not None:
        out["username"] = server.username
    if server.credential is not None:
        out["credential"] = server.credential
    return out


def answer(sdp: str, mids: Mapping[str, str], request_id: RequestId | None) -> dict[str, Any]:
    return _with_id({"type": "answer", "sdp": sdp, "mids": dict(mids)}, request_id)


def renegotiate(audio_slots: int, video_slots: int) -> dict[str, Any]:
    return {"type": "renegotiate", "recv": {"audio": audio_slots, "video": video_slots}}


def participant_joined(participant: ParticipantInfo) -> dict[str, Any]:
    return {"type": "participant_joined", "participant": participant.to_wire()}


def participant_left(participant_sid: str, reason: str) -> dict[str, Any]:
    return {"type": "participant_left", "participant_sid": participant_sid, "reason": reason}


def track_published(track: PublishedTrack, muted: bool) -> dict[str, Any]:
    return {"type": "track_published", "track": track_info(track, muted)}


def track_unpublished(track: PublishedTrack) -> dict[str, Any]:
    return {"type": "track_unpublished", "track_sid": track.sid, "participant_sid": track.peer_id}


def track_muted(track: PublishedTrack, muted: bool) -> dict[str, Any]:
    return {
        "type": "track_muted",
        "track_sid": track.sid,
        "participant_sid": track.peer_id,
        "source": track.source,
        "muted": muted,
    }


def active_speaker(participant_sid: str | None) -> dict[str, Any]:
    return {"type": "active_speaker", "participant_sid": participant_sid}


def participant_updated(participant: ParticipantInfo) -> dict[str, Any]:
    return {"type": "participant_updated", "participant": participant.to_wire()}


def room_updated(name: str, sid: str, locked: bool, lobby: bool) -> dict[str, Any]:
    return {
        "type": "room_updated",
        "room": {"name": name, "sid": sid, "locked": locked, "lobby": lobby},
    }


def lobby_entry(participant: ParticipantInfo) -> dict[str, Any]:
    # No ``host`` field: a waiting participant is never a host (hosts skip the lobby).
    return {"sid": participant.sid, "identity": participant.identity, "name": participant.name}


def lobby_waiting(room_name: str, request_id: RequestId | None) -> dict[str, Any]:
    return _with_id({"type": "lobby_waiting", "room": {"name": room_name}}, request_id)


def lobby_knock(participant: ParticipantInfo) -> dict[str, Any]:
    return {"type": "lobby_knock", "participant": lobby_entry(participant)}


def lobby(waiting: Sequence[ParticipantInfo]) -> dict[str, Any]:
    return {"type": "lobby", "waiting": [lobby_entry(p) for p in waiting]}


def lobby_left(participant_sid: str, reason: str) -> dict[str, Any]:
    return {"type": "lobby_left", "participant_sid": participant_sid, "reason": reason}


def pong(request_id: RequestId | None) -> dict[str, Any]:
    return _with_id({"type": "pong"}, request_id)


def bye(reason: str) -> dict[str, Any]:
    return {"type": "bye", "reason": reason}


def error(exc: SparkleError, request_id: RequestId | None = None) -> dict[str, Any]:
    return exc.to_ws(request_id)
