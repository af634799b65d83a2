"""The framer's claim loop: takes framing jobs from the server and runs one room session per
job, several rooms at once, all sharing one face detector and its thread pool.

A job comes from ``POST /api/v1/framer/jobs/claim?wait=S`` (HTTP Basic with the API key
pair): 204 when there is nothing to do, else 200 ``{"job_id", "room", "token"}``. The session
(framing/worker.py) joins the room with that token and frames its cameras until the server
gives it no more targets, says ``bye``, or the worker stops; then ``POST
/api/v1/framer/jobs/{job_id}/done`` ``{"exit_code", "error"?}`` reports how it ended.

The loop itself (``max_rooms``, long polling, SIGTERM, the reports) is
roomclient/job_pool.py's, the transcriber's too. Detection is shared: every camera's
detections run on one small executor (``detector_threads``; the detector's network runs one
forward at a time anyway, framing/face_detector.py), and each camera has at most one
detection under way. On ``stop`` every session stops its outputs and leaves. Only a client
of the public API: no import of ``signaling/``.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from roomclient.job_pool import JobPool, job_fields
from roomclient.job_pool import PoolOptions as CommonPoolOptions

from .worker import FramerSession, NewCameraFraming, SessionOptions

JOBS_PATH = "/api/v1/framer/jobs"


@dataclass(frozen=True, repr=False)  # the common __repr__ never prints the secret
class PoolOptions(CommonPoolOptions):
    idle_timeout_s: float = 15.0  # a session with no target for this long ends


@dataclass(frozen=True)
class Job:
    job_id: str
    room: str
    token: str

    def __repr__(self) -> str:  # never print the token
        return f"Job(job_id={self.job_id!r}, room={self.room!r})"


def parse_job(body: Any) -> Job:
    """A claim's 200 body as a Job; ValueError when it is malformed."""
    return Job(*job_fields(body))


class FramerPool(JobPool[Job, FramerSession]):
    name = "sparkle-framer"
    jobs_path = JOBS_PATH
    stopped_error = "the framer was stopped while framing was on"

    def __init__(
        self,
        options: PoolOptions,
        new_framing: NewCameraFraming,
        executor: Executor | None,
        stop: asyncio.Event,
    ) -> None:
        super().__init__(options, stop)
        self.options: PoolOptions = options
        self.new_framing = new_framing
        self.executor = executor

    def parse_job(self, body: Any) -> Job:
        return parse_job(body)

    def new_session(self, job: Job) -> FramerSession:
        options = SessionOptions(
            url=self.options.url,
            room=job.room,
            token=job.token,
            rtc_addresses=self.options.rtc_addresses,
            join_timeout_s=self.options.join_timeout_s,
            idle_timeout_s=self.options.idle_timeout_s,
        )
        return FramerSession(options, self.new_framing, self.executor, self.stop)


async def run_pool(
    options: PoolOptions,
    new_framing: NewCameraFraming,
    executor: Executor | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Claim and frame jobs until ``stop`` is set (running sessions end, and every job is
    reported, first); exit 3 if the server refuses the API key."""
    event = stop if stop is not None else asyncio.Event()
    return await FramerPool(options, new_framing, executor, event).run()
