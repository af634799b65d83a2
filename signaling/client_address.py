"""The client's address behind a reverse proxy, trusted only from proxies the operator names.

Every per-address limit (WebSocket connects and open sockets, guest-token and password
quotas, recording-link lockouts) keys on ``request.remote``. Behind a TLS proxy that is the
proxy, so the limits would become server-wide. ``X-Forwarded-For`` fixes it, but only when
it comes from a proxy we trust: from anyone else it is whatever the client wants it to be.

So: when the TCP peer is in ``trusted_proxies`` (addresses or CIDR networks), the client is
the right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy (each proxy
appends the address it saw, RFC 7239 section 5.2's model for ``Forwarded``); otherwise the
header is ignored. A malformed entry ends the walk: the last good address is used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """Addresses and CIDR networks; ValueError naming the bad one."""
    networks: list[Network] = []
    for value in values:
        if not value.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network") from None
    return tuple(networks)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_of(peer: str | None, forwarded_for: str | None, networks: Sequence[Network]) -> str:
    """The client's address for a request from ``peer`` carrying ``forwarded_for``."""
    client = peer or "unknown"
    if not networks or not forwarded_for or not _trusted(client, networks):
        return client
    for entry in reversed(forwarded_for.split(",")):
        candidate = entry.strip()
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            break  # malformed: stop at the last address a trusted proxy vouched for
        client = candidate
        if not _trusted(candidate, networks):
            break
    return client


def middleware(networks: Sequence[Network]) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = client_of(request.remote, request.headers.get("X-Forwarded-For"), networks)
        if client != request.remote:
            request = request.clone(remote=client)
        return await handler(request)

    return forwarded
