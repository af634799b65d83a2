"""No token or secret in the logs (issue 7 acceptance; checklist items 10 and 24).

A realistic run against the real app with every logger at DEBUG (ours, aiohttp's access and
server logs, aiortc, aioice): rooms and tokens through the API with the key pair, two people
joining with tokens, a chat line, a meeting password set, guessed wrong and used, a media
participant, a tampered token, a token put in a query string, a transcription job claimed and
joined by a worker, an integrator's API key with a webhook (signed deliveries to a real
receiver) and an embed page. Then everything captured (raw messages, args, extras,
tracebacks, and the same records through the production JSON formatter) is searched for
every secret used and for anything shaped like a JWT: none may appear.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import aiohttp
import pytest

from signaling.logging_setup import JsonFormatter
from tests.conftest import ServerFactory
from tests.support.media import ColorVideoTrack, ToneAudioTrack
from tests.support.media_participant import participant
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.ws_client import WsClient

PASSWORD = "plum-orchard-8812"
WRONG_PASSWORD = "guess-apricot-19"
CHAT = "the quarterly numbers are in the shared folder"
_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


def _everything_logged(records: list[logging.LogRecord]) -> str:
    """Each record as raw as it gets (message, args, extras, traceback) and as JSON."""
    formatter = JsonFormatter()  # no literal secrets given: what the record itself carries
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.extend(repr(v) for k, v in vars(record).items() if k not in _RECORD_FIELDS)
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
        parts.append(formatter.format(record))
    return "\n".join(parts)


async def _api(
    http: aiohttp.ClientSession, url: str, auth: str, body: dict[str, Any] | None = None
) -> Any:
    async with http.post(url, json=body, headers={"Authorization": auth}) as response:
        assert response.status == 200 or response.status == 201, await response.text()
        return await response.json()


async def test_a_realistic_session_logs_no_token_or_secret(
    server_factory: ServerFactory,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("aiohttp.access", "aiohttp.server", "aiortc", "aioice", "sparkle", "signaling"):
        caplog.set_level(logging.DEBUG, logger=name)
    server = await server_factory(transcriber_workers="remote")
    basic = aiohttp.encode_basic_auth(server.config.api_key, server.config.api_secret)
    secrets_used = [server.config.api_secret, basic.split()[1], PASSWORD, WRONG_PASSWORD]
    api = server.url("/api/v1")

    room = await _api(http, f"{api}/rooms", basic, {"name": "board", "lobby": False})
    assert room["name"] == "board"
    host = await _api(http, f"{api}/rooms/board/tokens", basic, {"identity": "hana", "host": True})
    guest = await _api(http, f"{api}/rooms/board/tokens", basic, {"identity": "gus", "name": "Gus"})
    late = await _api(http, f"{api}/rooms/board/tokens", basic, {"identity": "ida", "name": "Ida"})
    meeting = await _api(http, f"{api}/meetings", "", {"name": "Nina"})
    secrets_used += [host["token"], guest["token"], late["token"], meeting["host_token"]]

    async with (
        WsClient.connect(server.base_url) as hana,
        WsClient.connect(server.base_url) as gus,
    ):
        await hana.join(host["token"], name="Hana")
        await gus.join(guest["token"])
        await gus.send("chat", text=CHAT)
        assert (await hana.wait_for("chat"))["message"]["text"] == CHAT
        await hana.send("update_room", settings={"password": PASSWORD})
        await hana.wait_for("room_updated", within=2.0)

        async with WsClient.connect(server.base_url) as ida:
            await ida.send("join", v=1, token=late["token"], password=WRONG_PASSWORD)
            # The same answer as a bad token (no oracle, checklist item 8).
            assert (await ida.wait_for("error"))["code"] == "invalid_token"
        async with WsClient.connect(server.base_url) as ida:
            await ida.join(late["token"], password=PASSWORD)

        # A forged token (the host's with its signature changed) and a token in a query
        # string, where a careless client might put one.
        forged = host["token"][:-4] + ("AAAA" if not host["token"].endswith("AAAA") else "BBBB")
        secrets_used.append(forged)
        async with WsClient.connect(server.base_url) as mallory:
            await mallory.send("join", v=1, token=forged)
            assert (await mallory.wait_for("error"))["fatal"] is True
        async with http.get(f"{api}/rooms?token={guest['token']}") as response:
            assert response.status == 401

        # Media: aiortc and aioice log at DEBUG too (SDP, STUN, DTLS).
        async with participant(
            server,
            "board",
            "max",
            [("camera", ColorVideoTrack((20, 200, 20))), ("microphone", ToneAudioTrack())],
            password=PASSWORD,
        ):
            await hana.wait_for("track_published", within=10.0)

        # A transcription job: claimed with the key pair, joined with the token it gives.
        await hana.send("start_transcription")
        await hana.wait_for("transcription", within=5.0)
        job = await _api(http, f"{api}/transcriber/jobs/claim?wait=5", basic)
        secrets_used.append(job["token"])
        async with WsClient.connect(server.base_url) as worker:
            await worker.join(job["token"])
        await hana.send("stop_transcription")

    # An integrator's key (issue 7): created, used for the API and a token, with a webhook
    # whose signed deliveries reach a real receiver, and an embed page opened for it.
    integrator = await _api(
        http, f"{api}/keys", basic, {"name": "Acme", "embed_origins": ["https://acme.example"]}
    )
    integrator_basic = aiohttp.encode_basic_auth(integrator["key"], integrator["secret"])
    secrets_used += [integrator["secret"], integrator_basic.split()[1]]
    secrets_used.append(integrator["webhook_secret"])
    async with WebhookReceiver.running(integrator["webhook_secret"], []) as receiver:
        async with http.patch(
            f"{api}/keys/{integrator['key']}",
            json={"webhook_url": receiver.url},
            headers={"Authorization": integrator_basic},
        ) as response:
            assert response.status == 200, await response.text()
        await _api(http, f"{api}/rooms", integrator_basic, {"name": "acme-room"})
        minted = await _api(
            http, f"{api}/rooms/acme-room/tokens", integrator_basic, {"identity": "zed"}
        )
        secrets_used.append(minted["token"])
        async with WsClient.connect(server.base_url) as zed:
            await zed.join(minted["token"], name="Zed")
        delivery = await receiver.wait_delivered("participant_joined")
        assert delivery.verified
        async with http.get(server.url(f"/embed/acme-room?key={integrator['key']}")) as page:
            assert page.status == 200

    captured = _everything_logged(caplog.records)
    assert len(caplog.records) > 50, "the scenario should have logged plenty at DEBUG"
    assert any(r.name == "aiohttp.access" for r in caplog.records)
    assert any(r.name.startswith(("aiortc", "aioice")) for r in caplog.records)
    leaked = [s for s in secrets_used if s in captured]
    assert leaked == [], f"{len(leaked)} secret(s) in the logs"
    assert _JWT_SHAPE.search(captured) is None, _JWT_SHAPE.search(captured)
    # And the formatter's lines are JSON objects with the documented fields.
    line = JsonFormatter().format(caplog.records[0])
    assert {"time", "level", "logger", "message"} <= set(json.loads(line))
