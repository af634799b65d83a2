"""Log output: text for people or JSON lines for machines; tokens and secrets never printed.

Nothing we log on purpose holds a token (they travel in bodies and URL fragments), but a
library or a future log line might; a redaction filter rewrites anything that looks like a
JWT or an HTTP credential before any handler formats it (security checklist item 10).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

# Three base64url segments, the first two starting like a JSON object ("eyJ" is '{"').
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_CREDENTIAL = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]+")
_SECRET_FIELD = re.compile(r"(?i)(api_secret|token)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+")


# A LogRecord's own attributes; anything else on a record came from ``extra=`` and is
# emitted as a field of its JSON line.
_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName"}
# Literal secrets shorter than this are not scrubbed: replacing every "a" would garble logs,
# and the generated secrets are 32+ characters (signaling/config.py).
_MIN_SECRET_CHARS = 8


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without JWTs, HTTP credentials, ``token=``/``api_secret=`` values and the
    literal ``secrets`` (the API secret, the TURN credential)."""
    for secret in secrets:
        if len(secret) >= _MIN_SECRET_CHARS:
            text = text.replace(secret, "[redacted]")
    text = _JWT.sub("[redacted-token]", text)
    text = _CREDENTIAL.sub(r"\1 [redacted]", text)
    return _SECRET_FIELD.sub(r"\1\2[redacted]", text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message before any handler formats it. The args are dropped with
    it: a formatter that interpolates again (or a JSON one emitting them) sees only the
    cleaned text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self._secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, the record's
    ``extra=`` fields, and exc when there is one. Redacts on its own too, so it never emits a
    token even on a handler without the filter; a record's args appear only interpolated
    into the (redacted) message, never as a field."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage(), self._secrets),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry:
                entry[key] = self._field(value)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info), self._secrets)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info), self._secrets)
        return json.dumps(entry, ensure_ascii=False)

    def _field(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        return redact(value if isinstance(value, str) else repr(value), self._secrets)


def configure(level: str, fmt: str, secrets: Iterable[str] = ()) -> None:
    """Set up the root logger once for the process (``sparkle serve``); ``secrets`` (the
    API secret, the TURN credential) are scrubbed wherever they would appear."""
    secrets = tuple(secret for secret in secrets if secret)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter(secrets))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aioice/aiortc log every STUN transaction at debug; keep them at info unless asked.
    if level != "debug":
        for name in ("aioice", "aiortc"):
            logging.getLogger(name).setLevel(logging.WARNING)


class AccessLogger(AbstractAccessLogger):
    """Method, path without the query string, status, size and duration: no headers at all,
    so an ``Authorization`` header or a token someone put in a query can never be logged."""

    def log(self, request: BaseRequest, response: StreamResponse, time_s: float) -> None:
        self.logger.info(
            '%s "%s %s" %d %d %.1fms',
            request.remote,
            request.method,
            request.path,
            response.status,
            response.body_length,
            time_s * 1000,
        )
