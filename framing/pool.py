"""The framer's claim loop: takes framing jobs from the server and runs one room session per
job, several rooms at once, all sharing one face detector and its thread pool.

A job comes from ``POST /api/v1/framer/jobs/claim?wait=S`` (HTTP Basic with the API key
pair): 204 when there is nothing to do, else 200 ``{"job_id", "room", "token"}``. The session
(framing/worker.py) joins the room with that token and frames its cameras until the server
gives it no more targets, says ``bye``, or the worker stops; then ``POST
/api/v1/framer/jobs/{job_id}/done`` ``{"exit_code", "error"?}`` reports how it ended.

Concurrency is bounded by ``max_rooms``: at the limit no claim is made, so a busy worker
leaves jobs to others. Detection is shared: every camera's detections run on one small
executor (``detector_threads``; the detector's network runs one forward at a time anyway,
framing/face_detector.py), and each camera has at most one detection under way. On ``stop``
(SIGTERM) every session stops its outputs and leaves, and each job is reported before the
loop returns.

The claim and done calls are roomclient/job_client.py's, as for the transcriber
(transcribe/pool.py, whose loop this one follows). Only a client of the public API: no
import of ``signaling/``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import aiohttp

from roomclient.job_client import JobClient, Unauthorized

from .worker import ExitCode, FramerSession, JoinFailed, NewCameraFraming, SessionOptions

logger = logging.getLogger(__name__)

JOBS_PATH = "/api/v1/framer/jobs"
# The server holds a claim at most 30 s, like the transcriber's (contract: "exactly like").
MAX_CLAIM_WAIT_S = 30.0
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class PoolOptions:
    url: str
    api_key: str
    api_secret: str
    max_rooms: int = 8
    rtc_addresses: tuple[str, ...] = ()
    poll_interval_s: float = 2.0  # after a failed claim (or an empty one without waiting)
    claim_wait_s: float = 25.0  # long polling: the server holds a claim this long (max 30)
    join_timeout_s: float = 10.0
    idle_timeout_s: float = 15.0  # a session with no target for this long ends

    def __post_init__(self) -> None:
        if self.max_rooms < 1:
            raise ValueError(f"max_rooms must be >= 1, got {self.max_rooms}")
        if not 0 <= self.claim_wait_s <= MAX_CLAIM_WAIT_S:
            raise ValueError(f"claim_wait_s must be within 0..{MAX_CLAIM_WAIT_S:.0f} s")

    def __repr__(self) -> str:  # never print the secret
        return f"PoolOptions(url={self.url!r}, max_rooms={self.max_rooms})"


@dataclass(frozen=True)
class Job:
    job_id: str
    room: str
    token: str

    def __repr__(self) -> str:  # never print the token
        return f"Job(job_id={self.job_id!r}, room={self.room!r})"


def parse_job(body: Any) -> Job:
    """A claim's 200 body as a Job; ValueError when it is malformed."""
    if not isinstance(body, dict):
        raise ValueError("claim answered something other than an object")
    job_id, room, token = body.get("job_id"), body.get("room"), body.get("token")
    if not (
        isinstance(job_id, str)
        and JOB_ID.fullmatch(job_id)
        and isinstance(room, str)
        and room
        and isinstance(token, str)
        and token
    ):
        raise ValueError("claim answered a malformed job")
    return Job(job_id, room, token)


