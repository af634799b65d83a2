"""Who may open a WebSocket: the Origin allow-list and per-address connection limits.

Checked before the upgrade, so a refused client costs one HTTP response and never a session.

- Origin (security checklist item 10): browsers attach ``Origin`` to every WebSocket
  handshake and, unlike fetch, apply no CORS to it; without a check any web page could open
  a socket with a visitor's token (cross-site WebSocket hijacking, OWASP WebSocket cheat
  sheet). Origins are compared whole, after normalisation, never by substring or prefix.
  Clients that are not browsers (workers, aiortc tools) send no Origin and are let through:
  they must hold a token anyway.
- Per-address limits (checklist item 11): a rate of new sockets and a cap on open ones, so
  one address cannot exhaust file descriptors or sessions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from aiohttp import web

from signaling.config import Config
from signaling.errors import ErrorCode, SparkleError
from signaling.ip_quota import IpQuota

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case with default ports dropped, or None."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class WsAdmission:
    def __init__(self, config: Config, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._allowed: set[str] = set()
        for item in [config.public_url, *config.allowed_origins.split(",")]:
            origin = normalise_origin(item) if item.strip() else None
            if origin is not None:
                self._allowed.add(origin)
        self._connects = IpQuota(config.ws_connects_per_minute, 60.0, clock=clock)
        self._max_open = config.max_sockets_per_ip
        self._open: dict[str, int] = {}

    def open_sockets(self, address: str) -> int:
        return self._open.get(address, 0)

    def check_origin(self, request: web.Request) -> None:
        origin = request.headers.get("Origin")
        if origin is None:
            return
        own = normalise_origin(f"{request.scheme}://{request.host}")
        candidate = normalise_origin(origin)
        if candidate is None or (candidate != own and candidate not in self._allowed):
            raise SparkleError(ErrorCode.ORIGIN_NOT_ALLOWED)

    def check(self, request: web.Request) -> str:
        """Refuse the handshake (SparkleError) or return the client address to seat."""
        self.check_origin(request)
        address = request.remote or "unknown"
        if self._open.get(address, 0) >= self._max_open:
            raise SparkleError(
                ErrorCode.RATE_LIMITED,
                f"too many open connections from your address (limit {self._max_open})",
            )
        if not self._connects.allow(address):
            raise SparkleError(
                ErrorCode.RATE_LIMITED, "too many new connections from your address; retry later"
            )
        return address

    @contextmanager
    def seat(self, address: str) -> Iterator[None]:
        """Hold one of the address's socket seats for the life of the connection."""
        self._open[address] = self._open.get(address, 0) + 1
        try:
            yield
        finally:
            left = self._open[address] - 1
            if left:
                self._open[address] = left
            else:
                del self._open[address]
