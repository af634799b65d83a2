"""/healthz is liveness only; /readyz says whether to send users here (issue 7, operations)."""

from __future__ import annotations

import aiohttp

from signaling.appkeys import ROOMS, STORE
from tests.conftest import RunningServer
from tests.support.ws_client import WsClient, mint


async def _get(http: aiohttp.ClientSession, server: RunningServer, path: str) -> tuple[int, object]:
    async with http.get(server.url(path)) as response:
        return response.status, await response.json()


async def test_ready_when_the_database_answers(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    assert await _get(http, server, "/readyz") == (200, {"status": "ready"})
    assert await _get(http, server, "/healthz") == (200, {"status": "ok"})
    async with http.post(server.url("/readyz")) as response:
        assert response.status == 405  # one method, answered in the API's error format
        assert (await response.json())["error"]["code"] == "bad_message"


async def test_unavailable_when_the_database_does_not_answer(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    server.app[STORE].close()
    status, body = await _get(http, server, "/readyz")
    assert status == 503
    assert isinstance(body, dict) and body["status"] == "unavailable"
    assert "database" in body["reason"] and "closed" in body["reason"]
    # Liveness is not readiness: the process answers, a supervisor must not restart it.
    assert await _get(http, server, "/healthz") == (200, {"status": "ok"})


async def test_shutting_down_is_not_ready(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    """What the app's on_shutdown does (RoomRegistry.close): the client is told, and from
    then on the server answers 503 to readiness while it still answers liveness."""
    token = mint(server.tokens, "standup", "alice")
    async with WsClient.connect(server.base_url) as alice:
        await alice.join(token, name="Alice")
        await server.app[ROOMS].close()
        bye = await alice.wait_for("bye")
        assert bye["reason"] == "shutdown"
        assert await alice.wait_closed() == 1001
    assert await _get(http, server, "/readyz") == (503, {"status": "shutting_down"})
    assert await _get(http, server, "/healthz") == (200, {"status": "ok"})