class FramerPool:
    def __init__(
        self,
        options: PoolOptions,
        new_framing: NewCameraFraming,
        executor: Executor | None,
        stop: asyncio.Event,
    ) -> None:
        self.options = options
        self.new_framing = new_framing
        self.executor = executor
        self.stop = stop
        self.sessions: dict[str, asyncio.Task[None]] = {}  # job id -> its session and report
        self.finished: list[tuple[Job, int, str | None]] = []  # (job, exit code, error)
        self.jobs = JobClient(options.url, JOBS_PATH, options.api_key, options.api_secret)
        self._slot_freed = asyncio.Event()

    def __repr__(self) -> str:
        return f"FramerPool({self.options!r})"

    async def run(self) -> int:
        timeout = aiohttp.ClientTimeout(total=30.0, sock_connect=10.0)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            try:
                return await self._loop(http)
            finally:
                # Stop every session (outputs stopped, rooms left) and report each job.
                self.stop.set()
                await asyncio.gather(*self.sessions.values(), return_exceptions=True)

    async def _loop(self, http: aiohttp.ClientSession) -> int:
        while not self.stop.is_set():
            if len(self.sessions) >= self.options.max_rooms:
                await self._wait(self._slot_freed, None)
                continue
            began = asyncio.get_running_loop().time()
            try:
                job = await self._claim_unless_stopped(http)
            except Unauthorized:
                print("sparkle-framer: the server refused the API key", file=sys.stderr)
                return ExitCode.JOIN_FAILED
            if job is None:
                # A long poll that came back empty may claim again at once; a fast answer
                # (an error, or a server that does not wait) waits the poll interval.
                elapsed = asyncio.get_running_loop().time() - began
                if elapsed < self.options.claim_wait_s / 2 or not self.options.claim_wait_s:
                    await self._wait(self.stop, self.options.poll_interval_s)
                continue
            if job.job_id in self.sessions:
                logger.warning("job %s was handed out again while it runs here", job.job_id)
                continue
            self.sessions[job.job_id] = asyncio.ensure_future(self._serve(http, job))
            await asyncio.sleep(0)  # let the session start before the next claim
        return ExitCode.DONE

    async def _wait(self, event: asyncio.Event, seconds: float | None) -> None:
        """Until ``event`` or ``stop`` is set, or ``seconds`` pass."""
        waits = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(self.stop.wait())}
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in waits:
                future.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        self._slot_freed.clear()

    async def _claim_unless_stopped(self, http: aiohttp.ClientSession) -> Job | None:
        """A claim (long polling), given up when ``stop`` is set meanwhile."""
        claim = asyncio.ensure_future(self._claim(http))
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({claim, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not claim.done():
                claim.cancel()
            await asyncio.gather(claim, stopping, return_exceptions=True)
        if claim.cancelled():
            return None
        # A job claimed just as ``stop`` came is still served: its session ends at once
        # and reports, so the server learns the job is free again.
        return claim.result()

    async def _claim(self, http: aiohttp.ClientSession) -> Job | None:
        wait = self.options.claim_wait_s
        timeout = aiohttp.ClientTimeout(total=wait + 15.0, sock_connect=10.0)
        job = await self.jobs.claim(http, parse_job, params={"wait": f"{wait:g}"}, timeout=timeout)
        if job is not None:
            # One line per claim on standard error: operators (and the tests) see who took what.
            print(f"sparkle-framer: claimed {job.job_id} (room {job.room!r})", file=sys.stderr)
        return job

    async def _serve(self, http: aiohttp.ClientSession, job: Job) -> None:
        try:
            code, error = await self._frame(job)
            self.finished.append((job, code, error))
            await self.jobs.done(http, job.job_id, code, error)
        finally:
            self.sessions.pop(job.job_id, None)
            self._slot_freed.set()

    async def _frame(self, job: Job) -> tuple[int, str | None]:
        options = SessionOptions(
            url=self.options.url,
            room=job.room,
            token=job.token,
            rtc_addresses=self.options.rtc_addresses,
            join_timeout_s=self.options.join_timeout_s,
            idle_timeout_s=self.options.idle_timeout_s,
        )
        session = FramerSession(options, self.new_framing, self.executor, self.stop)
        try:
            code = await session.run()
        except JoinFailed as exc:
            logger.warning("job %s: could not join room %r: %s", job.job_id, job.room, exc)
            return ExitCode.JOIN_FAILED, f"could not join: {exc}"
        except Exception as exc:
            logger.exception("job %s: the session failed", job.job_id)
            return ExitCode.FAILED, f"the session failed: {type(exc).__name__}"
        logger.info("job %s finished (%s)", job.job_id, session.finish_reason)
        if code == ExitCode.STOPPED:
            return code, "the framer was stopped while framing was on"
        return code, None


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
