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
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

# Three base64url segments, the first two starting like a JSON object ("eyJ" is '{"').
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_CREDENTIAL = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]+")
_SECRET_FIELD = re.compile(r"(?i)(api_secret|token)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+")


def redact(text: str) -> str:
    text = _JWT.sub("[redacted-token]", text)
    text = _CREDENTIAL.sub(r"\1 [redacted]", text)
    return _SECRET_FIELD.sub(r"\1\2[redacted]", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg (+ exc when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, fmt: str) -> None:
    """Set up the root logger once for the process (``sparkle serve``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
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
