"""Remote recorder workers (issue 4, ``recorder_workers = "remote"``).

The server starts no recorder: pool workers (``python -m recorder --pool``, real processes
with their own work directories) claim the recording, record it, upload the files and
report the end. Also: exactly one of several claimers gets a job, claims and uploads need
the API key, bad upload names write nothing, a claimer that never joins gets the job
offered again and then fails it with a clear error.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from signaling.appkeys import ROOMS
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.support.media import ColorVideoTrack, ToneAudioTrack
from tests.support.media_file import read_track
from tests.support.media_participant import participant
from tests.support.recording_events import recording_state, until
from tests.support.ws_client import WsClient, mint

BLUE = (30, 30, 230)
CLAIM = "/api/v1/recorder/jobs/claim"


@asynccontextmanager
async def _pool_worker(server: RunningServer, work_dir: Path) -> AsyncIterator[list[str]]:
    """``python -m recorder --pool`` against ``server``; yields its stderr lines, complete
    once the block has ended (SIGTERM, then the worker's exit)."""
    env = {
        **os.environ,
        "SPARKLE_API_KEY": server.config.api_key,
        "SPARKLE_API_SECRET": server.config.api_secret,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "recorder",
        "--pool",
        "--url",
        server.base_url,
        "--work-dir",
        str(work_dir),
        "--rtc-address",
        "127.0.0.1",
        "--poll-interval",
        "0.2",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    lines: list[str] = []
    try:
        yield lines
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            _out, err = await asyncio.wait_for(process.communicate(), 15.0)
        except TimeoutError:
            process.kill()
            _out, err = await process.communicate()
        lines.extend(err.decode(errors="replace").splitlines())
        assert process.returncode == 0, lines


async def test_a_pool_worker_records_uploads_and_only_one_claims(
    server_factory: ServerFactory, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    server = await server_factory(recorder_workers="remote")
    service = server.app[ROOMS].recordings
    host_token = mint(server.tokens, "pool", "hana", name="Hana", grants=Grants.host())
    async with (
        _pool_worker(server, tmp_path / "w1") as log1,
        _pool_worker(server, tmp_path / "w2") as log2,
    ):
        async with (
            WsClient.connect(server.base_url) as host,
            participant(
                server,
                "pool",
                "gus",
                [("camera", ColorVideoTrack(BLUE)), ("microphone", ToneAudioTrack())],
            ) as gus,
        ):
            await host.join(host_token)
            await host.send("start_recording")
            recording_id = (await recording_state(gus.ws, "recording"))["id"]
            live = server.app[ROOMS].live_room("pool")
            assert live is not None
            await until(lambda: any(p.hidden for p in live.participants.values()), 15.0, "a worker")
            await asyncio.sleep(3.0)
            await host.send("stop_recording")
            await recording_state(gus.ws, "stopped")
            await until(lambda: service.current("pool") is None, 20.0, "the upload")
        record = service.records.get(recording_id)
        assert record is not None and record.state == "stopped", record
        assert record.error is None and record.bytes > 0
    # Both workers polled; exactly one claimed the recording.
    claims = [line for line in log1 + log2 if "claimed" in line]
    assert len(claims) == 1 and recording_id in claims[0], (log1, log2)

    # The uploaded files are in the server's folder, listed, and decode.
    folder = Path(record.folder)
    manifest = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    tracks = {e["source"]: folder / e["file"] for e in manifest if e["event"] == "track"}
    assert set(tracks) == {"camera", "microphone"}
    camera, microphone = read_track(tracks["camera"]), read_track(tracks["microphone"])
    assert camera.codec == "vp8" and camera.decoded > 20 and camera.span > 1.5
    assert microphone.codec == "opus" and microphone.decoded > 50
    assert (folder / "recorder.log").is_file()
    names_on_disk = await asyncio.to_thread(os.listdir, folder)
    assert not [name for name in names_on_disk if name.startswith(".")]  # no temporaries
    async with http.get(
        server.url(f"/api/v1/recordings/{recording_id}"), headers=server.auth_headers
    ) as response:
        names = {f["name"] for f in (await response.json())["files"]}
    assert {p.name for p in tracks.values()} | {"manifest.jsonl"} <= names
    # A complete upload leaves no local copy on the worker's machine.
    assert not (tmp_path / "w1" / recording_id).exists()
    assert not (tmp_path / "w2" / recording_id).exists()


async def test_claims_uploads_and_a_worker_that_never_joins(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(
        recorder_workers="remote", recorder_join_timeout_s=1.0, recorder_upload_max_bytes=1000
    )
    service = server.app[ROOMS].recordings
    key = server.auth_headers

    async def claim(headers: dict[str, str]) -> tuple[int, Any]:
        async with http.post(server.url(CLAIM), headers=headers) as response:
            body = await response.json() if response.status == 200 else await response.read()
            return response.status, body

    assert (await claim(key))[0] == 204  # nothing to record
    async with WsClient.connect(server.base_url) as host:
        await host.join(mint(server.tokens, "jobs", "hana", name="Hana", grants=Grants.host()))
        await host.send("start_recording")
        recording_id = (await recording_state(host, "recording"))["id"]
        assert (await claim({}))[0] == 401
        wrong = {"Authorization": aiohttp.encode_basic_auth(server.config.api_key, "x" * 40)}
        assert (await claim(wrong))[0] == 401

        # Eight claims at once: exactly one gets the job, with a recorder token.
        results = await asyncio.gather(*(claim(key) for _ in range(8)))
        granted = [body for status, body in results if status == 200]
        assert sorted(status for status, _ in results) == [200] + [204] * 7
        assert granted[0]["recording_id"] == recording_id and granted[0]["room"] == "jobs"
        token = server.tokens.verify(granted[0]["token"])
        assert token.grants.recorder and token.identity == f"recorder-{recording_id}"

        folder = Path(service.records.get(recording_id).folder)  # type: ignore[union-attr]
        files = f"/api/v1/recordings/{recording_id}/files/"
        for bad, status in (
            ("..%2F..%2Fsparkle.db", 400),
            ("..", 404),  # normalised away: no such route
            (".hidden.webm", 400),
            ("manifest.json", 400),
            ("x" * 200 + ".webm", 400),
        ):
            async with http.put(server.url(files + bad), data=b"abc", headers=key) as r:
                assert r.status == status, (bad, await r.text())
        async with http.put(server.url(files + "a.webm"), data=b"abc") as r:
            assert r.status == 401
        async with http.put(server.url(files + "big.webm"), data=b"x" * 1001, headers=key) as r:
            assert r.status == 413
        assert await asyncio.to_thread(os.listdir, folder) == []  # nothing written
        async with http.put(server.url(files + "a.webm"), data=b"abc", headers=key) as r:
            assert r.status == 201 and await r.json() == {"name": "a.webm", "size": 3}
        assert (folder / "a.webm").read_bytes() == b"abc"

        # Nobody joins with that token: after the bound the job is offered again, then
        # (second claim, still no join) the recording fails with a clear error.
        again = await _until_claimed(claim, key, within=5.0)
        assert again["recording_id"] == recording_id
        failed = await recording_state(host, "failed", within=5.0)
        assert failed["id"] == recording_id
    record = service.records.get(recording_id)
    assert record is not None and record.state == "failed"
    assert record.error is not None and "never joined" in record.error, record.error
    # The job is gone: a late upload or end report is refused.
    async with http.put(server.url(files + "b.webm"), data=b"abc", headers=key) as r:
        assert r.status == 409
    done = server.url(f"/api/v1/recorder/jobs/{recording_id}/done")
    async with http.post(done, json={"exit_code": 0}, headers=key) as r:
        assert r.status == 404
    assert not (folder / "b.webm").exists()


async def _until_claimed(claim: Any, key: dict[str, str], within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status, body = await claim(key)
        if status == 200:
            return dict(body)
        await asyncio.sleep(0.1)
    raise AssertionError("the job was not offered again")
