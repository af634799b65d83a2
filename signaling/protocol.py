"""The WebSocket protocol, version 1 (docs/protocol.md): strict parsing of client frames.

Client frames are parsed into frozen dataclasses here, at the edge, and nowhere else: an
unknown field, a wrong type or an unknown ``type`` is a ``bad_message`` whose text names the
field and what was expected, so a client author can fix the call from the error alone.
Session messages (join, media negotiation) are defined here, the commands of a joined
participant in signaling/commands.py; server messages are built in signaling/messages.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from signaling import commands
from signaling.commands import Command
from signaling.errors import ErrorCode
from signaling.fields import (
    MAX_TRACKS,
    BadMessage,
    Fields,
    MessageError,
    RequestId,
    clip,
    json_type,
)

__all__ = ["BadMessage", "MessageError", "RequestId"]

PROTOCOL_VERSION = 1
MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 64
MAX_MID_LENGTH = 32  # RFC 8843 section 5.4 says 16 octets; browsers use small integers.
MAX_CANDIDATE_LENGTH = 1024  # an ICE candidate line is ~100-200 characters
MAX_TRACK_SID_LENGTH = 64  # server track sids are "TR_" + 12 characters
MAX_CAPTION_PARSE = 65536
# The segmenter cuts utterances at ~15 s (transcribe/utterances.py); 120 s is far beyond.
MAX_CAPTION_SPAN_S = 120.0


@dataclass(frozen=True)
class Join:
    token: str
    name: str | None
    password: str | None = None
    id: RequestId | None = None
    v: int = PROTOCOL_VERSION


@dataclass(frozen=True)
class TrackSource:
    mid: str
    source: str
    # Issue 6: a framing worker's track stands in for this camera track sid (only a
    # ``framer`` may declare it; signaling/session.py checks).
    frames: str | None = None


@dataclass(frozen=True)
class Offer:
    sdp: str
    tracks: tuple[TrackSource, ...]
    id: RequestId | None = None

    def sources(self) -> dict[str, str]:
        return {track.mid: track.source for track in self.tracks if track.frames is None}

    def stand_ins(self) -> dict[str, str]:
        """mid -> the camera track sid that mid's video stands in for."""
        return {t.mid: t.frames for t in self.tracks if t.frames is not None}


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
class Caption:
    """From a transcriber worker (the ``transcriber`` grant): one utterance of the speaker
    whose audio track is ``track``, ``start``/``end`` in epoch seconds (issue 5)."""

    track: str
    start: float
    end: float
    text: str
    id: RequestId | None = None


@dataclass(frozen=True)
class Ping:
    id: RequestId | None = None


@dataclass(frozen=True)
class Leave:
    id: RequestId | None = None


ClientMessage: TypeAlias = Join | Offer | IceCandidate | Mute | Ping | Leave | Caption | Command

# type -> (required fields, optional fields); "type" and "id" are allowed everywhere.
_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "join": (frozenset({"v", "token"}), frozenset({"name", "password"})),
    "offer": (frozenset({"sdp", "tracks"}), frozenset()),
    "ice_candidate": (frozenset({"candidate", "sdp_mid", "sdp_mline_index"}), frozenset()),
    "mute": (frozenset({"source", "muted"}), frozenset()),
    "ping": (frozenset(), frozenset()),
    "leave": (frozenset(), frozenset()),
    "caption": (frozenset({"track", "start", "end", "text"}), frozenset()),
    **commands.FIELDS,
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
        raise BadMessage(f"a message must be a JSON object, got {json_type(data)}")
    request_id = _request_id(data)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise BadMessage(
            f"field 'type' must be a string, got {json_type(kind)}"
            if "type" in data
            else "missing field 'type'",
            request_id,
        )
    if kind not in _FIELDS:
        raise BadMessage(
            f"unknown type {clip(kind)!r}; the message types of protocol v1 are listed in "
            "docs/protocol.md (join, offer, ice_candidate, mute, ping, leave, chat, ...)",
            request_id,
        )
    required, optional = _FIELDS[kind]
    missing = sorted(required - data.keys())
    if missing:
        raise BadMessage(f"{kind}: missing field {missing[0]!r}", request_id)
    extra = sorted(data.keys() - required - optional - {"type", "id"})
    if extra:
        raise BadMessage(f"{kind}: unknown field {clip(extra[0])!r}", request_id)
    fields = Fields(kind, data, request_id)
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
    if kind == "caption":
        return _caption(fields, request_id)
    return commands.parse(kind, fields, request_id)


def _join(fields: Fields, request_id: RequestId | None) -> Join:
    version = fields.integer("v")
    if version != PROTOCOL_VERSION:
        raise MessageError(ErrorCode.UNSUPPORTED_VERSION, request_id=request_id)
    name = fields.optional_string("name", max_length=None)
    password = (
        commands.password_field(fields, "join", request_id) if "password" in fields.data else None
    )
    return Join(token=fields.string("token"), name=name, password=password, id=request_id)


def _caption(fields: Fields, request_id: RequestId | None) -> Caption:
    track = fields.string("track", max_length=MAX_TRACK_SID_LENGTH)
    start, end = fields.number("start"), fields.number("end")
    if not 0 <= start <= end or end - start > MAX_CAPTION_SPAN_S:
        raise BadMessage(
            f"caption: 'start' and 'end' must be epoch seconds with 0 <= start <= end and at "
            f"most {MAX_CAPTION_SPAN_S:.0f} s apart",
            request_id,
        )
    # The stored length is configuration (caption_max_chars); this only keeps a parse cheap.
    text = fields.string("text", max_length=MAX_CAPTION_PARSE)
    return Caption(track=track, start=start, end=end, text=text, id=request_id)


def _tracks(fields: Fields, request_id: RequestId | None) -> tuple[TrackSource, ...]:
    raw = fields.data["tracks"]
    if not isinstance(raw, list):
        raise BadMessage(f"offer: field 'tracks' must be a list, got {json_type(raw)}", request_id)
    if len(raw) > MAX_TRACKS:
        raise BadMessage(f"offer: field 'tracks' has more than {MAX_TRACKS} entries", request_id)
    tracks: list[TrackSource] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"offer: tracks[{index}]"
        if not isinstance(item, dict):
            raise BadMessage(f"{where} must be an object, got {json_type(item)}", request_id)
        keys = set(item.keys())
        missing = sorted({"mid", "source"} - keys)
        if missing:
            raise BadMessage(f"{where}: missing field {missing[0]!r}", request_id)
        extra = sorted(keys - {"mid", "source", "frames"})
        if extra:
            raise BadMessage(f"{where}: unknown field {clip(extra[0])!r}", request_id)
        item_fields = Fields(where, item, request_id)
        mid = item_fields.string("mid", max_length=MAX_MID_LENGTH)
        if not mid:
            raise BadMessage(f"{where}: field 'mid' must not be empty", request_id)
        if mid in seen:
            raise BadMessage(f"{where}: mid {mid!r} is listed twice", request_id)
        seen.add(mid)
        frames = (
            item_fields.string("frames", max_length=MAX_TRACK_SID_LENGTH)
            if "frames" in item
            else None
        )
        if frames is not None and not frames:
            raise BadMessage(f"{where}: field 'frames' must not be empty", request_id)
        source = item_fields.source("source")
        if frames is not None and source != "camera":
            raise BadMessage(f"{where}: only a 'camera' track can frame another", request_id)
        tracks.append(TrackSource(mid=mid, source=source, frames=frames))
    return tuple(tracks)


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
        f"below 2**53, got {json_type(value)}"
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
