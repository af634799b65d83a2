"""API keys (issue 7): the primary key creates integrators' keys, each with its own embed
origins and webhook; their tokens verify with their own secret; revoking one stops its API
calls and its tokens at once. Real server, real SQLite."""

from __future__ import annotations

from typing import Any

import aiohttp

from signaling.tokens import Grants
from tests.conftest import RunningServer
from tests.integration.test_api import call
from tests.support.ws_client import WsClient


def _basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(key, secret)}


async def _as(
    http: aiohttp.ClientSession,
    server: RunningServer,
    who: dict[str, Any],
    method: str,
    path: str,
    json_body: Any = None,
) -> tuple[int, Any]:
    headers = _basic(who["key"], who["secret"])
    return await call(http, server, method, path, auth=False, json_body=json_body, headers=headers)


async def test_keys_are_created_listed_scoped_and_revoked(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, created = await call(
        http,
        server,
        "POST",
        "/api/v1/keys",
        json_body={
            "name": "Acme",
            "embed_origins": ["https://app.acme.example", "http://127.0.0.1:9"],
        },
    )
    assert status == 201, created
    assert created["key"].startswith("API") and created["secret"]
    assert created["webhook_secret"].startswith("whsec_")
    assert created["embed_origins"] == ["https://app.acme.example", "http://127.0.0.1:9"]
    assert created["primary"] is False

    status, listed = await call(http, server, "GET", "/api/v1/keys")
    assert status == 200
    names = {k["name"]: k for k in listed["keys"]}
    assert set(names) == {"primary", "Acme"} and names["primary"]["primary"] is True
    assert all("secret" not in k and "webhook_secret" not in k for k in listed["keys"])

    # The integrator's key works on the room API...
    status, room = await _as(http, server, created, "POST", "/api/v1/rooms", {"name": "acme-1"})
    assert status == 201, room
    # ...manages itself, but not the others, and not the workers' job queues.
    status, own = await _as(
        http, server, created, "PATCH", f"/api/v1/keys/{created['key']}",
        {"embed_origins": ["https://other.acme.example:8443"], "webhook_url": "https://hooks.acme.example/sparkle"},
    )  # fmt: skip
    assert status == 200, own
    assert own["embed_origins"] == ["https://other.acme.example:8443"]
    assert own["webhook_url"] == "https://hooks.acme.example/sparkle"
    for method, path in (
        ("GET", "/api/v1/keys"),
        ("GET", f"/api/v1/keys/{server.config.api_key}"),
        ("POST", "/api/v1/transcriber/jobs/claim"),
        ("POST", "/api/v1/framer/jobs/claim"),
        ("POST", "/api/v1/recorder/jobs/claim"),
    ):
        status, body = await _as(http, server, created, method, path)
        assert status == 403 and body["error"]["code"] == "forbidden", (method, path, body)

    # A webhook secret can be rotated (and so obtained, the primary key's too), once shown.
    status, rotated = await _as(
        http, server, created, "POST", f"/api/v1/keys/{created['key']}/webhook-secret"
    )
    assert status == 200 and rotated["webhook_secret"].startswith("whsec_")
    assert rotated["webhook_secret"] != created["webhook_secret"]
    primary = server.config.api_key
    status, rotated = await call(http, server, "POST", f"/api/v1/keys/{primary}/webhook-secret")
    assert status == 200 and rotated["key"] == primary
    status, body = await _as(
        http, server, created, "POST", f"/api/v1/keys/{primary}/webhook-secret"
    )
    assert status == 403, body

    # Its tokens verify with its own secret and open its rooms.
    token = server.tokens.mint(
        "acme-1", "ann", "Ann", Grants.participant(), 300, api_key=created["key"]
    )
    async with WsClient.connect(server.base_url) as ws:
        joined = await ws.join(token)
        assert joined["participant"]["identity"] == "ann"
    # The token API signs with the calling key, not the primary one.
    status, minted = await _as(
        http, server, created, "POST", "/api/v1/rooms/acme-1/tokens", {"identity": "bo"}
    )
    assert status == 200, minted
    assert server.tokens.verify(minted["token"]).api_key == created["key"]

    # Revoked: the API and its tokens refuse at once.
    status, _ = await call(http, server, "DELETE", f"/api/v1/keys/{created['key']}")
    assert status == 204
    status, body = await _as(http, server, created, "GET", "/api/v1/rooms")
    assert status == 401 and body["error"]["code"] == "unauthorized"
    for revoked_token in (token, minted["token"]):
        async with WsClient.connect(server.base_url) as ws:
            await ws.send("join", v=1, token=revoked_token)
            refused = await ws.wait_error("invalid_token")
            assert refused["fatal"] is True
    status, body = await call(http, server, "DELETE", f"/api/v1/keys/{server.config.api_key}")
    assert status == 409 and body["error"]["code"] == "conflict"


async def test_bad_key_fields_are_refused_precisely(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    cases = [
        ({}, "missing field 'name'"),
        ({"name": ""}, "'name' must be 1 to 64 characters"),
        ({"name": "x", "embed_origins": "https://a.example"}, "must be a list"),
        ({"name": "x", "embed_origins": ["https://a.example/path"]}, "no path, wildcard"),
        ({"name": "x", "embed_origins": ["https://*.a.example"]}, "no path, wildcard"),
        (
            {"name": "x", "embed_origins": ["http://a.example"]},
            "http is only allowed for localhost",
        ),
        ({"name": "x", "embed_origins": ["ftp://a.example"]}, "must be scheme://host[:port]"),
        ({"name": "x", "embed_origins": ["https://a.example:99999"]}, "is not a URL origin"),
        (
            {"name": "x", "embed_origins": ["https://a.example https://evil.example"]},
            "embed origin 'https://a.example https://evil.example'",
        ),
        ({"name": "x", "embed_origins": ["https://a.example;sandbox"]}, "not a valid name"),
        ({"name": "x", "embed_origins": ["https://a.example,b.example"]}, "not a valid name"),
        ({"name": "x", "embed_origins": ["https://a.example 'unsafe-inline'"]}, "not a valid"),
        ({"name": "x", "webhook_url": "ftp://hooks.example"}, "'webhook_url' must be an http(s)"),
        ({"name": "x", "webhook_url": "https://u:p@hooks.example"}, "must not carry credentials"),
        ({"name": "x", "extra": 1}, "unknown field"),
    ]
    for body, message in cases:
        status, reply = await call(http, server, "POST", "/api/v1/keys", json_body=body)
        assert status == 400, (body, reply)
        assert message in reply["error"]["message"], (body, reply)
    status, listed = await call(http, server, "GET", "/api/v1/keys")
    assert [k["name"] for k in listed["keys"]] == ["primary"], "nothing was half-created"
    # Origins are stored in their serialised form.
    status, created = await call(
        http, server, "POST", "/api/v1/keys",
        json_body={"name": "x", "embed_origins": ["HTTPS://App.Example:443", "https://app.example"]},
    )  # fmt: skip
    assert status == 201 and created["embed_origins"] == ["https://app.example"]
    # International names are stored IDNA-encoded; IP literals as such.
    status, created = await call(
        http, server, "POST", "/api/v1/keys",
        json_body={"name": "y", "embed_origins": ["https://bücher.example", "https://[::1]:8443"]},
    )  # fmt: skip
    assert status == 201, created
    assert created["embed_origins"] == ["https://xn--bcher-kva.example", "https://[::1]:8443"]
