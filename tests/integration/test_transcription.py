"""Live transcription, the server's side (issue 5), with ``transcriber_workers = "remote"``:
the test itself is the transcriber, a real client of the public API (it claims the job over
HTTP, joins with the token it got, and sends ``caption`` messages), next to real aiortc
participants whose microphone tracks the captions name. The real worker process
(transcribe/) is exercised in test_transcriber_worker.py and test_captions_end_to_end.py.

Covered: everyone is told when transcription is on; captions reach everyone with the
speaker's name (the server's knowledge of whose track it is, not the worker's word); the
transcript is stored and exported; stopping makes the action items and points everyone to
the summary; access to meetings follows the recordings' rules plus attendees; bad captions
and callers are refused precisely and change nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from minutes.transcript import Segment
from signaling.appkeys import ROOMS
from signaling.meeting_store import MeetingRecord
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.support.media import ToneAudioTrack
from tests.support.media_participant import Participant, participant
from tests.support.recording_events import until
from tests.support.ws_client import WsClient, mint

ROOM = "standup"
CLAIM = "/api/v1/transcriber/jobs/claim"


def _basic(server: RunningServer) -> dict[str, str]:
    return {
        "Authorization": aiohttp.encode_basic_auth(server.config.api_key, server.config.api_secret)
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _claim(server: RunningServer, http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.post(server.base_url + CLAIM + "?wait=5", headers=_basic(server)) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


@asynccontextmanager
async def _meeting(
    server: RunningServer,
) -> AsyncIterator[tuple[WsClient, Participant, Participant]]:
    """A host (signalling only) and two participants who publish a microphone each."""
    host_token = mint(server.tokens, ROOM, "hana", name="Hana", grants=Grants.host())
    async with (
        WsClient.connect(server.base_url) as host,
        participant(server, ROOM, "gus", [("microphone", ToneAudioTrack(440))]) as gus,
        participant(server, ROOM, "ivy", [("microphone", ToneAudioTrack(660))]) as ivy,
    ):
        await host.join(host_token)
        yield host, gus, ivy


def _audio_track(server: RunningServer, identity: str) -> str:
    room = server.app[ROOMS].live_room(ROOM)
    assert room is not None
    owner = room.by_identity(identity)
    assert owner is not None
    for track in room.media.published_tracks():
        if track.peer_id == owner.sid and track.kind == "audio":
            return track.sid
    raise AssertionError(f"{identity} publishes no audio")


async def _speaks(server: RunningServer, identity: str) -> str:
    return str(await until(lambda: _try_track(server, identity), 10.0, f"{identity}'s audio"))


def _try_track(server: RunningServer, identity: str) -> str | None:
    try:
        return _audio_track(server, identity)
    except AssertionError:
        return None


async def test_captions_transcript_and_action_items(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(transcriber_workers="remote")
    async with _meeting(server) as (host, gus, ivy):
        gus_track, ivy_track = await _speaks(server, "gus"), await _speaks(server, "ivy")
        await host.send("start_transcription")
        for client in (host, gus.ws, ivy.ws):
            on = await client.wait_for("transcription", 5.0)
            assert on["state"] == "on" and on["by"]["name"] == "Hana", on
        meeting_id = on["meeting_id"]

        job = await _claim(server, http)
        assert job["room"] == ROOM and job["meeting_id"] == meeting_id
        async with WsClient.connect(server.base_url) as worker:
            joined = await worker.join(job["token"])
            assert joined["participant"]["sid"] not in {
                p["sid"] for p in gus.joined["participants"]
            }
            said_at = datetime.datetime.now(tz=datetime.UTC).timestamp()
            lines = [
                (gus_track, "I will send the budget to finance by tomorrow."),
                (ivy_track, "Sounds good, I already sent the slides yesterday."),
            ]
            for offset, (track, text) in enumerate(lines):
                start = said_at + 2 * offset
                await worker.send("caption", track=track, start=start, end=start + 1.5, text=text)
            for client in (host, gus.ws, ivy.ws):
                first = await client.wait_for("caption", 5.0)
                second = await client.wait_for("caption", 5.0)
                assert (first["name"], first["identity"]) == ("Gus", "gus"), first
                assert first["text"] == lines[0][1]
                assert (second["name"], second["text"]) == ("Ivy", lines[1][1]), second
            # A newcomer is told at once (joined), like the recording consent notice.
            late_token = mint(server.tokens, ROOM, "kim", name="Kim")
            async with WsClient.connect(server.base_url) as kim:
                late = await kim.join(late_token)
                assert late["transcription"]["state"] == "on"

            await host.send("stop_transcription")
            off = await gus.ws.wait_for("transcription", 5.0)
            assert off["state"] == "off"
            await worker.send("leave")
        summary = await gus.ws.wait_for("meeting_summary", 15.0)
        assert summary["meeting_id"] == meeting_id and summary["url"] == f"/meetings/{meeting_id}"

        # The participant reads the summary with the token it joined with.
        gus_token = mint(server.tokens, ROOM, "gus", name="Gus")
        url = f"{server.base_url}/api/v1/meetings/{meeting_id}"
        async with http.get(url + "/action-items", headers=_bearer(gus_token)) as response:
            assert response.status == 200, await response.text()
            actions = await response.json()
        assert actions["state"] == "ready"
        assert len(actions["items"]) == 1, actions
        item = actions["items"][0]
        tomorrow = datetime.datetime.fromtimestamp(said_at, tz=datetime.UTC).date()
        tomorrow += datetime.timedelta(days=1)
        assert item["owner"] == "gus" and item["owner_name"] == "Gus"
        assert item["due"] == tomorrow.isoformat(), item
        assert "budget" in item["task"] and item["quote"] == lines[0][1]

        async with http.get(url + "/transcript", headers=_bearer(gus_token)) as response:
            transcript = await response.json()
        texts = [(s["name"], s["text"]) for s in transcript["segments"]]
        assert texts == [("Gus", lines[0][1]), ("Ivy", lines[1][1])]
        for kind, marker in (("vtt", "WEBVTT"), ("srt", "-->"), ("txt", "Gus")):
            async with http.get(
                url + f"/transcript?format={kind}", headers=_bearer(gus_token)
            ) as response:
                assert response.status == 200
                body = await response.text()
                assert marker in body and "budget" in body, (kind, body)

        # Only a host edits; the edit is kept.
        item_url = f"{url}/action-items/{item['id']}"
        async with http.patch(
            item_url, json={"confirmed": True}, headers=_bearer(gus_token)
        ) as response:
            assert response.status == 403
        host_token = mint(server.tokens, ROOM, "hana", name="Hana", grants=Grants.host())
        async with http.patch(
            item_url, json={"confirmed": True, "due": "2031-02-03"}, headers=_bearer(host_token)
        ) as response:
            assert response.status == 200, await response.text()
        async with http.get(url + "/action-items", headers=_bearer(host_token)) as response:
            edited = (await response.json())["items"][0]
        assert edited["confirmed"] is True and edited["due"] == "2031-02-03"

        # Search, within what the caller may read.
        search = f"{server.base_url}/api/v1/transcripts/search?q=budg"
        async with http.get(search, headers=_bearer(gus_token)) as response:
            hits = (await response.json())["results"]
        assert [h["segment_id"] for h in hits] == [transcript["segments"][0]["id"]]
        assert "[budget]" in hits[0]["snippet"]
        stranger = mint(server.tokens, "elsewhere", "gus", name="Gus")
        async with http.get(search, headers=_bearer(stranger)) as response:
            assert (await response.json())["results"] == []
        async with http.get(url, headers=_bearer(stranger)) as response:
            assert response.status == 403


async def test_bad_captions_are_refused_and_change_nothing(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(transcriber_workers="remote")
    async with _meeting(server) as (host, gus, _ivy):
        track = await _speaks(server, "gus")
        # Not a transcriber: refused, whoever it is.
        reply = await gus.ws.request("caption", track=track, start=1.0, end=2.0, text="forged")
        assert reply["code"] == "forbidden", reply
        # A transcription worker's token while transcription is off.
        await host.send("start_transcription")
        job = await _claim(server, http)
        async with WsClient.connect(server.base_url) as worker:
            await worker.join(job["token"])
            reply = await worker.request("caption", track="TR_nope", start=1.0, end=2.0, text="x")
            assert reply["code"] == "not_found", reply
            reply = await worker.request("caption", track=track, start=5.0, end=2.0, text="x")
            assert reply["code"] == "bad_message" and "start" in reply["message"], reply
            reply = await worker.request("caption", track=track, start=1.0, end=2.0, text=7)
            assert reply["code"] == "bad_message", reply
            # A participant cannot turn transcription on or off.
            reply = await gus.ws.request("stop_transcription")
            assert reply["code"] == "forbidden", reply
            reply = await host.request("start_transcription")
            assert reply["code"] == "conflict", reply
        live = server.app[ROOMS].live_room(ROOM)
        assert live is not None and live.meeting_id is not None
        assert server.app[ROOMS].meetings.transcripts.count(live.meeting_id) == 0


async def test_the_meeting_ending_stops_transcription_and_makes_the_summary(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(transcriber_workers="remote")
    registry = server.app[ROOMS]
    async with WsClient.connect(server.base_url) as worker:
        async with _meeting(server) as (host, _gus, _ivy):
            track = await _speaks(server, "gus")
            await host.send("start_transcription")
            meeting_id = (await host.wait_for("transcription", 5.0))["meeting_id"]
            job = await _claim(server, http)
            await worker.join(job["token"])
            start = datetime.datetime.now(tz=datetime.UTC).timestamp()
            text = "Let's ship it on Monday."
            await worker.send("caption", track=track, start=start, end=start + 1, text=text)
            await host.wait_for("caption", 5.0)
        # Everyone visible left: the worker is told transcription is off, and leaves.
        off = await worker.wait_for("transcription", 5.0)
        assert off["state"] == "off"
        await worker.send("leave")
    await until(lambda: registry.transcription.current(ROOM) is None, 15.0, "the stop")

    def summary_ready() -> bool:
        meeting = registry.meetings.records.get(meeting_id)
        return meeting is not None and meeting.actions_state == "ready"

    await until(summary_ready, 15.0, "the action items")
    meeting = registry.meetings.records.get(meeting_id)
    assert meeting is not None and meeting.ended_at is not None
    async with http.get(
        f"{server.base_url}/api/v1/meetings/{meeting_id}", headers=_basic(server)
    ) as response:
        body = await response.json()
    assert {p["identity"] for p in body["participants"]} == {"hana", "gus", "ivy"}
    assert body["segments"] == 1

    # Deleting the meeting deletes its transcript and action items.
    async with http.delete(
        f"{server.base_url}/api/v1/meetings/{meeting_id}", headers=_basic(server)
    ) as response:
        assert response.status == 204
    assert registry.meetings.transcripts.count(meeting_id) == 0
    assert registry.meetings.action_items.for_meeting(meeting_id) == []


async def test_no_worker_in_time_turns_transcription_off_with_a_reason(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(transcriber_workers="remote", transcriber_join_timeout_s=1.0)
    async with _meeting(server) as (host, gus, _ivy):
        await host.send("start_transcription")
        await gus.ws.wait_for("transcription", 5.0, lambda m: m["state"] == "on")
        off = await gus.ws.wait_for("transcription", 10.0, lambda m: m["state"] == "off")
        assert "no transcriber" in off["error"], off


async def test_transcription_can_be_turned_off_for_the_server(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(transcriber_workers="off")
    async with _meeting(server) as (host, _gus, _ivy):
        reply = await host.request("start_transcription")
        assert reply["code"] == "transcription_unavailable", reply


async def test_retention_deletes_old_meetings_with_their_transcripts(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(recording_retention_days=30)
    meetings = server.app[ROOMS].meetings
    now = datetime.datetime.now(tz=datetime.UTC).timestamp()
    for meeting_id, age_days in (("MT_old", 31), ("MT_recent", 29)):
        started = now - age_days * 86400
        meetings.records.add(MeetingRecord(meeting_id, ROOM, started, started + 60, "UTC", "ready"))
        meetings.transcripts.add(meeting_id, Segment("gus", "Gus", started, started + 1, "Hi."))
    server.app[ROOMS].retention.sweep()
    assert meetings.records.get("MT_old") is None
    assert meetings.transcripts.count("MT_old") == 0
    assert meetings.records.get("MT_recent") is not None
    assert meetings.transcripts.count("MT_recent") == 1
