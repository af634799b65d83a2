"""The signalling protocol end to end: the real app on 127.0.0.1, a real WebSocket client.

Every message type in every session state (before join, joined, after leave), the roster and
its events, grants, replacement of a duplicate identity, room deletion and shutdown.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from signaling.appkeys import METRICS, ROOMS, STORE
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.support.ws_client import ProtocolClosed, WsClient, mint

CLIENT_MESSAGES: dict[str, dict[str, Any]] = {
    "offer": {"sdp": "v=0\r\n", "tracks": []},
    "ice_candidate": {"candidate": "", "sdp_mid": "0", "sdp_mline_index": 0},
    "mute": {"source": "microphone", "muted": True},
    "ping": {},
    "leave": {},
}


async def test_join_returns_the_documented_joined_message(server: RunningServer) -> None:
    token = mint(server.tokens, "standup", "ann", name="Ann")
    async with WsClient.connect(server.base_url) as ann:
        joined = await ann.join(token, id="j1")
    assert joined["v"] == 1
    assert joined["id"] == "j1"
    assert joined["room"]["name"] == "standup"
    assert joined["room"]["sid"].startswith("RM_")
    me = joined["participant"]
    assert me["identity"] == "ann" and me["name"] == "Ann" and me["host"] is False
    assert me["sid"].startswith("PA_")
    assert joined["participants"] == [] and joined["tracks"] == []
    assert joined["ice_servers"] == []
    assert joined["limits"] == {"max_message_bytes": 65536, "messages_per_second": 20.0}
    assert set(joined) == {
        "type", "v", "id", "room", "participant", "participants", "tracks", "ice_servers",
        "limits", "camera_required", "recording", "transcription", "framing",
    }  # fmt: skip
    assert joined["camera_required"] is False
    assert joined["framing"] == []
    assert joined["transcription"] is None  # nothing transcribes this meeting
    # The room's host settings come with it (docs/protocol.md, "Room settings").
    assert joined["room"]["lobby"] is False and joined["room"]["locked"] is False
    assert joined["room"]["password"] is False and joined["room"]["self_unmute"] is True
    assert me["permissions"] == {"speak": True, "screen_share": False, "file_share": False}
    assert me["hand"] is None


async def test_roster_and_presence_events(server: RunningServer) -> None:
    async with (
        WsClient.connect(server.base_url) as ann,
        WsClient.connect(server.base_url) as bob,
    ):
        ann_joined = await ann.join(
            mint(server.tokens, "r1", "ann", name="Ann", grants=Grants.host())
        )
        bob_joined = await bob.join(mint(server.tokens, "r1", "bob"), name="  Bob  ")
        # Bob sees Ann in his roster; Ann is told Bob arrived; names are trimmed.
        assert bob_joined["participants"] == [ann_joined["participant"]]
        assert ann_joined["participant"]["host"] is True
        arrived = await ann.wait_for("participant_joined")
        assert arrived["participant"] == bob_joined["participant"]
        assert arrived["participant"]["name"] == "Bob"
        room = server.app[ROOMS].live_room("r1")
        assert room is not None and room.participant_count == 2

        await bob.send("leave", id="bye1")
        assert (await bob.wait_for("bye"))["reason"] == "left"
        assert await bob.wait_closed() == 1000
        left = await ann.wait_for("participant_left")
        assert left == {
            "type": "participant_left",
            "participant_sid": bob_joined["participant"]["sid"],
            "reason": "left",
        }
        assert room.participant_count == 1


@pytest.mark.parametrize("message_type", sorted(CLIENT_MESSAGES))
async def test_every_message_before_join_is_not_joined(
    server: RunningServer, message_type: str
) -> None:
    async with WsClient.connect(server.base_url) as client:
        await client.send(message_type, id="m1", **CLIENT_MESSAGES[message_type])
        error = await client.wait_for("error")
        assert error == {
            "type": "error",
            "code": "not_joined",
            "message": "send 'join' first",
            "fatal": False,
            "id": "m1",
        }
        # The connection carries on: a join still works.
        joined = await client.join(mint(server.tokens, "early", "ann", name="Ann"))
        assert joined["room"]["name"] == "early"


async def test_every_message_when_joined(server: RunningServer) -> None:
    async with WsClient.connect(server.base_url) as client:
        token = mint(server.tokens, "r2", "ann", name="Ann")
        await client.join(token)
        await client.send("join", v=1, token=token, id="again")
        again = await client.wait_error("already_joined")
        assert again["id"] == "again" and again["fatal"] is False
        await client.send("ping", id=41)
        assert await client.wait_for("pong") == {"type": "pong", "id": 41}
        await client.send("mute", source="microphone", muted=True, id="mu")
        await client.send("ice_candidate", candidate="", sdp_mid="0", sdp_mline_index=0, id="c")
        candidate_error = await client.wait_error("bad_message")
        assert candidate_error["message"] == "ice_candidate before any offer: send 'offer' first"
        assert candidate_error["id"] == "c"
        await client.send("ping", id="p2")
        await client.wait_for("pong")
        # mute produced no error (there is no reply to a mute of an unpublished source).
        assert client.unread("error") == []
        await client.send("leave")
        assert (await client.wait_for("bye"))["reason"] == "left"
        assert await client.wait_closed() == 1000
        # After leave the server is gone: nothing more is delivered.
        with pytest.raises(ProtocolClosed):
            await client.wait_for("pong", within=0.5)
    assert server.app[ROOMS].live_room("r2") is None


async def test_messages_right_after_leave_are_ignored(server: RunningServer) -> None:
    async with WsClient.connect(server.base_url) as client:
        await client.join(mint(server.tokens, "r3", "ann", name="Ann"))
        # Sent back to back: the server reads the ping after it started closing.
        await client.send("leave")
        await client.send("ping", id="late")
        await client.send("join", v=1, token="x")
        assert await client.wait_closed() == 1000
        types = [m["type"] for m in client.received]
        assert types == ["joined", "bye"]


async def test_disconnect_without_leave_is_announced_within_a_second(
    server: RunningServer,
) -> None:
    async with WsClient.connect(server.base_url) as ann:
        await ann.join(mint(server.tokens, "r4", "ann", name="Ann"))
        async with WsClient.connect(server.base_url) as bob:
            bob_sid = (await bob.join(mint(server.tokens, "r4", "bob", name="Bob")))["participant"][
                "sid"
            ]
            await ann.wait_for("participant_joined")
            await bob.ws.close()
        left = await ann.wait_for("participant_left", within=1.0)
        assert left["participant_sid"] == bob_sid and left["reason"] == "disconnected"


async def test_display_name_rules(server: RunningServer) -> None:
    async with WsClient.connect(server.base_url) as client:
        no_name = mint(server.tokens, "r5", "ann", name="")
        for bad in ("", "   ", "x" * 65, "evil\u202eoaf", "bell\x07"):
            await client.send("join", v=1, token=no_name, name=bad, id="n")
            error = await client.wait_error("name_required")
            assert error["fatal"] is False and error["id"] == "n"
        await client.send("join", v=1, token=no_name, id="n2")
        await client.wait_error("name_required")
        joined = await client.join(no_name, name=" " + "é" * 64 + " ")
        assert joined["participant"]["name"] == "é" * 64
    async with WsClient.connect(server.base_url) as client:
        joined = await client.join(mint(server.tokens, "r5", "bob", name="Token Name"))
        assert joined["participant"]["name"] == "Token Name"


async def test_unsupported_version_is_fatal(server: RunningServer) -> None:
    async with WsClient.connect(server.base_url) as client:
        await client.send("join", v=2, token=mint(server.tokens, "r6", "ann"), id="v")
        error = await client.wait_error("unsupported_version")
        assert error["fatal"] is True and error["id"] == "v"
        assert await client.wait_closed() == 4400


@pytest.mark.parametrize(
    "token_kind", ["garbage", "no_room_join", "expired_signature", "other_secret"]
)
async def test_token_problems_get_one_generic_fatal_error(
    server: RunningServer, token_kind: str
) -> None:
    from signaling.tokens import TokenService

    if token_kind == "garbage":
        token = "not.a.jwt"
    elif token_kind == "no_room_join":
        token = mint(server.tokens, "r7", "ann", name="A", grants=Grants(can_subscribe=True))
    elif token_kind == "expired_signature":
        token = mint(server.tokens, "r7", "ann", name="A")[:-4] + "AAAA"
    else:
        other = TokenService(server.config.api_key, "Z" * 16 + "y" * 16 + "0123456789", 3600, 0)
        token = other.mint("r7", "ann", "A", Grants.participant(), 60)
    async with WsClient.connect(server.base_url) as client:
        await client.send("join", v=1, token=token)
        error = await client.wait_error("invalid_token")
        assert (
            error["message"].startswith("cannot join: the invitation is invalid") and error["fatal"]
        )
        assert await client.wait_closed() == 4401
    assert server.app[ROOMS].live_room("r7") is None


async def test_a_token_for_room_a_cannot_open_room_b(server: RunningServer) -> None:
    token_a = mint(server.tokens, "room-a", "ann", name="Ann")
    async with WsClient.connect(server.base_url) as client:
        # The join message has no room field: asking for another room is a bad message.
        await client.send("join", v=1, token=token_a, room="room-b")
        error = await client.wait_error("bad_message")
        assert error["message"] == "join: unknown field 'room'"
        joined = await client.join(token_a)
        assert joined["room"]["name"] == "room-a"
    registry = server.app[ROOMS]
    assert registry.live_room("room-b") is None
    assert server.app[STORE].get_room("room-b") is None


async def test_unknown_room_without_auto_create_looks_like_a_bad_token(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(auto_create_rooms=False)
    answers = []
    for token in (mint(server.tokens, "nowhere", "ann", name="A"), "not-a-token"):
        async with WsClient.connect(server.base_url) as client:
            await client.send("join", v=1, token=token)
            # The same answer as a locked room or a wrong password too (issue 3).
            answers.append(await client.wait_error("invalid_token"))
            assert await client.wait_closed() == 4401
    assert answers[0] == answers[1]
    server.app[STORE].create_room("somewhere", max_participants=5)
    async with WsClient.connect(server.base_url) as client:
        joined = await client.join(mint(server.tokens, "somewhere", "ann", name="A"))
        assert joined["room"]["sid"] == server.app[STORE].get_room("somewhere").sid  # type: ignore[union-attr]


async def test_same_identity_twice_leaves_exactly_one_live_session(
    server: RunningServer,
) -> None:
    async with (
        WsClient.connect(server.base_url) as watcher,
        WsClient.connect(server.base_url) as first,
        WsClient.connect(server.base_url) as second,
    ):
        await watcher.join(mint(server.tokens, "dup", "watcher", name="W"))
        first_sid = (await first.join(mint(server.tokens, "dup", "ann", name="Ann")))[
            "participant"
        ]["sid"]
        await watcher.wait_for("participant_joined")
        second_joined = await second.join(mint(server.tokens, "dup", "ann", name="Ann 2"))
        # The roster the newcomer sees has the watcher only, not its own ghost.
        assert [p["identity"] for p in second_joined["participants"]] == ["watcher"]
        replaced = await first.wait_error("replaced")
        assert replaced["fatal"] is True
        assert await first.wait_closed() == 4409
        left = await watcher.wait_for("participant_left")
        assert left == {"type": "participant_left", "participant_sid": first_sid,
                        "reason": "replaced"}  # fmt: skip
        arrived = await watcher.wait_for("participant_joined")
        assert arrived["participant"]["sid"] == second_joined["participant"]["sid"]
        room = server.app[ROOMS].live_room("dup")
        assert room is not None
        assert sorted(p.identity for p in room.participants.values()) == ["ann", "watcher"]
        # The survivor works.
        await second.send("ping", id="alive")
        assert (await second.wait_for("pong"))["id"] == "alive"
        # The first session's late cleanup did not announce a second departure.
        await asyncio.sleep(0.2)
        assert watcher.unread("participant_left") == []


async def test_room_full(server: RunningServer) -> None:
    server.app[STORE].create_room("tiny", max_participants=1)
    async with (
        WsClient.connect(server.base_url) as ann,
        WsClient.connect(server.base_url) as bob,
    ):
        await ann.join(mint(server.tokens, "tiny", "ann", name="Ann"))
        await bob.send("join", v=1, token=mint(server.tokens, "tiny", "bob", name="Bob"))
        assert (await bob.wait_error("room_full"))["fatal"] is True
        assert await bob.wait_closed() == 4429
        # A hidden participant (a recorder) does not take a seat and is never announced.
        async with WsClient.connect(server.base_url) as recorder:
            hidden = Grants(room_join=True, can_subscribe=True, hidden=True)
            joined = await recorder.join(
                mint(server.tokens, "tiny", "rec", name="R", grants=hidden)
            )
            assert [p["identity"] for p in joined["participants"]] == ["ann"]
            await ann.send("ping")
            await ann.wait_for("pong")
            assert ann.unread("participant_joined") == []
            room = server.app[ROOMS].live_room("tiny")
            assert room is not None and room.participant_count == 1
            # ... and the others never see it in their roster either.
            async with WsClient.connect(server.base_url) as late:
                await ann.send("leave")
                await ann.wait_closed()
                roster = (await late.join(mint(server.tokens, "tiny", "late", name="L")))[
                    "participants"
                ]
                assert roster == []
            # A hidden participant still follows the visible ones.
            assert (await recorder.wait_for("participant_left"))["reason"] == "left"
            assert (await recorder.wait_for("participant_joined"))["participant"][
                "identity"
            ] == "late"


async def test_room_deleted_through_the_registry_closes_everyone(server: RunningServer) -> None:
    async with (
        WsClient.connect(server.base_url) as ann,
        WsClient.connect(server.base_url) as bob,
    ):
        await ann.join(mint(server.tokens, "doomed", "ann", name="Ann"))
        await bob.join(mint(server.tokens, "doomed", "bob", name="Bob"))
        await server.app[ROOMS].close_room("doomed")
        for client in (ann, bob):
            error = await client.wait_error("room_deleted")
            assert error["fatal"] is True
            assert await client.wait_closed() == 4410
    assert server.app[ROOMS].live_room("doomed") is None


async def test_shutdown_says_bye_to_everyone(server_factory: ServerFactory) -> None:
    server = await server_factory()
    async with (
        WsClient.connect(server.base_url) as ann,
        WsClient.connect(server.base_url) as idle,
    ):
        await ann.join(mint(server.tokens, "r8", "ann", name="Ann"))
        await idle.send("ping")
        await idle.wait_error("not_joined")
        assert len(signaling_tasks()) >= 2  # the check below can see sessions
        await server.app[ROOMS].close()
        for client in (ann, idle):
            assert await client.wait_for("bye") == {"type": "bye", "reason": "shutdown"}
            assert await client.wait_closed() == 1001
    assert server.app[ROOMS].live_rooms() == []
    assert server.app[ROOMS].snapshot().participants == 0
    # Nothing of the sessions is left running (handlers end right after their sockets).
    for _ in range(100):
        if not signaling_tasks():
            break
        await asyncio.sleep(0.01)
    assert signaling_tasks() == []


def signaling_tasks() -> list[asyncio.Task[Any]]:
    """Tasks with a frame of ours anywhere in their await chain."""

    def frames(task: asyncio.Task[Any]) -> list[str]:
        names, coro = [], task.get_coro()
        while coro is not None:
            code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
            if code is not None:
                names.append(code.co_filename)
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        return names

    return [t for t in asyncio.all_tasks() if any("/signaling/" in f for f in frames(t))]


async def test_metrics_snapshot_counts_rooms_and_participants(server: RunningServer) -> None:
    registry = server.app[ROOMS]
    async with (
        WsClient.connect(server.base_url) as ann,
        WsClient.connect(server.base_url) as bob,
    ):
        await ann.join(mint(server.tokens, "m1", "ann", name="Ann"))
        await bob.join(mint(server.tokens, "m2", "bob", name="Bob"))
        snapshot = registry.snapshot()
        assert (snapshot.rooms, snapshot.participants) == (2, 2)
        assert sorted(room.name for room in registry.live_rooms()) == ["m1", "m2"]
        await ann.send("ping")
        await ann.wait_for("pong")
        await ann.send("join", v=1, token="t")
        await ann.wait_error("already_joined")
    await asyncio.sleep(0.2)
    assert (registry.snapshot().rooms, registry.snapshot().participants) == (0, 0)
    exposition = server.app[METRICS].render().decode()
    # Join latency is observed once per successful join, errors are counted by code.
    assert "sparkle_join_latency_seconds_count 2.0" in exposition
    assert 'sparkle_ws_errors_total{code="already_joined"} 1.0' in exposition
