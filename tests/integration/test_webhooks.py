"""Webhook delivery (issue 7): signed events reach an integrator's receiver, failures are
retried with backoff and logged attempt by attempt, bad receivers never hurt the server, and
a pending delivery survives a restart. Real server, real SQLite, a real aiohttp receiver on
127.0.0.1 that checks signatures with ``signaling.webhook_signature.verify``."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from signaling.app import create_app
from signaling.appkeys import API_KEYS, TOKENS
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory, make_config
from tests.integration.test_api import call
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.ws_client import WsClient

FAST = {"webhook_retry_base_s": 0.05, "webhook_timeout_s": 0.5}


def _basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(key, secret)}


async def _integrator(
    http: aiohttp.ClientSession, server: RunningServer, webhook_url: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Acme"}
    if webhook_url is not None:
        body["webhook_url"] = webhook_url
    status, created = await call(http, server, "POST", "/api/v1/keys", json_body=body)
    assert status == 201, created
    return dict(created)


async def _log(
    http: aiohttp.ClientSession, server: RunningServer, auth: dict[str, str], query: str = ""
) -> list[dict[str, Any]]:
    url = server.url("/api/v1/webhooks/deliveries" + query)
    async with http.get(url, headers=auth) as response:
        assert response.status == 200, await response.text()
        return list((await response.json())["events"])


async def _metrics(http: aiohttp.ClientSession, server: RunningServer) -> str:
    async with http.get(server.url("/metrics")) as response:
        return await response.text()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_try(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(**FAST)
    async with WebhookReceiver.running("", ["500", "slow"], slow_s=1.0) as receiver:
        acme = await _integrator(http, server, receiver.url)
        receiver.secret = acme["webhook_secret"]
        auth = _basic(acme["key"], acme["secret"])
        status, room = await call(
            http, server, "POST", "/api/v1/rooms", auth=False, headers=auth, json_body={}
        )
        assert status == 201, room
        token = server.tokens.mint(
            room["name"], "ada", "Ada", Grants.participant(), 600, api_key=acme["key"]
        )
        async with WsClient.connect(server.base_url) as ada:
            await ada.join(token)
            started = await receiver.wait_delivered("room_started")
            joined = await receiver.wait_delivered("participant_joined")

        # Three requests for room_started, the same event each time; every one signed.
        first_three = receiver.requests[:3]
        assert [d.answer for d in first_three] == ["500", "slow", "200"]
        assert {d.id for d in first_three} == {started.id} and started.id.startswith("WH_")
        assert all(d.verified for d in receiver.requests), "a signature did not verify"
        assert started.payload == {
            "id": started.id,
            "event": "room_started",
            "created_at": started.payload["created_at"],
            "room": {"name": room["name"], "sid": room["sid"]},
            "meeting_id": started.payload["meeting_id"],
        }
        assert started.payload["meeting_id"].startswith("MT_")
        assert joined.payload["participant"] == {
            "sid": joined.payload["participant"]["sid"],
            "identity": "ada",
            "name": "Ada",
        }

        # The delivery log: all three attempts, with what went wrong each time.
        [logged] = await _log(http, server, auth, f"?event_id={started.id}")
        assert logged["state"] == "delivered" and logged["event"] == "room_started"
        assert logged["api_key"] == acme["key"] and logged["payload"] == started.payload
        attempts = logged["attempts"]
        assert [a["attempt"] for a in attempts] == [1, 2, 3]
        assert [a["status"] for a in attempts] == [500, None, 200]
        assert attempts[0]["error"] == "HTTP 500: receiver says 500"
        assert attempts[1]["error"] == "no answer within 0.5 s (webhook_timeout_s)"
        assert attempts[1]["duration_ms"] >= 450
        assert attempts[2]["error"] is None and attempts[2]["url"] == receiver.url
        # Backoff: the second retry waited twice as long as the first.
        assert attempts[1]["at"] - attempts[0]["at"] >= 0.05 + 0.45
        assert logged["next_attempt_at"] is None
        # Ada left: the room's last two events, after the retried one (in order).
        await receiver.wait_delivered("room_finished")
        assert [d.event for d in receiver.delivered()] == [
            "room_started",
            "participant_joined",
            "participant_left",
            "room_finished",
        ]

    # Newest first; the primary key sees every key's events, another integrator none.
    everything = await _log(http, server, server.auth_headers)
    assert [e["id"] for e in everything][-2:] == [joined.id, started.id]
    other = await _integrator(http, server, None)
    assert await _log(http, server, _basic(other["key"], other["secret"])) == []
    text = await _metrics(http, server)
    assert 'sparkle_webhook_deliveries_total{result="retry"} 2.0' in text
    assert 'sparkle_webhook_deliveries_total{result="delivered"} 4.0' in text


async def test_bad_receivers_are_retries_and_failures_with_clear_errors(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(webhook_max_attempts=2, **FAST)
    script = ["redirect", "404", "huge", "slow", "huge200"]
    async with WebhookReceiver.running("", script, slow_s=1.0) as receiver:
        acme = await _integrator(http, server, receiver.url)
        receiver.secret = acme["webhook_secret"]
        auth = _basic(acme["key"], acme["secret"])
        status, room = await call(
            http, server, "POST", "/api/v1/rooms", auth=False, headers=auth, json_body={}
        )
        assert status == 201
        token = server.tokens.mint(
            room["name"], "ada", "Ada", Grants.participant(), 600, api_key=acme["key"]
        )
        async with WsClient.connect(server.base_url) as ada:
            await ada.join(token)
            # room_started: 302 then 404 (failed); participant_joined: a 2 MiB 500 then no
            # answer in time (failed).
            await receiver.wait(4)
            # Connection refused: nothing listens on the key's new URL.
            refused = f"http://127.0.0.1:{_closed_port()}/hook"
            status, _ = await call(
                http,
                server,
                "PATCH",
                f"/api/v1/keys/{acme['key']}",
                auth=False,
                headers=auth,
                json_body={"webhook_url": refused},
            )
            assert status == 200
            await ada.send("leave")
            await ada.wait_closed()

        def done(events: list[dict[str, Any]]) -> bool:
            return len(events) == 4 and all(e["state"] != "pending" for e in events)

        events: list[dict[str, Any]] = []
        for _ in range(100):
            events = await _log(http, server, auth)
            if done(events):
                break
            await asyncio.sleep(0.1)
        assert done(events), events
        by_event = {e["event"]: e for e in events}
        started, joined = by_event["room_started"], by_event["participant_joined"]
        assert started["state"] == joined["state"] == "failed"
        errors = [a["error"] for a in started["attempts"]]
        assert [a["status"] for a in started["attempts"]] == [302, 404]
        assert errors[0].startswith("HTTP 302: redirects are not followed (to '/elsewhere')")
        assert errors[1] == "HTTP 404: receiver says 404"
        huge, slow = joined["attempts"]
        assert huge["status"] == 500 and huge["error"] == "HTTP 500: " + "x" * 200
        assert slow["status"] is None and slow["error"].startswith("no answer within 0.5 s")
        for name in ("participant_left", "room_finished"):
            failed = by_event[name]
            assert failed["state"] == "failed" and len(failed["attempts"]) == 2, failed
            for attempt in failed["attempts"]:
                assert attempt["status"] is None and attempt["url"] == refused
                assert attempt["error"].startswith("ClientConnectorError"), attempt

        # The receiver is fixed: the next event is delivered (a huge 2xx body is fine).
        status, _ = await call(
            http,
            server,
            "PATCH",
            f"/api/v1/keys/{acme['key']}",
            auth=False,
            headers=auth,
            json_body={"webhook_url": receiver.url},
        )
        assert status == 200
        async with WsClient.connect(server.base_url) as ada:
            await ada.join(token)
            delivered = await receiver.wait_delivered("room_started")
            assert delivered.answer == "huge200" and delivered.verified
        await receiver.wait_delivered("room_finished")

    # Nothing crashed: the server still answers, and counted what happened.
    assert (await call(http, server, "GET", "/healthz", auth=False))[0] == 200
    text = await _metrics(http, server)
    assert 'sparkle_webhook_deliveries_total{result="failed"} 4.0' in text
    assert 'sparkle_webhook_deliveries_total{result="retry"} 4.0' in text


async def test_a_restart_resumes_a_pending_delivery(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    config = make_config(tmp_path, webhook_retry_base_s=2.0, webhook_timeout_s=0.5)
    async with WebhookReceiver.running("", ["500"]) as receiver:
        first = create_app(config)
        server = TestServer(first, host="127.0.0.1", port=0)
        await server.start_server()
        keys = first[API_KEYS]
        keys.update(keys.primary_key, webhook_url=receiver.url)
        primary = keys.get(keys.primary_key)
        assert primary is not None
        receiver.secret = primary.webhook_secret
        running = RunningServer(config, first, str(server.make_url("")).rstrip("/"))
        join = first[TOKENS].mint("resume", "ada", "Ada", Grants.participant(), 600)
        async with WsClient.connect(running.base_url) as ada:
            await ada.join(join)
            await receiver.wait(1)
            pending_id = receiver.requests[0].id
            for _ in range(50):
                [logged] = await _log(
                    http, running, running.auth_headers, f"?event_id={pending_id}"
                )
                if logged["attempts"]:
                    break
                await asyncio.sleep(0.05)
            assert logged["state"] == "pending" and logged["attempts"][0]["status"] == 500
            # The retry is due in 2 s, but the server stops first, with Ada still in: its
            # shutdown also stores participant_left and room_finished.
            await server.close()
        assert [d.answer for d in receiver.requests] == ["500"]

        second = create_app(config)
        restarted = TestServer(second, host="127.0.0.1", port=0)
        await restarted.start_server()
        try:
            delivered = await receiver.wait_events(4)
            assert [d.event for d in delivered] == [
                "room_started",
                "participant_joined",
                "participant_left",
                "room_finished",
            ]
            assert delivered[0].id == pending_id and all(d.verified for d in delivered)
            assert delivered[2].payload["reason"] == delivered[3].payload["reason"] == "shutdown"
            running = RunningServer(
                config=config, app=second, base_url=str(restarted.make_url("")).rstrip("/")
            )
            [logged] = await _log(http, running, running.auth_headers, f"?event_id={pending_id}")
            assert [a["status"] for a in logged["attempts"]] == [500, 200]
            assert logged["state"] == "delivered"
        finally:
            await restarted.close()


async def test_the_delivery_log_refuses_bad_queries(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    for query in ("?limit=0", "?limit=501", "?limit=x", "?event_id=" + "x" * 65, "?other=1"):
        status, body = await call(http, server, "GET", "/api/v1/webhooks/deliveries" + query)
        assert status == 400 and body["error"]["code"] == "bad_message", (query, body)
    status, _ = await call(http, server, "GET", "/api/v1/webhooks/deliveries", auth=False)
    assert status == 401
    assert await _log(http, server, server.auth_headers, "?event_id=WH_nothing") == []
