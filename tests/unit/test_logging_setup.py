"""Logs: JSON lines on request, and no token, secret or query string ever written."""

from __future__ import annotations

import json
import logging

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from signaling.logging_setup import AccessLogger, JsonFormatter, RedactingFilter, redact

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
    assert entry["msg"] == "bad [redacted-token]"
    assert isinstance(entry["ts"], float)


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
