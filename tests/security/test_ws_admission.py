"""Who may open the WebSocket: Origin allow-list and per-address limits (checklist 10, 11)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from signaling.ws_admission import normalise_origin
from tests.conftest import RunningServer

ServerFactory = Callable[..., Awaitable[RunningServer]]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://Example.COM", "http://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80/", "http://example.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("null", None),
        ("file://", None),
        ("ws://example.com", None),
        ("http://example.com/path", None),
        ("http://user@example.com", None),
        ("http://example.com:99999", None),
        ("", None),
    ],
)
def test_origin_normalisation(raw: str, expected: str | None) -> None:
    assert normalise_origin(raw) == expected


async def _handshake(http: aiohttp.ClientSession, server: RunningServer, origin: str | None) -> int:
    """The handshake's HTTP status: 101 when the socket opened (then closed again)."""
    headers = {} if origin is None else {"Origin": origin}
    try:
        ws = await http.ws_connect(server.ws_url, headers=headers)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


async def test_foreign_and_look_alike_origins_are_refused(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    own = server.base_url
    port = own.rsplit(":", 1)[1]
    assert await _handshake(http, server, own) == 101
    assert await _handshake(http, server, None) == 101  # non-browser clients
    for origin in (
        "http://evil.example",
        f"http://127.0.0.1:{port}.evil.example",
        f"http://evil.example/?{own}",
        f"http://127.0.0.1:{int(port) + 1}",
        f"https://127.0.0.1:{port}",
        "null",
    ):
        assert await _handshake(http, server, origin) == 403, origin
    response = await http.get(
        server.ws_url.replace("ws://", "http://"),
        headers={
            "Origin": "http://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 403
    body = await response.json()
    assert body["error"]["code"] == "origin_not_allowed"


async def test_configured_origin_is_allowed(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(allowed_origins="https://app.example.com, https://other.example")
    assert await _handshake(http, server, "https://app.example.com") == 101
    assert await _handshake(http, server, "https://APP.example.com:443") == 101
    assert await _handshake(http, server, "https://app.example.com.evil.example") == 403


async def test_open_sockets_per_address_are_capped(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(max_sockets_per_ip=3)
    sockets = [await http.ws_connect(server.ws_url) for _ in range(3)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(server.ws_url)
    assert refused.value.status == 429
    await sockets.pop().close()
    # The seat is given back when the socket ends.
    for _ in range(50):
        try:
            sockets.append(await http.ws_connect(server.ws_url))
            break
        except aiohttp.WSServerHandshakeError:
            await asyncio.sleep(0.02)
    assert len(sockets) == 3
    for ws in sockets:
        await ws.close()


async def test_new_sockets_per_address_are_rate_limited(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(ws_connects_per_minute=5)
    statuses = [await _handshake(http, server, None) for _ in range(7)]
    assert statuses == [101] * 5 + [429, 429]
