"""The waiting room (issue 3) end to end: the real app on 127.0.0.1, real WebSocket clients,
real aiortc media where media matters.

A waiting participant must learn nothing of the meeting: the exact list of message types it
receives is asserted, not just the absence of a few.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sfu.errors import UnknownPeer
from signaling.appkeys import ROOMS
from signaling.store import Store
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.support.aiortc_client import MediaClient
from tests.support.media import ColorVideoTrack
from tests.support.ws_client import WsClient, mint


async def _call(
    http: aiohttp.ClientSession,
    server: RunningServer,
    method: str,
    path: str,
    *,
    auth: bool = True,
    body: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    headers = server.auth_headers if auth else {}
    async with http.request(method, server.url(path), headers=headers, json=body) as response:
        return response.status, await response.json()


async def _lobby_room(http: aiohttp.ClientSession, server: RunningServer, name: str) -> None:
    status, body = await _call(
        http, server, "POST", "/api/v1/rooms", body={"name": name, "lobby": True}
    )
    assert status == 201 and body["lobby"] is True


async def _audit(http: aiohttp.ClientSession, server: RunningServer, room: str) -> list[Any]:
    status, body = await _call(http, server, "GET", f"/api/v1/rooms/{room}/audit")
    assert status == 200
    return list(body["entries"])


async def _knock(stack: AsyncExitStack, server: RunningServer, token: str) -> tuple[WsClient, str]:
    """Join into the lobby; return the client and its (waiting) sid."""
    client = await stack.enter_async_context(WsClient.connect(server.base_url))
    await client.send("join", id="j", v=1, token=token)
    waiting = await client.recv()
    assert waiting["type"] == "lobby_waiting" and waiting["id"] == "j", waiting
    room = server.app[ROOMS].live_room(waiting["room"]["name"])
    assert room is not None
    # The newest knock is this one: callers knock one after another.
    return client, room.lobby.knocks()[-1].participant.sid


async def _seated(
    stack: AsyncExitStack, server: RunningServer, token: str
) -> tuple[WsClient, dict[str, Any]]:
    client = await stack.enter_async_context(WsClient.connect(server.base_url))
    return client, await client.join(token)


def _types(client: WsClient) -> list[str]:
    return [str(m["type"]) for m in client.received]


async def test_home_page_meeting_guest_waits_for_the_host(
    server_factory: Callable[..., Awaitable[RunningServer]], http: aiohttp.ClientSession
) -> None:
    server = await server_factory()  # meeting_lobby is on by default
    status, meeting = await _call(
        http, server, "POST", "/api/v1/meetings", auth=False, body={"name": "Hana"}
    )
    assert status == 201 and meeting["room"]["lobby"] is True
    room_name = meeting["room"]["name"]
    status, guest = await _call(
        http,
        server,
        "POST",
        f"/api/v1/rooms/{room_name}/guest-token",
        auth=False,
        body={"name": "Gus"},
    )
    assert status == 200
    async with AsyncExitStack() as stack:
        # Nobody is here yet, no host above all: the guest still waits (no jitsi-meet#7676).
        gus, gus_sid = await _knock(stack, server, guest["token"])
        live = server.app[ROOMS].live_room(room_name)
        assert live is not None and live.participant_count == 0 and len(live.lobby) == 1
        with pytest.raises(UnknownPeer):  # no media peer while waiting
            live.media.set_muted(gus_sid, "microphone", True)
        status, info = await _call(http, server, "GET", f"/api/v1/rooms/{room_name}")
        assert status == 200 and info["lobby"] is True and info["participants"] == 0

        hana, hana_joined = await _seated(stack, server, meeting["host_token"])
        assert hana_joined["participants"] == []  # a waiting guest is not in the roster
        listing = await hana.wait_for("lobby", within=1.0)
        assert listing["waiting"] == [
            {"sid": gus_sid, "identity": guest["identity"], "name": "Gus"}
        ]

        await hana.send("admit", participant_sid=gus_sid)
        joined = await gus.wait_for("joined", within=2.0)
        assert joined["id"] == "j" and joined["participant"]["sid"] == gus_sid
        assert [p["sid"] for p in joined["participants"]] == [hana_joined["participant"]["sid"]]
        arrived = await hana.wait_for("participant_joined", within=1.0)
        assert arrived["participant"]["sid"] == gus_sid
        assert (await hana.wait_for("lobby_left"))["reason"] == "admitted"
        assert live.participant_count == 2 and len(live.lobby) == 0
        # Seated now: the guest's messages are handled as usual.
        assert _types(gus)[:2] == ["lobby_waiting", "joined"]

    entries = await _audit(http, server, room_name)
    assert [(e["action"], e["target_identity"]) for e in entries] == [("admit", guest["identity"])]
    assert entries[0]["details"] == {"participant_sid": gus_sid, "seated": True}


async def test_hosts_get_knocks_deny_closes_and_non_hosts_are_forbidden(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await _lobby_room(http, server, "door")
    host = Grants.host()
    async with AsyncExitStack() as stack:
        ann, _ = await _seated(
            stack, server, mint(server.tokens, "door", "ann", name="Ann", grants=host)
        )
        cat, _ = await _seated(
            stack, server, mint(server.tokens, "door", "cat", name="Cat", grants=host)
        )
        bob, bob_sid = await _knock(stack, server, mint(server.tokens, "door", "bob", name="Bob"))
        for client in (ann, cat):
            knock = await client.wait_for("lobby_knock", within=1.0)
            assert knock["participant"] == {"sid": bob_sid, "identity": "bob", "name": "Bob"}
        await ann.send("admit", participant_sid=bob_sid)
        await bob.wait_for("joined", within=2.0)

        eve, eve_sid = await _knock(stack, server, mint(server.tokens, "door", "eve", name="Eve"))
        # Bob is seated but no host: he hears nothing of the lobby and may not decide.
        for kind, fields in (
            ("admit", {"participant_sid": eve_sid}),
            ("deny", {"participant_sid": eve_sid}),
            ("admit_all", {}),
            ("deny_all", {}),
            ("set_lobby", {"enabled": False}),
        ):
            reply = await bob.request(kind, **fields)
            assert reply["code"] == "forbidden" and reply["fatal"] is False, (kind, reply)
        assert bob.unread("lobby_knock") == [] and "lobby" not in _types(bob)
        assert (await ann.request("admit", participant_sid="PA_nobody"))["code"] == "not_found"

        await cat.send("deny", participant_sid=eve_sid)
        denied = await eve.wait_error("lobby_denied")
        assert denied["fatal"] is True
        assert await eve.wait_closed() == 4405
        for client in (ann, cat):
            left = await client.wait_for(
                "lobby_left", within=1.0, predicate=lambda m: m["reason"] == "denied"
            )
            assert left["participant_sid"] == eve_sid
        assert _types(eve) == ["lobby_waiting", "error"]
        live = server.app[ROOMS].live_room("door")
        assert live is not None and len(live.lobby) == 0 and live.participant_count == 3

    actions = [
        (e["action"], e["actor"]["identity"], e["target_identity"])
        for e in await _audit(http, server, "door")
    ]
    assert actions == [("admit", "ann", "bob"), ("deny", "cat", "eve")]


@asynccontextmanager
async def _publishing_host(
    server: RunningServer, room: str
) -> AsyncIterator[tuple[WsClient, MediaClient]]:
    token = mint(server.tokens, room, "hal", name="Hal", grants=Grants.host())
    async with WsClient.connect(server.base_url) as ws:
        await ws.join(token)
        media = MediaClient(
            "hal", tracks=[("camera", ColorVideoTrack((200, 30, 30)))], wait_when_empty=True
        )
        try:
            ws.route_renegotiate(media.renegotiate)
            await media.connect(ws.offer_exchange())
            yield ws, media
        finally:
            await media.close()


async def test_a_waiting_participant_receives_no_media_roster_or_chat(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await _lobby_room(http, server, "quiet")
    async with AsyncExitStack() as stack:
        hal, _media = await stack.enter_async_context(_publishing_host(server, "quiet"))
        live = server.app[ROOMS].live_room("quiet")
        assert live is not None
        # A watcher seated before the guest knocks: its view proves the track is live.
        ivy, ivy_joined = await _seated(
            stack, server, mint(server.tokens, "quiet", "ivy", name="Ivy", grants=Grants.host())
        )
        if not ivy_joined["tracks"]:
            await ivy.wait_for("track_published", within=10.0)
        gus, gus_sid = await _knock(stack, server, mint(server.tokens, "quiet", "gus", name="Gus"))
        assert (await ivy.wait_for("lobby_knock", within=1.0))["participant"]["sid"] == gus_sid
        # The meeting goes on around the waiting guest: a newcomer, roles, mute, lock, a
        # departure.
        zed = mint(server.tokens, "quiet", "zed", name="Zed", grants=Grants.host())
        _, zed_joined = await _seated(stack, server, zed)
        assert zed_joined["participant"]["host"] is True
        await hal.send("set_host", participant_sid=ivy_joined["participant"]["sid"], host=False)
        await hal.send("mute", source="camera", muted=True)
        await hal.send("lock_room", locked=False)
        await ivy.wait_for("room_updated", within=1.0)
        await ivy.close()
        await hal.wait_for("participant_left", within=2.0)
        assert (await gus.request("ping"))["type"] == "pong"
        # Nothing of it reached the guest: the exact list of what it received.
        assert _types(gus) == ["lobby_waiting", "pong"]
        with pytest.raises(UnknownPeer):
            live.media.set_muted(gus_sid, "camera", True)

        await hal.send("admit", participant_sid=gus_sid)
        joined = await gus.wait_for("joined", within=2.0)
        # The track existed all along; the guest learns of it only now.
        assert [t["source"] for t in joined["tracks"]] == ["camera"]


async def test_waiting_participants_may_only_ping_or_leave(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await _lobby_room(http, server, "hall")
    async with AsyncExitStack() as stack:
        ann, _ = await _seated(
            stack, server, mint(server.tokens, "hall", "ann", name="Ann", grants=Grants.host())
        )
        gus, gus_sid = await _knock(stack, server, mint(server.tokens, "hall", "gus", name="Gus"))
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("offer", {"sdp": "v=0\r\n", "tracks": []}),
            ("ice_candidate", {"candidate": "", "sdp_mid": None, "sdp_mline_index": None}),
            ("mute", {"source": "camera", "muted": True}),
            ("join", {"v": 1, "token": "x"}),
            ("admit", {"participant_sid": gus_sid}),
            ("set_lobby", {"enabled": False}),
            ("lock_room", {"locked": True}),
        ]
        for kind, fields in attempts:
            reply = await gus.request(kind, **fields)
            assert reply["type"] == "error" and reply["code"] == "in_lobby", (kind, reply)
            assert reply["fatal"] is False
        assert (await gus.request("ping"))["type"] == "pong"
        live = server.app[ROOMS].live_room("hall")
        assert live is not None and live.lobby.get(gus_sid) is not None and not live.locked

        await gus.send("leave")
        assert (await gus.wait_for("bye"))["reason"] == "left"
        assert await gus.wait_closed() == 1000
        left = await ann.wait_for("lobby_left", within=2.0)
        assert left == {"type": "lobby_left", "participant_sid": gus_sid, "reason": "left"}
        assert len(live.lobby) == 0


async def test_admit_all_and_deny_all(server: RunningServer, http: aiohttp.ClientSession) -> None:
    await _lobby_room(http, server, "crowd")
    async with AsyncExitStack() as stack:
        ann, _ = await _seated(
            stack, server, mint(server.tokens, "crowd", "ann", name="Ann", grants=Grants.host())
        )
        guests = [
            await _knock(stack, server, mint(server.tokens, "crowd", f"g{n}", name=f"G{n}"))
            for n in range(3)
        ]
        await ann.send("admit_all")
        for client, sid in guests:
            assert (await client.wait_for("joined", within=3.0))["participant"]["sid"] == sid
        arrived = {
            (await ann.wait_for("participant_joined", within=2.0))["participant"]["sid"]
            for _ in guests
        }
        assert arrived == {sid for _, sid in guests}

        late = [
            await _knock(stack, server, mint(server.tokens, "crowd", f"l{n}", name=f"L{n}"))
            for n in range(2)
        ]
        await ann.send("deny_all")
        for client, _sid in late:
            await client.wait_error("lobby_denied")
            assert await client.wait_closed() == 4405
        live = server.app[ROOMS].live_room("crowd")
        assert live is not None and live.participant_count == 4 and len(live.lobby) == 0

    actions = [e["action"] for e in await _audit(http, server, "crowd")]
    assert actions == ["admit"] * 3 + ["deny"] * 2


async def test_turning_the_lobby_off_admits_everyone_waiting(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await _lobby_room(http, server, "open")
    async with AsyncExitStack() as stack:
        ann, _ = await _seated(
            stack, server, mint(server.tokens, "open", "ann", name="Ann", grants=Grants.host())
        )
        waiting = [
            await _knock(stack, server, mint(server.tokens, "open", f"w{n}", name=f"W{n}"))
            for n in range(2)
        ]
        await ann.send("set_lobby", enabled=False)
        updated = await ann.wait_for("room_updated", within=1.0)
        assert updated["room"]["lobby"] is False and updated["room"]["locked"] is False
        for client, _sid in waiting:
            await client.wait_for("joined", within=3.0)
        _, info = await _call(http, server, "GET", "/api/v1/rooms/open")
        assert info["lobby"] is False and info["participants"] == 3
        # Off: a newcomer walks straight in; on again: the next one waits.
        _, direct = await _seated(stack, server, mint(server.tokens, "open", "dan", name="Dan"))
        assert direct["participant"]["host"] is False
        await ann.send("set_lobby", enabled=True)
        await _knock(stack, server, mint(server.tokens, "open", "eve", name="Eve"))

    actions = [e["action"] for e in await _audit(http, server, "open")]
    assert actions == ["lobby_off", "admit", "admit", "lobby_on"]
    # Stored with the room: the next meeting in it starts with the lobby on.
    _, info = await _call(http, server, "GET", "/api/v1/rooms/open")
    assert info["lobby"] is True


async def test_the_lobby_wait_is_bounded_and_join_timeout_does_not_apply(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(join_timeout_s=0.3, lobby_wait_timeout_s=1.0)
    await _lobby_room(http, server, "slow")
    async with AsyncExitStack() as stack:
        ann, _ = await _seated(
            stack, server, mint(server.tokens, "slow", "ann", name="Ann", grants=Grants.host())
        )
        gus, gus_sid = await _knock(stack, server, mint(server.tokens, "slow", "gus", name="Gus"))
        await asyncio.sleep(0.5)  # past join_timeout: still waiting
        assert (await gus.request("ping"))["type"] == "pong"
        timeout = await gus.wait_error("lobby_timeout", within=2.0)
        assert timeout["fatal"] is True and await gus.wait_closed() == 4407
        left = await ann.wait_for("lobby_left", within=1.0)
        assert left["participant_sid"] == gus_sid and left["reason"] == "timeout"


async def test_api_rooms_default_to_no_lobby_and_validate_it(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, body = await _call(http, server, "POST", "/api/v1/rooms", body={"name": "plain"})
    assert status == 201 and body["lobby"] is False
    status, body = await _call(http, server, "POST", "/api/v1/rooms", body={"lobby": "yes"})
    assert status == 400 and "lobby" in body["error"]["message"]
    async with AsyncExitStack() as stack:
        _, joined = await _seated(stack, server, mint(server.tokens, "plain", "bob", name="Bob"))
        assert joined["participant"]["host"] is False


async def test_a_promoted_host_sees_the_lobby_and_skips_it_on_reconnect(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await _lobby_room(http, server, "promo")
    bob_token = mint(server.tokens, "promo", "bob", name="Bob")
    async with AsyncExitStack() as stack:
        ann, _ = await _seated(
            stack, server, mint(server.tokens, "promo", "ann", name="Ann", grants=Grants.host())
        )
        bob, bob_sid = await _knock(stack, server, bob_token)
        await ann.send("admit", participant_sid=bob_sid)
        await bob.wait_for("joined", within=2.0)
        await ann.send("set_host", participant_sid=bob_sid, host=True)
        assert (await bob.wait_for("lobby", within=1.0))["waiting"] == []
        await bob.close()
        # The stored promotion makes bob a host: straight in, and told who waits.
        _, again = await _seated(stack, server, bob_token)
        assert again["participant"]["host"] is True


def test_an_older_database_gains_the_lobby_setting_off(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE rooms (name TEXT PRIMARY KEY NOT NULL, sid TEXT NOT NULL UNIQUE,"
        " created_at REAL NOT NULL, max_participants INTEGER NOT NULL,"
        " metadata TEXT NOT NULL DEFAULT '{}', created_by TEXT NOT NULL DEFAULT '')"
    )
    conn.execute("INSERT INTO rooms VALUES ('old', 'RM_old', 1.0, 10, '{}', 'meeting')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = Store(path)
    try:
        record = store.get_room("old")
        assert record is not None and record.lobby is False
        assert store.set_lobby("old", True)
        assert store.get_room("old") == replace(record, lobby=True)
        assert not store.set_lobby("missing", True)
    finally:
        store.close()
