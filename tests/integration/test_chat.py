"""In-meeting chat and file sharing end to end (issue 3; docs/protocol.md, "Chat"): the real
app on 127.0.0.1, real WebSocket clients, real uploads over HTTP.

Who must *not* get a line is checked with a barrier, not a sleep: the server hands a chat
line to every recipient's queue before the sender's echo goes out, so once the echo arrived,
a ``ping`` from a bystander is answered after anything that was queued for it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp

from signaling.appkeys import ROOMS
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.support.ws_client import WsClient, mint

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
# Larger than the app's 64 KiB client_max_size: uploads are streamed, not read() at once.
BIG_PNG = PNG + bytes(300_000)
HIDDEN = Grants(room_join=True, can_subscribe=True, hidden=True)


async def _join(
    stack: AsyncExitStack, server: RunningServer, room: str, identity: str, **grants: Any
) -> tuple[WsClient, dict[str, Any], str]:
    """A joined client, its participant object and its token."""
    token = mint(server.tokens, room, identity, name=identity.title(), **grants)
    client = await stack.enter_async_context(WsClient.connect(server.base_url))
    joined = await client.join(token)
    return client, joined["participant"], token


async def _quiet(*clients: WsClient) -> None:
    """Assert that none of ``clients`` got a chat line (see the module docstring)."""
    for client in clients:
        assert (await client.request("ping"))["type"] == "pong"
        assert client.unread("chat") == [], client.unread("chat")


async def _upload(
    http: aiohttp.ClientSession,
    server: RunningServer,
    room: str,
    token: str | None,
    data: Any,
    content_type: str,
    filename: str | None = None,
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    params = {} if filename is None else {"filename": filename}
    url = server.url(f"/api/v1/rooms/{room}/files")
    async with http.post(url, params=params, data=data, headers=headers) as response:
        return response.status, await response.json()


async def _download(
    http: aiohttp.ClientSession, server: RunningServer, room: str, file_id: str, token: str | None
) -> tuple[int, bytes, Any]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    url = server.url(f"/api/v1/rooms/{room}/files/{file_id}")
    async with http.get(url, headers=headers) as response:
        return response.status, await response.read(), response.headers


def _stored(server: RunningServer, room: str) -> list[str]:
    folder = server.config.data_path / "files" / room
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def _allow_files(host: WsClient, others: list[WsClient], sid: str) -> None:
    await host.send("set_permission", participant_sid=sid, permission="file_share", allowed=True)
    for client in [host, *others]:
        update = await client.wait_for(
            "participant_updated", within=2.0, predicate=lambda m: m["participant"]["sid"] == sid
        )
        assert update["participant"]["permissions"]["file_share"] is True


async def test_room_chat_reaches_everyone_joined_and_hidden_cannot_send(
    server: RunningServer,
) -> None:
    async with AsyncExitStack() as stack:
        ann, ann_me, _ = await _join(stack, server, "chat", "ann", grants=Grants.host())
        bob, bob_me, _ = await _join(stack, server, "chat", "bob")
        carol, _, _ = await _join(stack, server, "chat", "carol")
        rec, _, _ = await _join(stack, server, "chat", "rec", grants=HIDDEN)

        before = time.time()
        await bob.send("chat", id="c1", text="hello <b>all</b>")
        echo = await bob.wait_for("chat", within=2.0)
        assert echo["id"] == "c1"
        line = echo["message"]
        assert line["from"] == {"sid": bob_me["sid"], "name": "Bob"}
        assert line["to"] is None and line["file"] is None
        assert line["text"] == "hello <b>all</b>"  # stored as typed; clients render text
        assert line["id"].startswith("CM_") and before - 1 <= line["at"] <= time.time() + 1
        for client in (ann, carol, rec):  # hidden participants read room chat too
            got = await client.wait_for("chat", within=2.0)
            assert got == {"type": "chat", "message": line}

        refusal = await rec.request("chat", text="I am not here")
        assert refusal["type"] == "error" and refusal["code"] == "forbidden"
        assert refusal["fatal"] is False
        await _quiet(ann, bob, carol)
        # Only the sender's copy echoes the request id; nobody got anything twice.
        assert [m.get("id") for m in ann.received if m["type"] == "chat"] == [None]
        assert ann_me["sid"] != bob_me["sid"]


async def test_private_lines_go_to_or_from_hosts_only(server: RunningServer) -> None:
    async with AsyncExitStack() as stack:
        ann, ann_me, _ = await _join(stack, server, "dm", "ann", grants=Grants.host())
        hal, _, _ = await _join(stack, server, "dm", "hal", grants=Grants.host())
        bob, bob_me, _ = await _join(stack, server, "dm", "bob")
        carol, carol_me, _ = await _join(stack, server, "dm", "carol")

        # To the hosts: every host and the sender, nobody else.
        await bob.send("chat", text="can you mute carol?", to="hosts")
        line = (await bob.wait_for("chat", within=2.0))["message"]
        assert line["to"] == "hosts"
        for host in (ann, hal):
            assert (await host.wait_for("chat", within=2.0))["message"] == line
        await _quiet(carol)

        # A host to one participant: that participant and the host.
        await ann.send("chat", text="hi carol", to=carol_me["sid"])
        line = (await ann.wait_for("chat", within=2.0))["message"]
        assert line["to"] == carol_me["sid"]
        assert (await carol.wait_for("chat", within=2.0))["message"] == line
        await _quiet(bob, hal)

        # A participant to a host: allowed.
        await bob.send("chat", text="thanks", to=ann_me["sid"])
        line = (await bob.wait_for("chat", within=2.0))["message"]
        assert (await ann.wait_for("chat", within=2.0))["message"] == line
        await _quiet(carol, hal)

        # Between two participants who are not hosts: refused, nothing delivered.
        refusal = await bob.request("chat", text="psst", to=carol_me["sid"])
        assert refusal["code"] == "forbidden" and refusal["fatal"] is False
        missing = await bob.request("chat", text="?", to="PA_nobodyhere1")
        assert missing["code"] == "not_found"
        await _quiet(ann, hal, bob, carol)
        assert bob_me["host"] is False


async def test_too_long_and_rate_limited(server_factory: ServerFactory) -> None:
    server = await server_factory(chat_max_chars=10, chat_messages_per_minute=3)
    async with AsyncExitStack() as stack:
        bob, _, _ = await _join(stack, server, "limits", "bob")
        carol, _, _ = await _join(stack, server, "limits", "carol")
        refusal = await bob.request("chat", text="x" * 11)
        assert refusal["code"] == "bad_message" and "10 characters" in refusal["message"]
        # A refused line costs nothing: the whole minute's budget is still there.
        for n in range(3):
            reply = await bob.request("chat", text="y" * 10)
            assert reply["type"] == "chat" and reply["message"]["text"] == "y" * 10, (n, reply)
        limited = await bob.request("chat", text="one more")
        assert limited["code"] == "rate_limited" and limited["fatal"] is False
        assert "3 messages a minute" in limited["message"]
        assert (await bob.request("ping"))["type"] == "pong"  # the connection goes on
        assert (await carol.request("chat", text="me too"))["type"] == "chat"  # per person
        assert len([m for m in carol.received if m["type"] == "chat"]) == 4


async def test_sharing_a_file_needs_the_permission(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with AsyncExitStack() as stack:
        ann, _, ann_token = await _join(stack, server, "share", "ann", grants=Grants.host())
        bob, bob_me, bob_token = await _join(stack, server, "share", "bob")
        carol, _, carol_token = await _join(stack, server, "share", "carol")

        status, body = await _upload(http, server, "share", bob_token, b"notes", "text/plain")
        assert status == 403 and body["error"]["code"] == "forbidden"
        assert _stored(server, "share") == []

        # Hosts always may.
        status, shared = await _upload(
            http, server, "share", ann_token, BIG_PNG, "image/png", filename="../shot.png"
        )
        assert status == 201
        assert shared == {
            "id": shared["id"],
            "name": "shot.png",
            "size": len(BIG_PNG),
            "type": "image/png",
        }
        refusal = await bob.request("chat", text="look", file_id=shared["id"])
        assert refusal["code"] == "forbidden"
        await _quiet(ann, carol)

        await _allow_files(ann, [bob, carol], bob_me["sid"])
        text = "Grüße\n".encode()
        status, mine = await _upload(
            http, server, "share", bob_token, text, "text/plain; charset=utf-8", "notes.html"
        )
        assert status == 201 and mine["name"] == "notes.html.txt" and mine["size"] == len(text)
        await bob.send("chat", text="", file_id=mine["id"])
        line = (await carol.wait_for("chat", within=2.0))["message"]
        assert line["text"] == "" and line["file"] == mine
        missing = await bob.request("chat", text="x", file_id="A" * 22)
        assert missing["code"] == "not_found"

        # Anyone in the room downloads it, as an attachment that never renders as a page.
        status, data, headers = await _download(http, server, "share", mine["id"], carol_token)
        assert status == 200 and data == text
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Security-Policy"] == "sandbox"
        assert headers["Content-Disposition"] == (
            "attachment; filename=\"notes.html.txt\"; filename*=UTF-8''notes.html.txt"
        )
        status, data, headers = await _download(http, server, "share", shared["id"], bob_token)
        assert status == 200 and data == BIG_PNG and headers["Content-Type"] == "image/png"
        assert sorted(_stored(server, "share")) == sorted([shared["id"], mine["id"]])


async def test_files_stay_in_their_room(server: RunningServer, http: aiohttp.ClientSession) -> None:
    async with AsyncExitStack() as stack:
        _, _, ann_token = await _join(stack, server, "one", "ann", grants=Grants.host())
        zed, _, zed_token = await _join(stack, server, "two", "zed", grants=Grants.host())
        status, shared = await _upload(http, server, "one", ann_token, PNG, "image/png")
        assert status == 201
        # A token for room two opens nothing of room one (security checklist item 1).
        assert (await _download(http, server, "one", shared["id"], zed_token))[0] == 403
        assert (await _download(http, server, "two", shared["id"], zed_token))[0] == 404
        status, body = await _upload(http, server, "one", zed_token, PNG, "image/png")
        assert status == 403
        refusal = await zed.request("chat", text="x", file_id=shared["id"])
        assert refusal["code"] == "not_found"
        # No token, a bad token: 401; someone with a token who is not in the meeting: 403.
        assert (await _download(http, server, "one", shared["id"], None))[0] == 401
        assert (await _download(http, server, "one", shared["id"], "x.y.z"))[0] == 401
        status, body = await _upload(http, server, "one", None, PNG, "image/png")
        assert status == 401 and body["error"]["code"] == "invalid_token"
        absent = mint(server.tokens, "one", "dan", name="Dan")
        assert (await _download(http, server, "one", shared["id"], absent))[0] == 403
        assert (await _upload(http, server, "one", absent, PNG, "image/png"))[0] == 403
        # A host of the room may fetch its files without being in the meeting.
        absent_host = mint(server.tokens, "one", "hana", name="Hana", grants=Grants.host())
        status, data, _ = await _download(http, server, "one", shared["id"], absent_host)
        assert status == 200 and data == PNG
        assert (await _download(http, server, "one", "..%2F..%2Fsparkle.db", ann_token))[0] == 404


async def test_only_allowed_types_whose_bytes_match(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with AsyncExitStack() as stack:
        _, _, token = await _join(stack, server, "types", "ann", grants=Grants.host())
        for data, content_type in [
            (b"<html><script>alert(1)</script>", "text/html"),
            (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
            (PNG, "application/octet-stream"),
            (b"<html>not a png</html>", "image/png"),  # a lying Content-Type
            (b"GIF89a" + PNG, "image/png"),
            (PNG, "text/plain"),  # binary as text
            (b"%PDF-1.7", "image/jpeg"),
        ]:
            status, body = await _upload(http, server, "types", token, data, content_type)
            assert status == 415, (content_type, body)
            assert body["error"]["code"] == "unsupported_file_type"
        status, body = await _upload(http, server, "types", token, b"", "text/plain")
        assert status == 400
        assert [p for p in _stored(server, "types")] == []  # nothing half-written left


async def test_too_large_is_refused_and_leaves_nothing(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(chat_max_file_bytes=4096)
    async with AsyncExitStack() as stack:
        _, _, token = await _join(stack, server, "big", "ann", grants=Grants.host())
        status, body = await _upload(http, server, "big", token, b"a" * 4097, "text/plain")
        assert status == 413 and body["error"]["code"] == "file_too_large"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as read
            for _ in range(10):
                yield b"b" * 1000

        status, body = await _upload(http, server, "big", token, chunks(), "text/plain")
        assert status == 413 and body["error"]["code"] == "file_too_large"
        assert _stored(server, "big") == []
        status, body = await _upload(http, server, "big", token, b"c" * 4096, "text/plain")
        assert status == 201 and body["size"] == 4096
        assert _stored(server, "big") == [body["id"]]


async def test_uploads_are_rate_limited_per_participant(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(chat_files_per_minute=2)
    async with AsyncExitStack() as stack:
        _, _, ann = await _join(stack, server, "rate", "ann", grants=Grants.host())
        _, _, hal = await _join(stack, server, "rate", "hal", grants=Grants.host())
        statuses = [(await _upload(http, server, "rate", ann, PNG, "image/png"))[0] for _ in "123"]
        assert statuses == [201, 201, 429]
        assert (await _upload(http, server, "rate", hal, PNG, "image/png"))[0] == 201
        assert len(_stored(server, "rate")) == 3


async def test_lobby_and_camera_held_participants_get_no_chat(server: RunningServer) -> None:
    room_name = "waiting"
    async with AsyncExitStack() as stack:
        ann, _, _ = await _join(stack, server, room_name, "ann", grants=Grants.host())
        await ann.send("update_room", settings={"lobby": True})
        assert (await ann.wait_for("room_updated", within=2.0))["room"]["lobby"] is True
        gus = await stack.enter_async_context(WsClient.connect(server.base_url))
        await gus.send("join", v=1, token=mint(server.tokens, room_name, "gus", name="Gus"))
        assert (await gus.recv())["type"] == "lobby_waiting"
        await ann.send("chat", text="before you came in")
        await ann.wait_for("chat", within=2.0)
        live = server.app[ROOMS].live_room(room_name)
        assert live is not None
        gus_sid = live.lobby.knocks()[-1].participant.sid
        await ann.send("admit", participant_sid=gus_sid)
        await gus.wait_for("joined", within=2.0)
        # Anything queued for gus while waiting would have come before its joined.
        assert [m["type"] for m in gus.received if m["type"] == "chat"] == []

        await ann.send("update_room", settings={"require_camera": True, "lobby": False})
        update = await ann.wait_for("room_updated", within=2.0)
        assert update["room"]["require_camera"] is True
        cam, cam_me, _ = await _join(stack, server, room_name, "cam")
        refusal = await cam.request("chat", text="can you see me?")
        assert refusal["code"] == "forbidden"
        await ann.send("chat", text="camera on, please")
        await ann.wait_for("chat", within=2.0)
        assert (await gus.wait_for("chat", within=2.0))["message"]["text"] == "camera on, please"
        await _quiet(cam)
        # Nobody can address it privately either: for the room it is not there yet.
        missing = await ann.request("chat", text="hi", to=cam_me["sid"])
        assert missing["code"] == "not_found"


async def test_partial_uploads_from_a_crash_are_swept_at_start(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    # conftest's server_factory puts its first server's data under tmp_path/server0/data.
    folder = tmp_path / "server0" / "data" / "files" / "crashed"
    folder.mkdir(parents=True)
    (folder / ".Hk2x0u3kX9lqzQ6m1pJ7bA.part").write_bytes(b"half")
    (folder / "Hk2x0u3kX9lqzQ6m1pJ7bB").write_bytes(b"whole")
    server = await server_factory()
    assert server.config.data_path / "files" / "crashed" == folder
    assert sorted(p.name for p in folder.iterdir()) == ["Hk2x0u3kX9lqzQ6m1pJ7bB"]
