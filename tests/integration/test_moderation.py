"""Host controls end to end (issue 3): roles, remove and ban, lock, end the meeting, audit.

The real app on 127.0.0.1 and real WebSocket clients; no media is needed.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from typing import Any

import aiohttp

from signaling.appkeys import ROOMS
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.support.ws_client import WsClient, mint

HOST_COMMANDS: dict[str, dict[str, Any]] = {
    "set_host": {"participant_sid": "PA_x", "host": True},
    "remove_participant": {"participant_sid": "PA_x", "ban": True},
    "unban": {"identity": "someone"},
    "lock_room": {"locked": True},
    "end_meeting": {},
}


async def _generic_refusal(server_factory: ServerFactory) -> dict[str, Any]:
    """What a join to a room that does not exist gets: banned and locked-out joins (and
    wrong passwords, tests/integration/test_password.py) must look the same."""
    server = await server_factory(auto_create_rooms=False)
    async with WsClient.connect(server.base_url) as client:
        await client.send("join", v=1, token=mint(server.tokens, "nowhere", "x"), name="X")
        refusal = await client.wait_error("invalid_token")
        assert await client.wait_closed() == 4401
    return refusal


async def _join(
    stack: AsyncExitStack, server: RunningServer, token: str
) -> tuple[WsClient, dict[str, Any]]:
    client = await stack.enter_async_context(WsClient.connect(server.base_url))
    joined = await client.join(token)
    return client, joined["participant"]


async def _audit(http: aiohttp.ClientSession, server: RunningServer, room: str) -> list[Any]:
    url = server.url(f"/api/v1/rooms/{room}/audit")
    async with http.get(url, headers=server.auth_headers) as response:
        assert response.status == 200
        body = await response.json()
    assert body["room"] == room
    return list(body["entries"])


async def test_promotion_is_pushed_and_survives_a_reconnect(server: RunningServer) -> None:
    ann_token = mint(server.tokens, "roles", "ann", name="Ann", grants=Grants.host())
    bob_token = mint(server.tokens, "roles", "bob", name="Bob")
    async with AsyncExitStack() as stack:
        ann, ann_me = await _join(stack, server, ann_token)
        carol, _ = await _join(stack, server, mint(server.tokens, "roles", "carol", name="C"))
        bob, bob_me = await _join(stack, server, bob_token)
        assert ann_me["host"] is True and bob_me["host"] is False

        await ann.send("set_host", participant_sid=bob_me["sid"], host=True)
        for client in (ann, bob, carol):
            update = await client.wait_for("participant_updated", within=1.0)
            # A host has every permission (signaling/floor.py).
            everything = {"speak": True, "screen_share": True, "file_share": True}
            assert update["participant"] == {**bob_me, "host": True, "permissions": everything}
        # The promoted host's commands are now obeyed.
        await bob.send("lock_room", locked=False)
        assert (await carol.wait_for("room_updated", within=1.0))["room"]["locked"] is False

        # Reconnect with the same token: still a host, and everyone is told so.
        await bob.close()
        await carol.wait_for("participant_left", predicate=lambda m: m["reason"] == "disconnected")
        bob, bob_me = await _join(stack, server, bob_token)
        assert bob_me["host"] is True
        arrived = await carol.wait_for(
            "participant_joined", predicate=lambda m: m["participant"]["sid"] == bob_me["sid"]
        )
        assert arrived["participant"]["host"] is True

        await ann.send("set_host", participant_sid=bob_me["sid"], host=False)
        assert (await bob.wait_for("participant_updated"))["participant"]["host"] is False
        await bob.send("lock_room", id="l1", locked=True)
        assert (await bob.wait_error("forbidden"))["id"] == "l1"
        await bob.close()
        bob, bob_me = await _join(stack, server, bob_token)
        assert bob_me["host"] is False


async def test_non_hosts_get_forbidden_for_every_host_command(server: RunningServer) -> None:
    async with AsyncExitStack() as stack:
        ann, ann_me = await _join(stack, server, mint(server.tokens, "f", "ann", name="A"))
        bob, _ = await _join(stack, server, mint(server.tokens, "f", "bob", name="B"))
        for number, (kind, fields) in enumerate(sorted(HOST_COMMANDS.items())):
            fields = {**fields}
            if "participant_sid" in fields:
                fields["participant_sid"] = ann_me["sid"]
            reply = await bob.request(kind, **fields)
            assert reply["type"] == "error" and reply["code"] == "forbidden", (kind, reply)
            assert reply["fatal"] is False, number
        # Nothing happened: both still here, the room is not locked, nobody was updated.
        assert (await bob.request("ping"))["type"] == "pong"
        assert (await ann.request("ping"))["type"] == "pong"
        room = server.app[ROOMS].live_room("f")
        assert room is not None and room.participant_count == 2 and not room.locked
        assert ann.unread("participant_updated") == [] and ann.unread("participant_left") == []


async def test_host_commands_before_join_are_not_joined(server: RunningServer) -> None:
    async with WsClient.connect(server.base_url) as client:
        for kind, fields in sorted(HOST_COMMANDS.items()):
            reply = await client.request(kind, **fields)
            assert reply["code"] == "not_joined", (kind, reply)


async def test_bad_host_commands_are_clear_errors(server: RunningServer) -> None:
    host = Grants.host()
    async with AsyncExitStack() as stack:
        ann, ann_me = await _join(
            stack, server, mint(server.tokens, "b", "ann", grants=host, name="Ann")
        )
        hidden = Grants.from_claim({"room_join": True, "hidden": True, "can_subscribe": True})
        _, ghost_me = await _join(
            stack, server, mint(server.tokens, "b", "rec", name="Rec", grants=hidden)
        )
        reply = await ann.request("remove_participant", participant_sid="PA_nobody")
        assert reply["code"] == "not_found" and reply["fatal"] is False
        # A hidden participant is reported like an absent one.
        reply = await ann.request("set_host", participant_sid=ghost_me["sid"], host=True)
        assert reply["code"] == "not_found"
        reply = await ann.request("set_host", participant_sid=ann_me["sid"], host=False)
        assert reply["code"] == "bad_message" and "sender" in reply["message"]
        reply = await ann.request("remove_participant", participant_sid="x", ban="yes")
        assert reply["code"] == "bad_message" and "'ban'" in reply["message"]
        reply = await ann.request("lock_room", locked=True, extra=1)
        assert reply["code"] == "bad_message" and "'extra'" in reply["message"]
        assert (await ann.request("ping"))["type"] == "pong"


async def test_remove_reaches_everyone_within_a_second(server: RunningServer) -> None:
    bob_token = mint(server.tokens, "rm", "bob", name="Bob")
    async with AsyncExitStack() as stack:
        ann, _ = await _join(
            stack, server, mint(server.tokens, "rm", "ann", name="Ann", grants=Grants.host())
        )
        carol, _ = await _join(stack, server, mint(server.tokens, "rm", "carol", name="C"))
        bob, bob_me = await _join(stack, server, bob_token)
        await ann.send("remove_participant", participant_sid=bob_me["sid"], ban=False)
        error = await bob.wait_error("removed", within=1.0)
        assert error["fatal"] is True
        assert await bob.wait_closed(within=1.0) == 4403
        for client in (ann, carol):
            left = await client.wait_for("participant_left", within=1.0)
            assert left == {
                "type": "participant_left",
                "participant_sid": bob_me["sid"],
                "reason": "removed",
            }
        # Removed without a ban: the same token may come back.
        _, again = await _join(stack, server, bob_token)
        assert again["identity"] == "bob"


async def test_a_banned_token_is_refused_like_a_bad_one(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(ws_connects_per_minute=1000)
    generic = await _generic_refusal(server_factory)
    bob_token = mint(server.tokens, "ban", "bob", name="Bob")
    async with AsyncExitStack() as stack:
        ann, _ = await _join(
            stack, server, mint(server.tokens, "ban", "ann", name="Ann", grants=Grants.host())
        )
        bob, bob_me = await _join(stack, server, bob_token)
        await ann.send("remove_participant", participant_sid=bob_me["sid"], ban=True)
        assert await bob.wait_closed(within=1.0) == 4403
        await ann.wait_for("participant_left", within=1.0)

        async with aiohttp.ClientSession() as session:
            for _attempt in range(100):
                async with WsClient.connect(server.base_url, session=session) as again:
                    await again.send("join", v=1, token=bob_token, name="Bob")
                    refusal = await again.wait_error("invalid_token")
                    assert refusal == generic
                    assert await again.wait_closed() == 4401
                    assert again.unread("joined") == []
        room = server.app[ROOMS].live_room("ban")
        assert room is not None and [p.identity for p in room.participants.values()] == ["ann"]

        await ann.send("unban", identity="bob")
        _, back = await _join(stack, server, bob_token)
        assert back["identity"] == "bob"
    actions = [(e["action"], e["target_identity"]) for e in await _audit(http, server, "ban")]
    assert actions == [("remove", "bob"), ("unban", "bob")]


async def test_lock_refuses_newcomers_and_unlock_admits_them(
    server: RunningServer, server_factory: ServerFactory
) -> None:
    generic = await _generic_refusal(server_factory)
    dave_token = mint(server.tokens, "lk", "dave", name="Dave")
    async with AsyncExitStack() as stack:
        ann, _ = await _join(
            stack, server, mint(server.tokens, "lk", "ann", name="Ann", grants=Grants.host())
        )
        bob, _ = await _join(stack, server, mint(server.tokens, "lk", "bob", name="Bob"))
        await ann.send("lock_room", locked=True)
        for client in (ann, bob):
            update = await client.wait_for("room_updated", within=1.0)
            assert update["room"]["name"] == "lk" and update["room"]["locked"] is True
            assert update["room"]["sid"].startswith("RM_")

        async with WsClient.connect(server.base_url) as dave:
            await dave.send("join", v=1, token=dave_token)
            assert await dave.wait_error("invalid_token") == generic
            assert await dave.wait_closed() == 4401
        assert bob.unread("participant_joined") == []
        # Hosts still get in: a locked room must not lock out the people running it.
        cohost = mint(server.tokens, "lk", "erin", name="Erin", grants=Grants.host())
        _, erin_me = await _join(stack, server, cohost)
        assert erin_me["host"] is True

        await ann.send("lock_room", locked=False)
        assert (await bob.wait_for("room_updated", within=1.0))["room"]["locked"] is False
        _, dave_me = await _join(stack, server, dave_token)
        assert dave_me["identity"] == "dave"


async def test_end_meeting_closes_everyone_and_frees_the_room(server: RunningServer) -> None:
    async with AsyncExitStack() as stack:
        ann, _ = await _join(
            stack, server, mint(server.tokens, "end", "ann", name="Ann", grants=Grants.host())
        )
        others = [
            (await _join(stack, server, mint(server.tokens, "end", who, name=who)))[0]
            for who in ("bob", "carol")
        ]
        await ann.send("end_meeting")
        for client in (ann, *others):
            assert (await client.wait_for("bye", within=1.0))["reason"] == "ended"
            assert await client.wait_closed(within=1.0) == 1000
        assert server.app[ROOMS].live_room("end") is None
        # The meeting link still works: a newcomer starts a fresh live room.
        _, me = await _join(stack, server, mint(server.tokens, "end", "dave", name="Dave"))
        assert me["identity"] == "dave"


async def test_the_meeting_goes_on_when_the_host_leaves(server: RunningServer) -> None:
    async with AsyncExitStack() as stack:
        ann, _ = await _join(
            stack, server, mint(server.tokens, "go", "ann", name="Ann", grants=Grants.host())
        )
        bob, _ = await _join(stack, server, mint(server.tokens, "go", "bob", name="Bob"))
        carol, carol_me = await _join(stack, server, mint(server.tokens, "go", "carol", name="C"))
        await ann.send("leave")
        await ann.wait_closed()
        await bob.wait_for("participant_left", within=1.0)
        room = server.app[ROOMS].live_room("go")
        assert room is not None and room.participant_count == 2
        assert (await carol.request("ping"))["type"] == "pong"
        # Without a host nobody can moderate, but the call itself carries on.
        reply = await bob.request("remove_participant", participant_sid=carol_me["sid"])
        assert reply["code"] == "forbidden"


async def test_every_action_is_in_the_audit_log(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    host = mint(server.tokens, "au", "ann", name="Ann", grants=Grants.host())
    async with AsyncExitStack() as stack:
        ann, _ = await _join(stack, server, host)
        bob, bob_me = await _join(stack, server, mint(server.tokens, "au", "bob", name="Bob"))
        carol, carol_me = await _join(stack, server, mint(server.tokens, "au", "carol", name="C"))
        await ann.send("set_host", participant_sid=bob_me["sid"], host=True)
        await bob.wait_for("participant_updated")
        await ann.send("set_host", participant_sid=bob_me["sid"], host=False)
        await carol.wait_for("participant_updated")
        await carol.wait_for("participant_updated")
        await ann.send("lock_room", locked=True)
        await ann.send("lock_room", locked=False)
        await ann.send("remove_participant", participant_sid=carol_me["sid"], ban=True)
        await carol.wait_closed()
        await ann.send("unban", identity="carol")
        await ann.send("end_meeting")
        await ann.wait_closed()
        await bob.wait_closed()
    entries = await _audit(http, server, "au")
    assert [(e["action"], e["target_identity"]) for e in entries] == [
        ("promote", "bob"),
        ("demote", "bob"),
        ("lock", None),
        ("unlock", None),
        ("remove", "carol"),
        ("unban", "carol"),
        ("end_meeting", None),
    ]
    assert all(e["actor"] == {"identity": "ann", "name": "Ann"} for e in entries)
    assert entries[4]["details"] == {"ban": True, "participant_sid": carol_me["sid"]}
    assert entries[5]["details"] == {"was_banned": True}
    times = [e["at"] for e in entries]
    assert times == sorted(times) and abs(times[-1] - time.time()) < 60

    url = server.url("/api/v1/rooms/au/audit")
    async with http.get(url) as response:
        assert response.status == 401
    async with http.get(
        server.url("/api/v1/rooms/nowhere/audit"), headers=server.auth_headers
    ) as r:
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "not_found"
