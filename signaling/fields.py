"""Typed access to one client frame's fields, and the errors a bad frame raises.

Shared by signaling/protocol.py (session messages) and signaling/commands.py (host and
participant commands), so every refusal names the message, the field and what was expected
in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from sfu.events import SOURCES
from signaling.errors import ErrorCode, SparkleError

RequestId: TypeAlias = str | int
MAX_TRACKS = 64  # equal to the default max_m_sections: more could never be accepted anyway
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


class Fields:
    """Typed accessors that raise a ``BadMessage`` naming the message and the field."""

    def __init__(self, where: str, data: Mapping[str, Any], request_id: RequestId | None):
        self.where = where
        self.data = data
        self.request_id = request_id

    def _bad(self, name: str, expected: str) -> BadMessage:
        got = json_type(self.data[name])
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

    def number(self, name: str) -> float:
        """A JSON number (integer or fraction; NaN and infinities are not JSON at all)."""
        value = self.data[name]
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._bad(name, "a number")
        return float(value)

    def boolean(self, name: str) -> bool:
        value = self.data[name]
        if not isinstance(value, bool):
            raise self._bad(name, "true or false")
        return value

    def source(self, name: str) -> str:
        value = self.string(name, max_length=64)
        if value not in SOURCES:
            raise BadMessage(
                f"{self.where}: field {name!r} is {clip(value)!r}; expected one of {_SOURCES_TEXT}",
                self.request_id,
            )
        return value


def json_type(value: object) -> str:
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


def clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
