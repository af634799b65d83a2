"""Logs: JSON lines on request, and no token, secret or query string ever written."""

from __future__ import annotations

import json
import logging
import re

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from signaling.logging_setup import (
    AccessLogger,
    JsonFormatter,
    RedactingFilter,
    configure,
    redact,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"join with {JWT} failed", "join with [redacted-token] failed"),
        ("Authorization: Basic QVBJeDpzZWNyZXQ=", "Authorization: Basic [redacted]"),
        ("header Bearer abc.def-ghi", "header Bearer [redacted]"),
        ('{"api_secret": "hunter2hunter2"}', '{"api_secret": "[redacted]"}'),
        ("token=abc123", "token=[redacted]"),
        ("room standup joined by alice", "room standup joined by alice"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_json_formatter_with_redaction() -> None:
    record = logging.LogRecord("sparkle.x", logging.WARNING, __file__, 1, "bad %s", (JWT,), None)
    assert RedactingFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "warning" and entry["logger"] == "sparkle.x"
    assert entry["message"] == "bad [redacted-token]"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])


def test_json_formatter_alone_redacts_args_extras_and_literal_secrets() -> None:
    """Without the filter in front (a handler someone adds later), the formatter still emits
    neither the args nor an ``extra=`` field holding a token or the configured secret."""
    secret = "s3cr3t-" + "x" * 30
    record = logging.LogRecord(
        "sparkle.x", logging.INFO, __file__, 1, "auth %s with %s", (JWT, secret), None
    )
    record.room = "standup"
    record.participants = 3
    record.header = f"Basic {secret}"
    record.claims = {"token": JWT}
    line = JsonFormatter(secrets=[secret]).format(record)
    entry = json.loads(line)
    assert entry["message"] == "auth [redacted-token] with [redacted]"
    assert entry["room"] == "standup" and entry["participants"] == 3
    assert JWT not in line and secret not in line and "args" not in entry
    assert set(entry) == {
        "time",
        "level",
        "logger",
        "message",
        "room",
        "participants",
        "header",
        "claims",
    }


def test_configure_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure("debug", "json", secrets=["the-api-secret-value"])
        logging.getLogger("sparkle.test").info(
            "key pair %s/%s", "APIabc", "the-api-secret-value", extra={"room": "r1"}
        )
        try:
            raise ValueError(f"bad {JWT}")
        except ValueError:
            logging.getLogger("sparkle.test").exception("failed")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    lines = capsys.readouterr().err.splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert entries[0]["message"] == "key pair APIabc/[redacted]" and entries[0]["room"] == "r1"
    assert (
        entries[1]["level"] == "error" and "ValueError: bad [redacted-token]" in entries[1]["exc"]
    )
    assert "the-api-secret-value" not in "".join(lines) and JWT not in "".join(lines)


async def test_access_log_has_no_query_string_or_headers(caplog: pytest.LogCaptureFixture) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/hello", hello)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server(access_log_class=AccessLogger)
    try:
        with caplog.at_level(logging.INFO, logger="aiohttp.access"):
            async with (
                aiohttp.ClientSession() as http,
                http.get(
                    server.make_url(f"/hello?token={JWT}"),
                    headers={"Authorization": "Basic QVBJeDpzZWNyZXQ="},
                ) as response,
            ):
                assert response.status == 200
    finally:
        await server.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(lines) == 1
    assert '"GET /hello" 200' in lines[0]
    assert "token" not in lines[0] and "QVBJ" not in lines[0] and "?" not in lines[0]
