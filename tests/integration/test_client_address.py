"""The client's address behind trusted proxies (signaling/client_address.py)."""

from __future__ import annotations

import aiohttp
import pytest

from signaling.client_address import client_of, parse_networks
from signaling.config import ConfigError, load
from tests.conftest import RunningServer, ServerFactory

PROXIES = parse_networks(["10.0.0.0/8", "::1"])


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    # From the proxy: the right-most address that is not itself a proxy.
    assert client_of("10.0.0.2", "203.0.113.7", PROXIES) == "203.0.113.7"
    assert client_of("10.0.0.2", "198.51.100.1, 203.0.113.7, 10.0.0.9", PROXIES) == "203.0.113.7"
    # A client's own X-Forwarded-For (spoofed first entry) does not choose the address.
    assert client_of("10.0.0.2", "1.2.3.4, 203.0.113.7", PROXIES) == "203.0.113.7"
    # From anyone else the header is ignored.
    assert client_of("203.0.113.9", "1.2.3.4", PROXIES) == "203.0.113.9"
    # No proxies configured: never believed.
    assert client_of("10.0.0.2", "1.2.3.4", ()) == "10.0.0.2"
    # Malformed entries end the walk at the last good address.
    assert client_of("10.0.0.2", "garbage, 203.0.113.7", PROXIES) == "203.0.113.7"
    assert client_of("10.0.0.2", "203.0.113.7, garbage", PROXIES) == "10.0.0.2"
    assert client_of(None, None, PROXIES) == "unknown"


def test_bad_proxy_settings_are_refused_precisely() -> None:
    with pytest.raises(ConfigError, match="'nonsense' is not an IP address or network"):
        load(env={}, overrides={"trusted_proxies": "10.0.0.1, nonsense"})
    with pytest.raises(ValueError, match=r"'300\.1\.1\.1' is not an IP address"):
        parse_networks(["300.1.1.1"])
    assert load(env={}, overrides={"trusted_proxies": "10.0.0.0/8,::1"}).trusted_proxies


async def test_per_address_quotas_follow_the_client_behind_a_trusted_proxy(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    """The tests reach the server from 127.0.0.1, standing in for the proxy."""

    async def new_meetings(server: RunningServer, client: str) -> list[int]:
        statuses = []
        for _ in range(3):
            headers = {"X-Forwarded-For": client}
            async with http.post(server.url("/api/v1/meetings"), headers=headers) as response:
                statuses.append(response.status)
        return statuses

    behind = await server_factory(meetings_per_minute=2, trusted_proxies="127.0.0.1")
    assert await new_meetings(behind, "203.0.113.1") == [201, 201, 429]
    assert await new_meetings(behind, "203.0.113.2") == [201, 201, 429], "its own quota"
    # Without trusted_proxies the header is the client's own claim: one quota for all.
    direct = await server_factory(meetings_per_minute=2)
    assert await new_meetings(direct, "203.0.113.1") == [201, 201, 429]
    assert await new_meetings(direct, "203.0.113.2") == [429, 429, 429]
