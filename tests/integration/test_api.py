"""The HTTP API and the pages against a real server on 127.0.0.1 (tests/conftest.py)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from signaling.errors import ErrorCode
from signaling.openapi import document
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory

ROOM_NAME = re.compile(r"[a-z]{3}-[a-z]{4}-[a-z]{3}")


async def call(
    http: aiohttp.ClientSession,
    server: RunningServer,
    method: str,
    path: str,
    *,
    auth: bool = True,
    json_body: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    all_headers = dict(server.auth_headers) if auth else {}
    all_headers.update(headers or {})
    async with http.request(
        method, server.url(path), json=json_body, data=data, headers=all_headers
    ) as response:
        text = await response.text()
        return response.status, (json.loads(text) if text else None)


def error(code: ErrorCode, message: str | None = None) -> dict[str, Any]:
    from signaling.errors import SparkleError

    return SparkleError(code, message).to_http()


async def test_healthz(server: RunningServer, http: aiohttp.ClientSession) -> None:
    assert await call(http, server, "GET", "/healthz", auth=False) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer abc",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "WRONG_KEY",
        "WRONG_SECRET",
        "EMPTY_SECRET",
    ],
)
async def test_room_endpoints_need_the_api_key(
    server: RunningServer, http: aiohttp.ClientSession, authorization: str | None
) -> None:
    key, secret = server.config.api_key, server.config.api_secret
    if authorization == "WRONG_KEY":
        authorization = aiohttp.encode_basic_auth("APIwrong", secret)
    elif authorization == "WRONG_SECRET":
        authorization = aiohttp.encode_basic_auth(key, secret[:-1] + "x")
    elif authorization == "EMPTY_SECRET":
        authorization = aiohttp.encode_basic_auth(key, "")
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in [
        ("GET", "/api/v1/rooms"),
        ("POST", "/api/v1/rooms"),
        ("GET", "/api/v1/rooms/standup"),
        ("DELETE", "/api/v1/rooms/standup"),
        ("POST", "/api/v1/rooms/standup/tokens"),
    ]:
        async with http.request(method, server.url(path), headers=headers) as response:
            assert response.status == 401, (method, path)
            assert await response.json() == error(ErrorCode.UNAUTHORIZED)
            assert response.headers["WWW-Authenticate"].startswith('Basic realm="sparkle"')
    assert server.app  # nothing was created meanwhile:
    status, body = await call(http, server, "GET", "/api/v1/rooms")
    assert (status, body) == (200, {"rooms": []})


async def test_room_lifecycle(server: RunningServer, http: aiohttp.ClientSession) -> None:
    status, room = await call(
        http,
        server,
        "POST",
        "/api/v1/rooms",
        json_body={"name": "standup", "max_participants": 4, "metadata": {"team": "core"}},
    )
    assert status == 201
    assert {k: room[k] for k in ("name", "max_participants", "metadata", "created_by")} == {
        "name": "standup",
        "max_participants": 4,
        "metadata": {"team": "core"},
        "created_by": "api",
    }
    assert room["participants"] == 0 and room["sid"].startswith("RM_")
    assert await call(http, server, "GET", "/api/v1/rooms/standup") == (200, room)
    assert await call(http, server, "GET", "/api/v1/rooms") == (200, {"rooms": [room]})
    status, body = await call(http, server, "POST", "/api/v1/rooms", json_body={"name": "standup"})
    assert (status, body) == (409, error(ErrorCode.CONFLICT, "room 'standup' already exists"))
    assert await call(http, server, "DELETE", "/api/v1/rooms/standup") == (204, None)
    missing = error(ErrorCode.NOT_FOUND, "no room named 'standup'")
    assert await call(http, server, "GET", "/api/v1/rooms/standup") == (404, missing)
    assert await call(http, server, "DELETE", "/api/v1/rooms/standup") == (404, missing)
    assert await call(http, server, "GET", "/api/v1/rooms") == (200, {"rooms": []})


async def test_room_without_a_name_gets_a_readable_random_one(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(server.url("/api/v1/rooms"), headers=server.auth_headers) as response:
        assert response.status == 201  # a bare POST, no body at all
        first = await response.json()
    _, second = await call(http, server, "POST", "/api/v1/rooms", json_body={})
    assert ROOM_NAME.fullmatch(first["name"]) and ROOM_NAME.fullmatch(second["name"])
    assert first["name"] != second["name"]
    assert first["max_participants"] == server.config.max_participants


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"nmae": "x"}',
            "unknown field 'nmae'; allowed: lobby, max_participants, metadata, name",
        ),
        (b'{"name": 5}', "field 'name' must be a string"),
        (b'{"max_participants": true}', "field 'max_participants' must be an integer"),
        (b'{"max_participants": 2.5}', "field 'max_participants' must be an integer"),
        (b'{"max_participants": 0}', "max_participants must be between 1 and 100"),
        (b'{"max_participants": 101}', "max_participants must be between 1 and 100"),
        (b'{"metadata": []}', "field 'metadata' must be an object"),
        (b'{"name": "a", "name": "b"}', "duplicate field 'name'"),
        (b'{"max_participants": NaN}', "NaN is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (b'{"name": ', "body is not valid JSON: Expecting value at line 1 column 10"),
        (b'"\xff"', "body is not UTF-8"),
        (b'{"name": "*"}', "name must be 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'"),
        (b'{"name": "a/b"}', "name must be 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'"),
        (
            json.dumps({"metadata": {"x": "y" * 5000}}).encode(),
            "metadata must be at most 4096 bytes as JSON",
        ),
    ],
)
async def test_create_room_rejects_bad_bodies_precisely(
    server: RunningServer, http: aiohttp.ClientSession, body: bytes, message: str
) -> None:
    status, answer = await call(
        http,
        server,
        "POST",
        "/api/v1/rooms",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert (status, answer) == (400, error(ErrorCode.BAD_MESSAGE, message))
    assert await call(http, server, "GET", "/api/v1/rooms") == (200, {"rooms": []})


async def test_non_json_content_type_and_huge_bodies_are_refused(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, answer = await call(
        http,
        server,
        "POST",
        "/api/v1/rooms",
        data=b"name=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (status, answer) == (
        400,
        error(ErrorCode.BAD_MESSAGE, "Content-Type must be application/json"),
    )
    huge = json.dumps({"name": "x" * 100_000}).encode()
    status, answer = await call(
        http,
        server,
        "POST",
        "/api/v1/rooms",
        data=huge,
        headers={"Content-Type": "application/json"},
    )
    assert (status, answer) == (413, error(ErrorCode.MESSAGE_TOO_LARGE, "request body too large"))


async def test_token_endpoint_mints_tokens_the_server_accepts(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await call(http, server, "POST", "/api/v1/rooms", json_body={"name": "standup"})
    status, body = await call(
        http,
        server,
        "POST",
        "/api/v1/rooms/standup/tokens",
        json_body={"identity": "alice", "name": "Alice", "ttl_s": 120},
    )
    assert status == 200
    token = server.tokens.verify(body["token"])
    assert (token.identity, token.name, token.room) == ("alice", "Alice", "standup")
    assert token.grants == Grants.participant()
    assert token.expires_at - token.issued_at == 120
    assert body["expires_at"] == token.expires_at and body["identity"] == "alice"
    # The token rides in the fragment (never sent to a server), not in a query string.
    assert body["url"] == f"{server.base_url}/r/standup#token={body['token']}"
    assert "?" not in body["url"]

    _, host = await call(
        http,
        server,
        "POST",
        "/api/v1/rooms/standup/tokens",
        json_body={"identity": "hana", "host": True},
    )
    host_token = server.tokens.verify(host["token"])
    assert host_token.grants == Grants.host()
    assert host_token.expires_at - host_token.issued_at == server.config.host_token_ttl_s

    _, custom = await call(
        http,
        server,
        "POST",
        "/api/v1/rooms/standup/tokens",
        json_body={
            "identity": "rec",
            "grants": {"room_join": True, "can_subscribe": True, "hidden": True},
        },
    )
    assert server.tokens.verify(custom["token"]).grants == Grants(
        room_join=True, can_subscribe=True, hidden=True
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "field 'identity' is required"),
        ({"identity": ""}, "identity must be 1 to 128 printable characters"),
        ({"identity": "a", "ttl_s": 21601}, "ttl 21601s exceeds the maximum of 21600s"),
        ({"identity": "a", "ttl_s": -5}, "ttl must be a positive number of seconds"),
        ({"identity": "a", "host": True, "grants": {}}, "give either 'host' or 'grants'"),
        ({"identity": "a", "grants": {"room_create": True}}, "grants: unknown grants"),
        (
            {"identity": "a", "grants": {"can_publish_sources": ["hologram"]}},
            "grants: unknown sources ['hologram']",
        ),
        ({"identity": "a", "token": "x"}, "unknown field 'token'"),
    ],
)
async def test_token_endpoint_rejects_bad_requests(
    server: RunningServer, http: aiohttp.ClientSession, body: dict[str, Any], message: str
) -> None:
    status, answer = await call(
        http, server, "POST", "/api/v1/rooms/standup/tokens", json_body=body
    )
    assert status == 400
    assert answer["error"]["code"] == "bad_message"
    assert message in answer["error"]["message"]


async def test_tokens_for_unknown_rooms_need_auto_create(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    strict = await server_factory(auto_create_rooms=False)
    status, body = await call(
        http, strict, "POST", "/api/v1/rooms/nowhere/tokens", json_body={"identity": "a"}
    )
    assert (status, body) == (404, error(ErrorCode.NOT_FOUND, "no room named 'nowhere'"))
    lenient = await server_factory()
    status, body = await call(
        http, lenient, "POST", "/api/v1/rooms/nowhere/tokens", json_body={"identity": "a"}
    )
    assert status == 200 and lenient.tokens.verify(body["token"]).room == "nowhere"


async def test_new_meeting_needs_no_api_key_and_gives_a_host_link(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, body = await call(
        http, server, "POST", "/api/v1/meetings", auth=False, json_body={"name": " Hana "}
    )
    assert status == 201
    room = body["room"]["name"]
    assert ROOM_NAME.fullmatch(room) and body["room"]["created_by"] == "meeting"
    token = server.tokens.verify(body["host_token"])
    assert (token.room, token.name, token.grants) == (room, "Hana", Grants.host())
    assert token.identity.startswith("host-")
    assert body["host_url"] == f"{server.base_url}/r/{room}#token={body['host_token']}"
    assert body["guest_url"] == f"{server.base_url}/r/{room}"
    status, stored = await call(http, server, "GET", f"/api/v1/rooms/{room}")
    assert status == 200 and stored["sid"] == body["room"]["sid"]


async def test_public_url_is_used_for_links(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(public_url="https://meet.example.org/")
    _, body = await call(http, server, "POST", "/api/v1/meetings", auth=False)
    assert body["guest_url"] == f"https://meet.example.org/r/{body['room']['name']}"


async def test_new_meeting_is_rate_limited_per_ip(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(meetings_per_minute=3)
    statuses = []
    for _ in range(5):
        status, body = await call(http, server, "POST", "/api/v1/meetings", auth=False)
        statuses.append(status)
    assert statuses == [201, 201, 201, 429, 429]
    assert body["error"]["code"] == "rate_limited"
    _, rooms = await call(http, server, "GET", "/api/v1/rooms")
    assert len(rooms["rooms"]) == 3


async def test_guest_token_for_a_stored_room(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await call(http, server, "POST", "/api/v1/rooms", json_body={"name": "standup"})
    status, body = await call(
        http,
        server,
        "POST",
        "/api/v1/rooms/standup/guest-token",
        auth=False,
        json_body={"name": "Gina"},
    )
    assert status == 200
    token = server.tokens.verify(body["token"])
    assert (token.room, token.name, token.grants) == ("standup", "Gina", Grants.guest())
    assert token.expires_at - token.issued_at == server.config.guest_token_ttl_s
    assert token.identity.startswith("guest-") and body["identity"] == token.identity


async def test_guest_token_reveals_nothing_about_missing_rooms(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    # Like a room with a password (tests/integration/test_password.py): asked for one,
    # then refused for any password.
    for body, expected in (
        ({"name": "Gina"}, (401, error(ErrorCode.PASSWORD_REQUIRED))),
        ({"name": "Gina", "password": "guess"}, (401, error(ErrorCode.INVALID_TOKEN))),
    ):
        answers = [
            await call(
                http,
                server,
                "POST",
                f"/api/v1/rooms/{room}/guest-token",
                auth=False,
                json_body=body,
            )
            for room in ("nowhere", "in*valid", "x" * 65)
        ]
        assert answers == [expected] * 3


@pytest.mark.parametrize("body", [{}, {"name": "   "}, {"name": "x" * 65}, {"name": "a\u0000b"}])
async def test_guest_token_needs_a_display_name(
    server: RunningServer, http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    await call(http, server, "POST", "/api/v1/rooms", json_body={"name": "standup"})
    status, answer = await call(
        http, server, "POST", "/api/v1/rooms/standup/guest-token", auth=False, json_body=body
    )
    assert (status, answer) == (400, error(ErrorCode.NAME_REQUIRED))


async def test_guest_tokens_are_rate_limited_per_ip_even_for_missing_rooms(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(guest_tokens_per_minute=4)
    await call(http, server, "POST", "/api/v1/rooms", json_body={"name": "standup"})
    statuses = []
    for room in ("a", "b", "c", "standup", "standup"):
        status, _ = await call(
            http,
            server,
            "POST",
            f"/api/v1/rooms/{room}/guest-token",
            auth=False,
            json_body={"name": "G"},
        )
        statuses.append(status)
    assert statuses == [401, 401, 401, 200, 429]


async def test_unknown_api_paths_and_methods_answer_json(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, server, "GET", "/api/v1/nothing")
    assert (status, body) == (404, error(ErrorCode.NOT_FOUND))
    async with http.put(server.url("/api/v1/rooms"), headers=server.auth_headers) as response:
        assert response.status == 405
        assert set(response.headers["Allow"].split(",")) >= {"GET", "POST"}
        assert (await response.json())["error"]["code"] == "bad_message"


async def test_metrics_exposition(server: RunningServer, http: aiohttp.ClientSession) -> None:
    async with http.get(server.url("/metrics")) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    for name in (
        "sparkle_rooms 0.0",
        "sparkle_participants 0.0",
        "sparkle_packets_forwarded_total 0.0",
        "sparkle_pli_sent_total 0.0",
        "# TYPE sparkle_join_latency_seconds histogram",
        "# TYPE sparkle_ws_errors_total counter",
    ):
        assert name in text


def _described(doc: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "delete", "patch"}
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in methods
    }


async def test_openapi_describes_every_route_and_nothing_else(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, doc = await call(http, server, "GET", "/api/v1/openapi.json", auth=False)
    assert status == 200 and doc["openapi"].startswith("3.1") and doc == document()
    pages = {"/", "/r/{room}", "/recordings/{id}", "/meetings/{id}", "/embed/{room}", "/embed.js"}
    served = set()
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if route.method == "HEAD" or path in pages or path == "/static":
            continue
        served.add((route.method, path))
    described = _described(doc)
    if ("GET", "/api/v1/ws") not in served:  # while signaling/session.py is missing
        described.discard(("GET", "/api/v1/ws"))
    assert served == described
    for (method, path), item in (((m, p), doc["paths"][p][m.lower()]) for m, p in described):
        assert item["summary"] and item["responses"], (method, path)


async def test_pages_and_security_headers(
    server_factory: ServerFactory, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    web_dir = tmp_path / "web"
    (web_dir / "css").mkdir(parents=True)
    (web_dir / "index.html").write_text("<p>home</p>")
    (web_dir / "room.html").write_text("<p>room</p>")
    (web_dir / "css" / "app.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("do not serve")
    server = await server_factory(web_dir=str(web_dir))

    async def get(path: str) -> tuple[int, str, Any]:
        url = URL(server.url(path), encoded=True)
        async with http.get(url, allow_redirects=False) as response:
            return response.status, await response.text(), response.headers

    for path, expected in [("/", "<p>home</p>"), ("/r/abc-defg-hij", "<p>room</p>")]:
        status, text, headers = await get(path)
        assert (status, text) == (200, expected)
        assert headers["Content-Type"].startswith("text/html")
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "media-src 'self' blob: mediastream:" in csp and "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "camera=(self), microphone=(self)" in headers["Permissions-Policy"]
    status, text, headers = await get("/static/css/app.css")
    assert (status, text) == (200, "body{}")
    assert headers["X-Content-Type-Options"] == "nosniff"
    for path in ("/r/bad*name", "/r/" + "x" * 65, "/r/a.b"):
        status, text, headers = await get(path)
        assert status == 404 and "Not found" in text, path
        assert headers["Content-Type"].startswith("text/html")
    for path in (
        "/static/",
        "/static/css/",
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/css/%2e%2e/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
    ):
        status, text, _ = await get(path)
        assert status in (403, 404), path
        assert "do not serve" not in text, path


async def test_json_error_bodies_never_echo_credentials(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": aiohttp.encode_basic_auth("APIx", server.config.api_secret)}
    async with http.get(server.url("/api/v1/rooms"), headers=headers) as response:
        text = await response.text()
    assert server.config.api_secret not in text and "APIx" not in text


async def _join(
    http: aiohttp.ClientSession, server: RunningServer, token: str
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(server.ws_url, timeout=aiohttp.ClientWSTimeout(ws_close=5))
    await ws.send_json({"type": "join", "v": 1, "token": token})
    message = await ws.receive_json(timeout=5)
    assert message["type"] == "joined", message
    return ws


async def test_live_counts_and_deleting_a_room_disconnects_everyone(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await call(http, server, "POST", "/api/v1/rooms", json_body={"name": "standup"})
    mint = server.tokens.mint
    alice = await _join(http, server, mint("standup", "alice", "A", Grants.participant(), 60))
    bob = await _join(http, server, mint("standup", "bob", "B", Grants.participant(), 60))
    hidden = Grants(room_join=True, can_subscribe=True, hidden=True)
    ghost = await _join(http, server, mint("standup", "rec", "Recorder", hidden, 60))
    status, room = await call(http, server, "GET", "/api/v1/rooms/standup")
    assert (status, room["participants"]) == (200, 2)  # the hidden one is not counted
    async with http.get(server.url("/metrics")) as response:
        assert "sparkle_rooms 1.0" in await response.text()

    assert await call(http, server, "DELETE", "/api/v1/rooms/standup") == (204, None)
    for ws in (alice, bob, ghost):
        errors = []
        while True:
            message = await ws.receive(timeout=5)
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            errors.append(json.loads(message.data))
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4410
        assert [m["code"] for m in errors if m["type"] == "error"] == ["room_deleted"]
        await ws.close()
    assert await call(http, server, "GET", "/api/v1/rooms") == (200, {"rooms": []})


async def test_shutdown_says_bye_and_leaves_nothing_running(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    import asyncio

    from aiohttp.test_utils import TestServer

    from signaling.app import create_app
    from signaling.appkeys import TOKENS
    from tests.conftest import make_config

    before = asyncio.all_tasks()
    config = make_config(tmp_path)
    app = create_app(config)
    test_server = TestServer(app, host="127.0.0.1", port=0)
    await test_server.start_server()
    server = RunningServer(config, app, str(test_server.make_url("")).rstrip("/"))
    token = app[TOKENS].mint("standup", "alice", "A", Grants.participant(), 60)
    ws = await _join(http, server, token)

    async def read_until_closed() -> list[dict[str, Any]]:
        # A real client keeps reading, so it answers the server's close frame at once.
        received = []
        while (message := await ws.receive(timeout=10)).type is aiohttp.WSMsgType.TEXT:
            received.append(json.loads(message.data))
        return received

    reader = asyncio.create_task(read_until_closed())
    await asyncio.wait_for(test_server.close(), timeout=10)
    messages = await asyncio.wait_for(reader, timeout=5)
    assert messages[-1] == {"type": "bye", "reason": "shutdown"}
    assert ws.close_code == 1001
    await ws.close()
    for _ in range(50):  # tasks finishing their last step get a moment
        leftover = asyncio.all_tasks() - before - {asyncio.current_task()}
        if not leftover:
            break
        await asyncio.sleep(0.02)
    assert leftover == set()
