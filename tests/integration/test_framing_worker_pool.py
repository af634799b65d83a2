"""The framer's pool and session against the real server (framing/pool.py, framing/worker.py):
it claims the room's framing job with the API key, joins with the job's token, takes
``framing_targets``, receives the target camera and publishes the framed camera in its
place; Bob then sees framing "on" (the server says so once the framed video reaches
subscribers) and Alice's picture, and the job is reported when the server sends the
worker away. The pool runs in-process here with the real detector and engine; the worker
as its own process (``python -m framing``, spawned by the server) is
test_framing_end_to_end.py's.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from framing.__main__ import CameraFramings
from framing.face_detector import DetectorUnavailable, FaceDetector
from framing.framing_settings import FramingSettings
from framing.pool import FramerPool, PoolOptions
from framing.worker import ExitCode
from tests.conftest import RunningServer, ServerFactory
from tests.support.media import ColorVideoTrack
from tests.support.media_participant import participant, track_sid
from tests.support.recording_events import until
from tests.support.ws_client import WsClient

ROOM = "boardroom"
GREEN = (0, 200, 0)
WAIT = 20.0


async def _framing(ws: WsClient, state: str) -> dict[str, Any]:
    return await ws.wait_for("framing", WAIT, lambda m: m["state"] == state)


def _pool(server: RunningServer, executor: ThreadPoolExecutor, stop: asyncio.Event) -> FramerPool:
    try:
        detector = FaceDetector(FramingSettings())
    except DetectorUnavailable as exc:
        pytest.skip(f"no face model: {exc}")
    options = PoolOptions(
        url=server.base_url,
        api_key=server.config.api_key,
        api_secret=server.config.api_secret,
        max_rooms=2,
        rtc_addresses=("127.0.0.1",),
        poll_interval_s=0.2,
        claim_wait_s=2.0,
    )
    return FramerPool(options, CameraFramings(detector, FramingSettings()), executor, stop)


async def test_the_pool_frames_a_camera_and_reports_the_job(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(
        framing_workers="remote", framing_idle_s=1.0, framing_width=320, framing_height=180
    )
    stop = asyncio.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="detector") as executor:
        pool = _pool(server, executor, stop)
        running = asyncio.ensure_future(pool.run())
        try:
            async with (
                participant(server, ROOM, "alice", [("camera", ColorVideoTrack(GREEN))]) as alice,
                participant(server, ROOM, "bob") as bob,
            ):
                camera = track_sid(bob.joined["tracks"], alice.sid, "camera")
                await until(lambda: bob.sees(camera, GREEN), WAIT, "Alice's camera at Bob")
                await alice.ws.send("set_framing", enabled=True)
                await _framing(bob.ws, "starting")
                # "on" once the worker's framed video reaches the others (sfu stand_in_live).
                on = await _framing(bob.ws, "on")
                assert on["participant_sid"] == alice.sid
                frames = bob.frames_from(camera)
                await until(
                    lambda: bob.frames_from(camera) > frames + 5 and bob.sees(camera, GREEN),
                    WAIT,
                    "the framed camera at Bob",
                )
                await alice.ws.send("set_framing", enabled=False)
                await _framing(bob.ws, "off")
                # Nobody framed for framing_idle_s: the server sends the worker away, and
                # the pool reports the job as done.
                await until(lambda: pool.finished, WAIT, "the job's report")
                job, code, error = pool.finished[0]
                assert job.room == ROOM
                assert (code, error) == (ExitCode.DONE, None)
                assert not pool.sessions
        finally:
            stop.set()
            assert await asyncio.wait_for(running, WAIT) == ExitCode.DONE


async def test_a_refused_api_key_ends_the_pool_with_exit_3(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(framing_workers="remote")
    options = PoolOptions(
        url=server.base_url,
        api_key=server.config.api_key,
        api_secret="not-the-secret",
        claim_wait_s=0.0,
    )
    pool = FramerPool(
        options, CameraFramings(FaceDetector(), FramingSettings()), None, asyncio.Event()
    )
    assert await asyncio.wait_for(pool.run(), WAIT) == ExitCode.JOIN_FAILED
