"""Which webhook events a room's life produces (issue 7), from real WebSocket joins and the
real recording and transcription services: in order, each participant joined and left
exactly once, hidden workers never announced, and each room's events to its owner key."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from minutes.transcript import Segment
from signaling.appkeys import API_KEYS, ROOMS
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.integration.test_api import call
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.ws_client import WsClient, mint

FAST = {"webhook_retry_base_s": 0.05, "webhook_timeout_s": 2.0}


def _hook_primary(server: RunningServer, url: str) -> str:
    """Point the primary key's webhook at ``url``; its webhook secret."""
    keys = server.app[API_KEYS]
    updated = keys.update(keys.primary_key, webhook_url=url)
    return updated.webhook_secret


def _summary(deliveries: list[Any]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for delivery in deliveries:
        participant = delivery.payload.get("participant")
        out.append((delivery.event, None if participant is None else participant["identity"]))
    return out


async def test_joins_and_leaves_in_order_and_hidden_workers_are_never_announced(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(**FAST)
    async with WebhookReceiver.running("") as receiver:
        receiver.secret = _hook_primary(server, receiver.url)
        hidden = Grants(room_join=True, can_subscribe=True, hidden=True)
        async with (
            WsClient.connect(server.base_url) as ada,
            WsClient.connect(server.base_url) as bob,
            WsClient.connect(server.base_url) as cal,
            WsClient.connect(server.base_url) as agent,
        ):
            # A hidden worker alone starts nothing.
            await agent.join(mint(server.tokens, "daily", "agent-1", name="Agent", grants=hidden))
            ada_joined = await ada.join(
                mint(server.tokens, "daily", "ada", name="Ada", grants=Grants.host())
            )
            await bob.join(mint(server.tokens, "daily", "bob", name="Bob"))
            bob_sid = (await ada.wait_for("participant_joined"))["participant"]["sid"]
            cal_joined = await cal.join(mint(server.tokens, "daily", "cal", name="Cal"))
            await ada.wait_for("participant_joined")
            # Bob leaves; Cal is removed by the host; Ada leaves last (the agent stays).
            await bob.send("leave")
            await bob.wait_closed()
            cal_sid = cal_joined["participant"]["sid"]
            await ada.send("remove_participant", participant_sid=cal_sid)
            await cal.wait_closed()
            await ada.send("leave")
            await ada.wait_closed()
            deliveries = await receiver.wait_events(8)
        # The agent's leave afterwards announces nothing either.
        await _settle(receiver)

    assert _summary(receiver.delivered()) == [
        ("room_started", None),
        ("participant_joined", "ada"),
        ("participant_joined", "bob"),
        ("participant_joined", "cal"),
        ("participant_left", "bob"),
        ("participant_left", "cal"),
        ("participant_left", "ada"),
        ("room_finished", None),
    ]
    assert all(d.verified for d in receiver.requests)
    assert "agent-1" not in b"".join(d.body for d in receiver.requests).decode()
    meeting = deliveries[0].payload["meeting_id"]
    room = server.app[ROOMS].store.get_room("daily")
    assert room is not None and room.owner_key == server.config.api_key  # the token's key
    for delivery in deliveries:
        assert delivery.payload["room"] == {"name": "daily", "sid": room.sid}
        assert delivery.payload["meeting_id"] == meeting
    left = {d.payload["participant"]["identity"]: d.payload for d in deliveries[4:7]}
    assert left["bob"]["reason"] == "left" and left["bob"]["participant"]["sid"] == bob_sid
    assert left["bob"]["participant"]["name"] == "Bob"
    assert left["cal"]["reason"] == "removed"
    assert left["ada"]["participant"]["sid"] == ada_joined["participant"]["sid"]
    assert deliveries[7].payload["reason"] == "empty"


async def _settle(receiver: WebhookReceiver) -> None:
    """Give a wrongly announced event the time to arrive (the tests assert none did)."""
    count = len(receiver.requests)
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == count, receiver.requests[count:]


async def test_a_room_belongs_to_the_key_that_made_it(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(**FAST)
    async with (
        WebhookReceiver.running("") as primary_hook,
        WebhookReceiver.running("") as acme_hook,
    ):
        primary_hook.secret = _hook_primary(server, primary_hook.url)
        status, acme = await call(
            http,
            server,
            "POST",
            "/api/v1/keys",
            json_body={"name": "Acme", "webhook_url": acme_hook.url},
        )
        assert status == 201
        acme_hook.secret = acme["webhook_secret"]
        # A token join auto-creates the room: the token's key owns it.
        token = server.tokens.mint(
            "acme-auto", "ada", "Ada", Grants.participant(), 600, api_key=acme["key"]
        )
        async with WsClient.connect(server.base_url) as ada:
            await ada.join(token)
            started = await acme_hook.wait_delivered("room_started")
        record = server.app[ROOMS].store.get_room("acme-auto")
        assert record is not None and record.owner_key == acme["key"]
        assert started.verified and started.payload["room"]["name"] == "acme-auto"
        # "New meeting" rooms are the primary key's.
        status, meeting = await call(http, server, "POST", "/api/v1/meetings", auth=False)
        assert status == 201
        name = meeting["room"]["name"]
        record = server.app[ROOMS].store.get_room(name)
        assert record is not None and record.owner_key == server.config.api_key
        async with WsClient.connect(server.base_url) as host:
            await host.join(meeting["host_token"], name="Hana")
            started = await primary_hook.wait_delivered("room_started")
            assert started.payload["room"]["name"] == name and started.verified
        await acme_hook.wait_delivered("room_finished")
        await primary_hook.wait_delivered("room_finished")
    assert {d.payload["room"]["name"] for d in acme_hook.requests} == {"acme-auto"}
    assert {d.payload["room"]["name"] for d in primary_hook.requests} == {name}


async def test_transcript_and_action_items_ready_and_a_failed_recording(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(
        transcriber_workers="remote",
        recorder_workers="remote",
        recorder_join_timeout_s=0.3,
        recording_min_free_bytes=1,
        **FAST,
    )
    registry = server.app[ROOMS]
    async with WebhookReceiver.running("") as receiver:
        receiver.secret = _hook_primary(server, receiver.url)
        async with WsClient.connect(server.base_url) as host:
            await host.join(
                mint(server.tokens, "review", "hana", name="Hana", grants=Grants.host())
            )
            # A recording no worker ever claims fails; its files are what there is (none).
            await host.send("start_recording")
            ready = await receiver.wait_delivered("recording_ready")
            recording = ready.payload["recording"]
            assert recording["state"] == "failed" and recording["id"].startswith("RC_")
            assert "no recorder worker claimed" in recording["error"]
            assert recording["url"] == f"/api/v1/recordings/{recording['id']}"
            assert recording["page_url"] == f"/recordings/{recording['id']}"
            assert recording["files"] == [] and recording["duration_s"] >= 0.3

            await host.send("start_transcription")
            on = await host.wait_for("transcription")
            meeting_id = on["meeting_id"]
            # What the transcriber's captions store (signaling/transcription.py caption()).
            start = time.time()
            for offset, text in enumerate(
                ["I will send the budget to finance by tomorrow.", "Thanks, sounds good."]
            ):
                segment = Segment("hana", "Hana", start + offset * 3, start + offset * 3 + 2, text)
                registry.meetings.transcripts.add(meeting_id, segment)
            await host.send("stop_transcription")
            transcript = await receiver.wait_delivered("transcript_ready")
            items = await receiver.wait_delivered("action_items_ready")

    assert transcript.payload["meeting_id"] == items.payload["meeting_id"] == meeting_id
    assert transcript.payload["transcript"] == {
        "segments": 2,
        "url": f"/api/v1/meetings/{meeting_id}/transcript",
        "summary_url": f"/meetings/{meeting_id}",
    }
    stored = registry.meetings.action_items.for_meeting(meeting_id)
    assert items.payload["action_items"]["count"] == len(stored) >= 1
    assert items.payload["action_items"]["url"] == f"/api/v1/meetings/{meeting_id}/action-items"
    order = [d.event for d in receiver.delivered()]
    assert order.index("transcript_ready") < order.index("action_items_ready")
