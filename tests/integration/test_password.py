"""The meeting password (issue 3): asked for, checked, guessed no faster than the lockout
allows, and refused in words that do not tell an unknown, a locked and a protected room apart.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from signaling.appkeys import ROOMS, STORE
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.support.ws_client import WsClient, mint

PASSWORD = "orange-4711"


async def _host(server: RunningServer, ws: WsClient, room: str, **settings: Any) -> None:
    await ws.join(mint(server.tokens, room, "hana", name="Hana", grants=Grants.host()))
    await ws.send("update_room", settings={"password": PASSWORD, **settings})
    update = await ws.wait_for("room_updated", within=2.0)
    assert update["room"]["password"] is True
    assert PASSWORD not in str(update)


async def _refusal(server: RunningServer, room: str, identity: str, **join: Any) -> Any:
    async with WsClient.connect(server.base_url) as ws:
        await ws.send("join", v=1, token=mint(server.tokens, room, identity, name="G"), **join)
        reply = await ws.wait_for("error", within=3.0)
        if reply["fatal"]:
            assert await ws.wait_closed() == 4401
        return reply


async def test_a_password_is_asked_for_checked_and_never_stored_or_echoed(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(auto_create_rooms=False)
    for name in ("pw", "lockd"):
        server.app[STORE].create_room(name, max_participants=10)
    async with WsClient.connect(server.base_url) as host, WsClient.connect(server.base_url) as x:
        await _host(server, host, "pw")
        # The hash is stored, never the password.
        record = server.app[STORE].get_room("pw")
        assert record is not None and record.password_hash is not None
        assert record.password_hash.startswith("scrypt1$") and PASSWORD not in record.password_hash

        async with WsClient.connect(server.base_url) as guest:
            token = mint(server.tokens, "pw", "gus", name="Gus")
            await guest.send("join", v=1, token=token)
            asked = await guest.wait_error("password_required")
            assert asked["fatal"] is False
            # Not fatal: the same socket joins once the person typed the password.
            joined = await guest.join(token, password=PASSWORD)
            assert joined["room"]["password"] is True

        # A wrong password, a locked room and a room that does not exist: one answer...
        wrong = await _refusal(server, "pw", "ida", password="apple")
        await x.join(mint(server.tokens, "lockd", "hana", name="Hana", grants=Grants.host()))
        await x.send("lock_room", locked=True)
        await x.wait_for("room_updated", within=2.0)
        locked = await _refusal(server, "lockd", "ida", password="apple")
        unknown = await _refusal(server, "nowhere", "ida", password="apple")
        async with WsClient.connect(server.base_url) as forged:
            await forged.send("join", v=1, token="forged", password="apple")
            bad_token = await forged.wait_error("invalid_token")
        # ... and the same as a bad token (security checklist item 8).
        assert wrong == locked == unknown == bad_token
        assert wrong["code"] == "invalid_token" and wrong["fatal"] is True

    # The audit log says a password was set, not which.
    async with http.get(server.url("/api/v1/rooms/pw/audit"), headers=server.auth_headers) as r:
        entries = (await r.json())["entries"]
    assert [e["details"] for e in entries if e["action"] == "update_room"] == [{"password": "set"}]
    assert PASSWORD not in str(entries)


async def test_repeated_wrong_passwords_lock_out_the_identity_and_the_address(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(password_max_failures=3, ws_connects_per_minute=1000)
    async with WsClient.connect(server.base_url) as host:
        await _host(server, host, "guard")
        for attempt in range(3):
            reply = await _refusal(server, "guard", "mallory", password=f"guess-{attempt}")
            assert reply["code"] == "invalid_token"
        # Locked out: even the right password is refused now, in the same words...
        assert (await _refusal(server, "guard", "mallory", password=PASSWORD))["code"] == (
            "invalid_token"
        )
        # ... and a fresh identity from the same address (a new guest token) fares no better.
        assert (await _refusal(server, "guard", "mallory-2", password=PASSWORD))["code"] == (
            "invalid_token"
        )
        # The host is not affected, and neither is the meeting.
        assert (await host.request("ping"))["type"] == "pong"
        live = server.app[ROOMS].live_room("guard")
        assert live is not None and [p.identity for p in live.participants.values()] == ["hana"]


async def test_the_right_password_can_skip_the_lobby(server: RunningServer) -> None:
    async with WsClient.connect(server.base_url) as host:
        await _host(server, host, "door", lobby=True)
        async with WsClient.connect(server.base_url) as gus:
            joined = await gus.join(
                mint(server.tokens, "door", "gus", name="Gus"), password=PASSWORD
            )
            assert joined["participant"]["identity"] == "gus"
        await host.send("update_room", settings={"password_skips_lobby": False})
        await host.wait_for(
            "room_updated", predicate=lambda m: not m["room"]["password_skips_lobby"]
        )
        async with WsClient.connect(server.base_url) as ida:
            await ida.send(
                "join", v=1, token=mint(server.tokens, "door", "ida", name="Ida"), password=PASSWORD
            )
            assert (await ida.wait_for("lobby_waiting", within=2.0))["room"]["name"] == "door"
            knock = await host.wait_for("lobby_knock", within=2.0)
            assert knock["participant"]["name"] == "Ida"
        # Removing the password lets people in without one again (lobby off, too).
        await host.send("update_room", settings={"password": None, "lobby": False})
        await host.wait_for("room_updated", predicate=lambda m: not m["room"]["password"])
        async with WsClient.connect(server.base_url) as jo:
            await jo.join(mint(server.tokens, "door", "jo", name="Jo"))


async def test_guest_tokens_for_protected_locked_and_unknown_rooms_look_alike(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async def guest_token(room: str, **body: Any) -> tuple[int, Any]:
        url = server.url(f"/api/v1/rooms/{room}/guest-token")
        async with http.post(url, json={"name": "Gina", **body}) as response:
            return response.status, await response.json()

    async with WsClient.connect(server.base_url) as host, WsClient.connect(server.base_url) as x:
        for name in ("secret", "shut", "open"):
            server.app[STORE].create_room(name, max_participants=10)
        await _host(server, host, "secret")
        await x.join(mint(server.tokens, "shut", "hana", name="Hana", grants=Grants.host()))
        await x.send("lock_room", locked=True)
        await x.wait_for("room_updated", within=2.0)

        asked = [await guest_token(room) for room in ("secret", "shut", "nowhere")]
        assert asked == [(401, {"error": {"code": "password_required", "message": (
            "this meeting needs a password; join again with 'password'"
        )}})] * 3  # fmt: skip
        refused = [await guest_token(room, password="nope") for room in ("secret", "shut", "nope")]
        assert [status for status, _ in refused] == [401, 401, 401]
        assert refused[0] == refused[1] == refused[2]

        status, body = await guest_token("secret", password=PASSWORD)
        assert status == 200
        # The token still needs the password at the door (the client sends it along).
        async with WsClient.connect(server.base_url) as gina:
            joined = await gina.join(body["token"], password=PASSWORD)
            assert joined["participant"]["name"] == "Gina"
        status, _ = await guest_token("open")
        assert status == 200
