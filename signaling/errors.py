"""The one error catalogue: codes, messages, HTTP statuses and WebSocket close codes.

Every error the service reports, over HTTP or the WebSocket, is a ``SparkleError`` built from
an entry here, so a code means the same thing everywhere (docs/protocol.md, "Errors").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class ErrorSpec:
    http_status: int
    fatal: bool
    close_code: int | None
    default_message: str


class ErrorCode(StrEnum):
    BAD_MESSAGE = "bad_message"
    BINARY_NOT_SUPPORTED = "binary_not_supported"
    UNSUPPORTED_VERSION = "unsupported_version"
    NOT_JOINED = "not_joined"
    ALREADY_JOINED = "already_joined"
    INVALID_TOKEN = "invalid_token"
    NAME_REQUIRED = "name_required"
    OFFER_IN_FLIGHT = "offer_in_flight"
    SDP_REJECTED = "sdp_rejected"
    SOURCE_NOT_ALLOWED = "source_not_allowed"
    RATE_LIMITED = "rate_limited"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    MESSAGE_TOO_LARGE = "message_too_large"
    JOIN_TIMEOUT = "join_timeout"
    REPLACED = "replaced"
    ROOM_FULL = "room_full"
    ROOM_DELETED = "room_deleted"
    FORBIDDEN = "forbidden"
    REMOVED = "removed"
    IN_LOBBY = "in_lobby"
    LOBBY_DENIED = "lobby_denied"
    LOBBY_TIMEOUT = "lobby_timeout"
    PASSWORD_REQUIRED = "password_required"
    FILE_TOO_LARGE = "file_too_large"
    UNSUPPORTED_FILE_TYPE = "unsupported_file_type"
    STORAGE_FULL = "storage_full"
    TRANSCRIPTION_UNAVAILABLE = "transcription_unavailable"
    FRAMING_UNAVAILABLE = "framing_unavailable"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INTERNAL_ERROR = "internal_error"


CATALOGUE: dict[ErrorCode, ErrorSpec] = {
    ErrorCode.BAD_MESSAGE: ErrorSpec(400, False, None, "malformed message"),
    ErrorCode.BINARY_NOT_SUPPORTED: ErrorSpec(
        400, False, None, "binary frames are not supported; send JSON text"
    ),
    ErrorCode.UNSUPPORTED_VERSION: ErrorSpec(
        400, True, 4400, "unsupported protocol version; this server speaks v=1"
    ),
    ErrorCode.NOT_JOINED: ErrorSpec(409, False, None, "send 'join' first"),
    ErrorCode.ALREADY_JOINED: ErrorSpec(409, False, None, "already joined"),
    # One answer for a bad or expired token, a room that does not exist, a locked room, a
    # ban, a wrong meeting password and a lockout, so none can be told from the others
    # (security checklist item 8, issue 3). The precise reason is logged server-side only.
    ErrorCode.INVALID_TOKEN: ErrorSpec(
        401,
        True,
        4401,
        "cannot join: the invitation is invalid or has expired, the meeting does not exist "
        "or is locked, or the password is wrong",
    ),
    ErrorCode.NAME_REQUIRED: ErrorSpec(
        400, False, None, "a display name is required (1 to 64 characters)"
    ),
    ErrorCode.OFFER_IN_FLIGHT: ErrorSpec(
        409, False, None, "an offer is already being answered; wait for 'answer'"
    ),
    ErrorCode.SDP_REJECTED: ErrorSpec(400, False, None, "the SDP offer was rejected"),
    ErrorCode.SOURCE_NOT_ALLOWED: ErrorSpec(
        403, False, None, "your token does not allow publishing this source"
    ),
    ErrorCode.RATE_LIMITED: ErrorSpec(429, False, None, "too many messages; slow down"),
    ErrorCode.ORIGIN_NOT_ALLOWED: ErrorSpec(
        403, False, None, "this page's origin may not open a Sparkle WebSocket"
    ),
    ErrorCode.MESSAGE_TOO_LARGE: ErrorSpec(413, True, 1009, "message too large"),
    ErrorCode.JOIN_TIMEOUT: ErrorSpec(408, True, 4408, "no 'join' received in time"),
    ErrorCode.REPLACED: ErrorSpec(
        409, True, 4409, "the same identity joined this room from another connection"
    ),
    ErrorCode.ROOM_FULL: ErrorSpec(403, True, 4429, "the room is full"),
    ErrorCode.ROOM_DELETED: ErrorSpec(410, True, 4410, "the room was deleted"),
    ErrorCode.FORBIDDEN: ErrorSpec(403, False, None, "only a host may do this"),
    ErrorCode.REMOVED: ErrorSpec(403, True, 4403, "a host removed you from the meeting"),
    ErrorCode.IN_LOBBY: ErrorSpec(
        409, False, None, "you are in the waiting room; wait until a host admits you"
    ),
    ErrorCode.LOBBY_DENIED: ErrorSpec(403, True, 4405, "a host declined to let you in"),
    ErrorCode.LOBBY_TIMEOUT: ErrorSpec(
        408, True, 4407, "nobody admitted you in time; try again later"
    ),
    ErrorCode.PASSWORD_REQUIRED: ErrorSpec(
        401, False, None, "this meeting needs a password; join again with 'password'"
    ),
    ErrorCode.FILE_TOO_LARGE: ErrorSpec(413, False, None, "the file is too large"),
    ErrorCode.UNSUPPORTED_FILE_TYPE: ErrorSpec(
        415, False, None, "this type of file cannot be shared in chat"
    ),
    ErrorCode.STORAGE_FULL: ErrorSpec(
        507, False, None, "not enough free disk space to record; free some and try again"
    ),
    ErrorCode.TRANSCRIPTION_UNAVAILABLE: ErrorSpec(
        503, False, None, "transcription is turned off on this server (transcriber_workers)"
    ),
    ErrorCode.FRAMING_UNAVAILABLE: ErrorSpec(
        503, False, None, "auto-framing is turned off on this server (framing_workers)"
    ),
    ErrorCode.UNAUTHORIZED: ErrorSpec(401, False, None, "missing or invalid API key"),
    ErrorCode.NOT_FOUND: ErrorSpec(404, False, None, "not found"),
    ErrorCode.CONFLICT: ErrorSpec(409, False, None, "already exists"),
    ErrorCode.INTERNAL_ERROR: ErrorSpec(500, False, None, "internal error"),
}


class SparkleError(Exception):
    """An error with a catalogue code and a precise, client-safe message."""

    def __init__(self, code: ErrorCode, message: str | None = None) -> None:
        self.code = code
        self.spec = CATALOGUE[code]
        self.message = message or self.spec.default_message
        super().__init__(f"{code.value}: {self.message}")

    @property
    def fatal(self) -> bool:
        return self.spec.fatal

    def to_ws(self, request_id: str | int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "type": "error",
            "code": self.code.value,
            "message": self.message,
            "fatal": self.spec.fatal,
        }
        if request_id is not None:
            payload["id"] = request_id
        return payload

    def to_http(self) -> dict[str, Any]:
        return {"error": {"code": self.code.value, "message": self.message}}
