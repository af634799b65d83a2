"""Recording controls and the recordings API (issue 4), with the real recorder worker.

A host starts, pauses, resumes and stops a recording over the WebSocket; the server starts
``python -m recorder`` as its own process, which joins the room as a hidden participant and
writes every track without decoding. Everyone is told (the consent notice), the worker's
files are listed and downloaded with range requests, and the room's end stops it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import av

from recorder.manifest import read_manifest
from signaling.appkeys import ROOMS
from signaling.recording_store import RecordingRecord
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.support.media import ColorVideoTrack, ToneAudioTrack
from tests.support.media_file import read_track
from tests.support.media_participant import participant
from tests.support.recording_events import recording_state, until
from tests.support.ws_client import WsClient, mint

RED = (230, 30, 30)
WORKER_STOP_S = 15.0


async def test_a_host_records_pauses_and_stops_and_everyone_is_told(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    host_token = mint(server.tokens, "rec", "hana", name="Hana", grants=Grants.host())
    async with (
        WsClient.connect(server.base_url) as host,
        participant(
            server,
            "rec",
            "gus",
            [("camera", ColorVideoTrack(RED)), ("microphone", ToneAudioTrack())],
        ) as gus,
    ):
        host_me = (await host.join(host_token))["participant"]
        refused = await gus.ws.request("start_recording")
        assert (refused["code"], refused["fatal"]) == ("forbidden", False)

        await host.send("start_recording")
        for client in (host, gus.ws):
            state = await recording_state(client, "recording")
            assert state["by"] == {"sid": host_me["sid"], "name": "Hana"}
        recording_id = state["id"]
        # The worker joins hidden: nobody sees it arrive.
        live = server.app[ROOMS].live_room("rec")
        assert live is not None
        await until(lambda: any(p.hidden for p in live.participants.values()), 10.0, "the recorder")
        assert host.unread("participant_joined") == []
        # A newcomer learns it is being recorded with its joined (the consent notice).
        async with WsClient.connect(server.base_url) as ida:
            joined = await ida.join(mint(server.tokens, "rec", "ida", name="Ida"))
            assert joined["recording"]["id"] == recording_id
            assert joined["recording"]["state"] == "recording"

        await asyncio.sleep(3.0)
        await host.send("pause_recording")
        assert (await recording_state(gus.ws, "paused"))["id"] == recording_id
        await asyncio.sleep(2.0)
        await host.send("resume_recording")
        await recording_state(gus.ws, "recording")
        await asyncio.sleep(2.0)
        await host.send("stop_recording")
        await recording_state(gus.ws, "stopped")

        service = server.app[ROOMS].recordings
        await until(lambda: service.current("rec") is None, WORKER_STOP_S, "the worker")
        record = service.records.get(recording_id)
        assert record is not None and record.state == "stopped", record
        assert record.error is None and record.bytes > 0

    # The files: one per track, the right codecs, 7 s of media spanning a 2 s pause.
    folder = Path(record.folder)
    manifest = read_manifest(folder / "manifest.jsonl")
    tracks = {e["source"]: folder / e["file"] for e in manifest if e["event"] == "track"}
    assert set(tracks) == {"camera", "microphone"}
    assert [e["event"] for e in manifest].count("pause") == 1
    camera = read_track(tracks["camera"])  # decodes every packet: raises on a broken one
    codec, span, frames = camera.codec, camera.span, camera.decoded
    assert codec == "vp8" and frames > 30
    assert 5.0 <= span <= 8.5, span  # ~7 s of wall time, the pause is a gap in it
    microphone = read_track(tracks["microphone"])
    codec, span = microphone.codec, microphone.span
    assert codec == "opus" and 5.0 <= span <= 8.5, span

    # The API lists it; a download answers range requests.
    url = server.url("/api/v1/rooms/rec/recordings")
    async with http.get(url, headers=server.auth_headers) as response:
        assert response.status == 200
        listed = (await response.json())["recordings"]
    assert [r["id"] for r in listed] == [recording_id]
    names = {f["name"] for f in listed[0]["files"]}
    assert tracks["camera"].name in names and "manifest.jsonl" in names
    file_url = server.url(f"/api/v1/recordings/{recording_id}/files/{tracks['camera'].name}")
    async with http.get(
        file_url, headers={**server.auth_headers, "Range": "bytes=0-99"}
    ) as response:
        assert response.status == 206
        assert len(await response.read()) == 100
        assert response.headers["Content-Range"].startswith("bytes 0-99/")

    # Audit: who started, paused, resumed and stopped it.
    async with http.get(server.url("/api/v1/rooms/rec/audit"), headers=server.auth_headers) as r:
        actions = [e["action"] for e in (await r.json())["entries"]]
    assert actions == [
        "recording_start",
        "recording_pause",
        "recording_resume",
        "recording_stop",
    ]


async def test_recordings_api_access_and_delete(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    host_token = mint(server.tokens, "api", "hana", name="Hana", grants=Grants.host())
    guest_token = mint(server.tokens, "api", "gus", name="Gus")
    other_host = mint(server.tokens, "elsewhere", "hana", name="Hana", grants=Grants.host())
    async with WsClient.connect(server.base_url) as host:
        await host.join(host_token)
        await host.send("start_recording")
        recording_id = (await recording_state(host, "recording"))["id"]
        base = f"/api/v1/recordings/{recording_id}"
        # While it records, it cannot be deleted.
        async with http.delete(server.url(base), headers=server.auth_headers) as response:
            assert response.status == 409
        await host.send("stop_recording")
        service = server.app[ROOMS].recordings
        await until(lambda: service.current("api") is None, WORKER_STOP_S, "the worker")

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    for headers, status in (
        ({}, 401),
        (bearer(guest_token), 403),
        (bearer(other_host), 403),
        (bearer(host_token), 200),
        (server.auth_headers, 200),
    ):
        async with http.get(server.url(base), headers=headers) as response:
            assert response.status == status, (headers, await response.text())
    for bad in ("../../sparkle.db", "..", "manifest.json", "x" * 200 + ".webm"):
        async with http.get(
            server.url(f"{base}/files/{bad}"), headers=server.auth_headers
        ) as response:
            assert response.status == 404, bad
    record = server.app[ROOMS].recordings.records.get(recording_id)
    assert record is not None and await asyncio.to_thread(Path(record.folder).is_dir)
    async with http.delete(server.url(base), headers=bearer(host_token)) as response:
        assert response.status == 204
    assert not await asyncio.to_thread(Path(record.folder).exists)
    async with http.get(server.url(base), headers=server.auth_headers) as response:
        assert response.status == 404


async def test_no_recording_without_disk_space(server_factory: ServerFactory) -> None:
    server = await server_factory(recording_min_free_bytes=2**62)
    async with WsClient.connect(server.base_url) as host:
        await host.join(mint(server.tokens, "full", "hana", name="Hana", grants=Grants.host()))
        reply = await host.request("start_recording")
        assert (reply["code"], reply["fatal"]) == ("storage_full", False)
        assert server.app[ROOMS].recordings.records.for_room("full") == []
        assert host.unread("recording") == []


async def test_the_last_one_out_stops_the_recording_and_auto_record_starts_it(
    server: RunningServer,
) -> None:
    host_token = mint(server.tokens, "auto", "hana", name="Hana", grants=Grants.host())
    async with WsClient.connect(server.base_url) as host:
        await host.join(host_token)
        await host.send("update_room", settings={"auto_record": True})
        await host.wait_for("room_updated", within=2.0)
    registry = server.app[ROOMS]
    await until(lambda: registry.live_room("auto") is None, 5.0, "the room to close")

    # The first one in starts it; when the last visible participant leaves, the worker
    # stops, closes its files and leaves, and the room closes.
    async with WsClient.connect(server.base_url) as gus:
        joined = await gus.join(mint(server.tokens, "auto", "gus", name="Gus"))
        state = joined["recording"] or await recording_state(gus, "recording")
        assert state["by"] is None and state["state"] == "recording"
        live = registry.live_room("auto")
        assert live is not None
        await until(lambda: any(p.hidden for p in live.participants.values()), 10, "worker")
    await until(lambda: registry.recordings.current("auto") is None, WORKER_STOP_S, "stop")
    await until(lambda: registry.live_room("auto") is None, 5.0, "the room to close")
    (record,) = registry.recordings.records.for_room("auto")
    assert record.state == "stopped" and record.started_by == "auto"


def _largest_gap(pts: list[float]) -> float:
    ordered = sorted(pts)
    return max((b - a for a, b in itertools.pairwise(ordered)), default=0.0)


async def test_a_three_participant_meeting_recorded_for_twenty_seconds(
    server: RunningServer,
) -> None:
    """Issue 4's acceptance: every track file has the right codec, a duration within 0.5 s,
    decodes without errors; the pause is a gap of its length."""
    colours = {"ann": (230, 30, 30), "bob": (40, 60, 230), "cid": (40, 200, 60)}
    tones = {"ann": 440.0, "bob": 550.0, "cid": 660.0}
    grants = {"ann": Grants.host(), "bob": None, "cid": None}
    async with contextlib.AsyncExitStack() as stack:
        people = {
            name: await stack.enter_async_context(
                participant(
                    server,
                    "three",
                    name,
                    [
                        ("camera", ColorVideoTrack(colours[name])),
                        ("microphone", ToneAudioTrack(tones[name])),
                    ],
                    grants=grants[name],
                )
            )
            for name in colours
        }
        host = people["ann"]
        # Everyone sees both others before the recording starts.
        for person in people.values():
            await person.media.wait_until(
                lambda person=person: sum(r.frames > 0 for r in person.media.video()) >= 2,
                timeout=20,
            )
        await host.ws.send("start_recording")
        recording_id = (await recording_state(host.ws, "recording"))["id"]
        live = server.app[ROOMS].live_room("three")
        assert live is not None
        await until(lambda: any(p.hidden for p in live.participants.values()), 10, "worker")
        started = time.monotonic()
        await asyncio.sleep(8.0)
        await host.ws.send("pause_recording")
        await recording_state(host.ws, "paused")
        paused_at = time.monotonic()
        await asyncio.sleep(4.0)
        await host.ws.send("resume_recording")
        await recording_state(host.ws, "recording")
        pause = time.monotonic() - paused_at
        await asyncio.sleep(max(0.0, 20.0 - (time.monotonic() - started)))
        await host.ws.send("stop_recording")
        await recording_state(host.ws, "stopped")
        recorded = time.monotonic() - started
        service = server.app[ROOMS].recordings
        await until(lambda: service.current("three") is None, WORKER_STOP_S, "the worker")

    record = service.records.get(recording_id)
    assert record is not None and record.state == "stopped" and record.error is None
    folder = Path(record.folder)
    manifest = read_manifest(folder / "manifest.jsonl")
    files = {
        (e["identity"], e["source"]): folder / e["file"] for e in manifest if e["event"] == "track"
    }
    assert set(files) == {(n, s) for n in colours for s in ("camera", "microphone")}
    for (_name, source), path in sorted(files.items()):
        track = read_track(path)
        assert track.codec == ("vp8" if source == "camera" else "opus"), path.name
        pts = track.media_pts()
        # The worker joins a moment after the start and the first video frame waits for a
        # keyframe: the file may begin up to ~1 s late; the end is the stop.
        assert abs(track.span - recorded) <= 0.5 + 1.0, (path.name, track.span, recorded)
        assert track.decoded > 0
        gap = _largest_gap(pts)
        assert abs(gap - pause) <= 0.5, (path.name, gap, pause)


async def test_a_killed_recorder_leaves_playable_files(server: RunningServer) -> None:
    """SIGKILL mid-recording: what was written plays back; the room is told, and goes on."""
    async with (
        participant(
            server,
            "kill",
            "ann",
            [("camera", ColorVideoTrack(RED)), ("microphone", ToneAudioTrack())],
            grants=Grants.host(),
        ) as host,
    ):
        await host.ws.send("start_recording")
        recording_id = (await recording_state(host.ws, "recording"))["id"]
        service = server.app[ROOMS].recordings
        live_recording = service.current("kill")
        assert live_recording is not None and live_recording.process is not None
        folder = live_recording.folder
        await until(
            lambda: (
                len(read_manifest(folder / "manifest.jsonl")) >= 2
                if (folder / "manifest.jsonl").exists()
                else False
            ),
            15,
            "tracks in the manifest",
        )
        await asyncio.sleep(4.0)
        os.kill(live_recording.process.pid, signal.SIGKILL)
        failed = await recording_state(host.ws, "failed")
        assert failed["id"] == recording_id
        await until(lambda: service.current("kill") is None, WORKER_STOP_S, "the failure")
        # The meeting carries on.
        assert (await host.ws.request("ping"))["type"] == "pong"
    record = service.records.get(recording_id)
    assert record is not None and record.state == "failed" and "exited" in (record.error or "")
    manifest = read_manifest(folder / "manifest.jsonl")
    tracks = [folder / e["file"] for e in manifest if e["event"] == "track"]
    assert len(tracks) == 2
    for path in tracks:
        track = read_track(path)  # decodes every packet: raises on a broken file
        assert track.decoded > 0 and track.span >= 2.5, (path.name, track.span)


async def test_retention_deletes_old_recordings_and_keeps_new_ones(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(recording_retention_days=1.0)
    service = server.app[ROOMS].recordings
    folders = {}
    for rid, age_days in (("RC_old", 2.0), ("RC_new", 0.5)):
        folder = server.config.recordings_path / "room" / rid
        await asyncio.to_thread(folder.mkdir, parents=True)
        await asyncio.to_thread((folder / "0-ann-camera.webm").write_bytes, b"x" * 10)
        folders[rid] = folder
        service.records.add(
            RecordingRecord(
                id=rid,
                room="room",
                state="stopped",
                started_at=time.time() - age_days * 86400,
                ended_at=time.time(),
                started_by="ann",
                folder=str(folder),
                bytes=10,
                error=None,
            )
        )
    assert service.sweep() == 1
    assert [r.id for r in service.records.for_room("room")] == ["RC_new"]
    assert not await asyncio.to_thread(folders["RC_old"].exists)
    assert await asyncio.to_thread(folders["RC_new"].exists)


async def test_share_links_open_one_recording_with_password_and_expiry(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    host_token = mint(server.tokens, "share", "hana", name="Hana", grants=Grants.host())
    async with WsClient.connect(server.base_url) as host:
        await host.join(host_token)
        await host.send("start_recording")
        first = (await recording_state(host, "recording"))["id"]
        await host.send("stop_recording")
        service = server.app[ROOMS].recordings
        await until(lambda: service.current("share") is None, WORKER_STOP_S, "the worker")
        await host.send("start_recording")
        second = (await recording_state(host, "recording"))["id"]
        await host.send("stop_recording")
        await until(lambda: service.current("share") is None, WORKER_STOP_S, "the worker")

    async def make_link(**body: Any) -> dict[str, Any]:
        async with http.post(
            server.url(f"/api/v1/recordings/{first}/links"),
            json=body,
            headers={"Authorization": f"Bearer {host_token}"},
        ) as response:
            assert response.status == 201, await response.text()
            return dict(await response.json())

    async def read(recording: str, headers: dict[str, str]) -> tuple[int, Any]:
        async with http.get(server.url(f"/api/v1/recordings/{recording}"), headers=headers) as r:
            return r.status, await r.json()

    plain = await make_link()
    assert plain["password"] is False and plain["url"].startswith(server.url("/recordings/"))
    secret = plain["url"].split("#link=")[1]
    status, body = await read(first, {"X-Sparkle-Link": secret})
    assert status == 200 and body["id"] == first
    # The link opens that recording only; a forged secret opens nothing.
    assert (await read(second, {"X-Sparkle-Link": secret}))[0] == 401
    forged = secret.split(".")[0] + ".AAAAAAAAAAAAAAAAAAAAAA"
    assert (await read(first, {"X-Sparkle-Link": forged}))[0] == 401
    # A link cannot make more links or delete.
    async with http.delete(
        server.url(f"/api/v1/recordings/{first}"), headers={"X-Sparkle-Link": secret}
    ) as response:
        assert response.status == 401

    guarded = await make_link(password="blue-42")
    value = guarded["url"].split("#link=")[1]
    status, body = await read(first, {"X-Sparkle-Link": value})
    assert (status, body["error"]["code"]) == (401, "password_required")
    status, body = await read(first, {"X-Sparkle-Link": value, "X-Sparkle-Link-Password": "no"})
    assert (status, body["error"]["code"]) == (401, "invalid_token")
    ok = {"X-Sparkle-Link": value, "X-Sparkle-Link-Password": "blue-42"}
    assert (await read(first, ok))[0] == 200

    # Expired: refused like a forged one.
    expiring = await make_link(expires_in_s=60)
    service.links._clock = lambda: time.time() + 120  # the link's clock, two minutes on
    value = expiring["url"].split("#link=")[1]
    assert (await read(first, {"X-Sparkle-Link": value}))[0] == 401

    # The page a link opens is served (it reads the fragment itself).
    async with http.get(server.url(f"/recordings/{first}")) as response:
        assert response.status == 200 and "recording-page.js" in await response.text()


async def test_the_api_controls_a_recording_and_everyone_is_told(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    url = server.url("/api/v1/rooms/apictl/recording")

    async def control(action: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with http.post(
            url, json={"action": action}, headers=headers or server.auth_headers
        ) as response:
            return response.status, await response.json()

    assert (await control("start"))[0] == 409  # nobody in the meeting yet
    async with WsClient.connect(server.base_url) as gus:
        await gus.join(mint(server.tokens, "apictl", "gus", name="Gus"))
        guest_bearer = {"Authorization": f"Bearer {mint(server.tokens, 'apictl', 'gus')}"}
        assert (await control("start", guest_bearer))[0] == 403
        status, body = await control("start")
        assert status == 200 and body["state"] == "recording" and body["by"] is None
        assert (await recording_state(gus, "recording"))["id"] == body["id"]
        assert (await control("start"))[0] == 409
        assert (await control("pause"))[1]["state"] == "paused"
        await recording_state(gus, "paused")
        assert (await control("resume"))[1]["state"] == "recording"
        status, body = await control("stop")
        assert status == 200 and body["state"] == "stopped"
        await recording_state(gus, "stopped")
        assert (await control("stop"))[0] == 409
        assert (await control("rewind"))[0] == 400
        service = server.app[ROOMS].recordings
        await until(lambda: service.current("apictl") is None, WORKER_STOP_S, "the worker")


async def test_export_through_the_api_and_the_cli_progress_bar(
    server: RunningServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async with participant(
        server,
        "exp",
        "ann",
        [("camera", ColorVideoTrack(RED)), ("microphone", ToneAudioTrack())],
        grants=Grants.host(),
    ) as host:
        await host.ws.send("start_recording")
        recording_id = (await recording_state(host.ws, "recording"))["id"]
        # While it records, there is nothing final to export.
        url = server.url(f"/api/v1/recordings/{recording_id}/export")
        async with http.post(url, json={}, headers=server.auth_headers) as response:
            assert response.status == 409
        await asyncio.sleep(4.0)
        await host.ws.send("stop_recording")
        service = server.app[ROOMS].recordings
        await until(lambda: service.current("exp") is None, WORKER_STOP_S, "the worker")

    async with http.post(url, json={"layout": "rotated"}, headers=server.auth_headers) as r:
        assert r.status == 400
    # The CLI starts the export, shows a progress bar until done, and downloads the MP4.
    out = tmp_path / "meeting.mp4"
    env = {
        **os.environ,
        "SPARKLE_API_KEY": server.config.api_key,
        "SPARKLE_API_SECRET": server.config.api_secret,
    }
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signaling.cli",
        "recording",
        "export",
        recording_id,
        "--url",
        server.base_url,
        "--out",
        str(out),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(cli.communicate(), 120)
    assert cli.returncode == 0, stderr.decode()
    assert "100%" in stderr.decode() and "[####" in stderr.decode()
    assert "exported export-grid.mp4" in stdout.decode()
    async with http.get(url, headers=server.auth_headers) as response:
        job = await response.json()
    assert job["state"] == "done" and job["progress"] == 1.0 and job["file"] == "export-grid.mp4"
    with av.open(str(out)) as container:
        kinds = sorted(s.codec_context.name for s in container.streams)
        assert kinds == ["aac", "h264"]
        assert container.duration is not None and container.duration / 1e6 >= 2.5
