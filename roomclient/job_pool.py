"""A worker pool that serves several rooms at once: the claim loop the transcriber
(transcribe/pool.py) and the framer (framing/pool.py) share.

A job comes from ``POST {jobs}/claim?wait=S`` (HTTP Basic with the API key pair,
roomclient/job_client.py): 204 when there is nothing to do, else 200 with the job's fields
(``job_id``, ``room``, ``token`` and whatever else the kind of worker gets). The pool runs
one room session per job (roomclient/room_session.py) until the session ends or the worker
stops; then ``POST {jobs}/{job_id}/done`` ``{"exit_code", "error"?}`` reports how it ended.

Concurrency is bounded by ``max_rooms``: at the limit no claim is made, so a busy worker
leaves jobs to others. Claims long-poll (the server holds one up to ``claim_wait_s``, at most
30 s), so an idle worker costs one request per half minute and a new job starts at once. On
``stop`` (SIGTERM) every session ends and each job is reported before the loop returns; a
refused API key ends the loop with exit code 3.

What a kind of worker adds (a subclass): its name (the prefix of its standard-error lines),
its jobs path, how a claim's body is read (``parse_job``), and the session one job runs
(``new_session``). The recorder's pool (recorder/pool.py) is not one of these: it records
one job at a time, then uploads, and does not long-poll.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import aiohttp

from .job_client import JobClient, Unauthorized
from .room_session import RoomSession
from .signal_client import JoinFailed

# The server holds a claim at most 30 s (signaling/worker_jobs_api.py's services).
MAX_CLAIM_WAIT_S = 30.0
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ExitCode(enum.IntEnum):
    """A pool's and a pool session's exit codes (the framer's and the transcriber's
    sessions report these)."""

    DONE = 0
    FAILED = 1
    JOIN_FAILED = 3  # also: the server refused the API key
    STOPPED = 4  # ``stop`` was set (the worker shuts down) while the job was on


@dataclass(frozen=True)
class PoolOptions:
    """What every pool takes; a kind of worker's options add to it (a subclass must be
    declared ``repr=False`` so that this ``__repr__``, which hides the secret, stays)."""

    url: str
    api_key: str
    api_secret: str
    max_rooms: int = 8
    rtc_addresses: tuple[str, ...] = ()
    poll_interval_s: float = 2.0  # after a failed claim (or an empty one without waiting)
    claim_wait_s: float = 25.0  # long polling: the server holds a claim this long (max 30)
    join_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.max_rooms < 1:
            raise ValueError(f"max_rooms must be >= 1, got {self.max_rooms}")
        if not 0 <= self.claim_wait_s <= MAX_CLAIM_WAIT_S:
            raise ValueError(f"claim_wait_s must be within 0..{MAX_CLAIM_WAIT_S:.0f} s")

    def __repr__(self) -> str:  # never print the secret
        return f"{type(self).__name__}(url={self.url!r}, max_rooms={self.max_rooms})"


def job_fields(body: Any) -> tuple[str, str, str]:
    """``job_id``, ``room`` and ``token`` of a claim's 200 body, the fields every job has;
    ValueError when the body is malformed."""
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
    return job_id, room, token


class PoolJob(Protocol):
    """What the loop needs of a kind of worker's job."""

    @property
    def job_id(self) -> str: ...

    @property
    def room(self) -> str: ...


JobT = TypeVar("JobT", bound=PoolJob)
SessionT = TypeVar("SessionT", bound=RoomSession)


class JobPool(ABC, Generic[JobT, SessionT]):
    name: ClassVar[str]  # e.g. "sparkle-framer": what its standard-error lines begin with
    jobs_path: ClassVar[str]  # e.g. "/api/v1/framer/jobs"
    stopped_error: ClassVar[str]  # the report of a job the worker's ``stop`` ended

    def __init__(self, options: PoolOptions, stop: asyncio.Event) -> None:
        self.options = options
        self.stop = stop
        self.sessions: dict[str, asyncio.Task[None]] = {}  # job id -> its session and report
        self.finished: list[tuple[JobT, int, str | None]] = []  # (job, exit code, error)
        self.jobs = JobClient(options.url, self.jobs_path, options.api_key, options.api_secret)
        # The subclass's module logs: "framing.pool", "transcribe.pool".
        self.logger = logging.getLogger(type(self).__module__)
        self._slot_freed = asyncio.Event()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options!r})"

    # --- what a kind of worker adds ---------------------------------------------------------

    @abstractmethod
    def parse_job(self, body: Any) -> JobT:
        """A claim's 200 body as a job; ValueError when it is malformed."""

    @abstractmethod
    def new_session(self, job: JobT) -> SessionT:
        """The room session that serves ``job`` (not yet run)."""

    def session_ended(self, job: JobT, session: SessionT) -> None:
        """A session ended without raising (for the log)."""
        self.logger.info("job %s finished (%s)", job.job_id, session.finish_reason)

    # --- the loop ---------------------------------------------------------------------------

    async def run(self) -> int:
        """Claim and serve jobs until ``stop`` is set (running sessions end, and every job
        is reported, first); exit 3 if the server refuses the API key."""
        timeout = aiohttp.ClientTimeout(total=30.0, sock_connect=10.0)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            try:
                return await self._loop(http)
            finally:
                # Stop every session (each ends its work and leaves) and report each job.
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
                print(f"{self.name}: the server refused the API key", file=sys.stderr)
                return ExitCode.JOIN_FAILED
            if job is None:
                # A long poll that came back empty may claim again at once; a fast answer
                # (an error, or a server that does not wait) waits the poll interval.
                elapsed = asyncio.get_running_loop().time() - began
                if elapsed < self.options.claim_wait_s / 2 or not self.options.claim_wait_s:
                    await self._wait(self.stop, self.options.poll_interval_s)
                continue
            if job.job_id in self.sessions:
                self.logger.warning("job %s was handed out again while it runs here", job.job_id)
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

    async def _claim_unless_stopped(self, http: aiohttp.ClientSession) -> JobT | None:
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

    async def _claim(self, http: aiohttp.ClientSession) -> JobT | None:
        wait = self.options.claim_wait_s
        timeout = aiohttp.ClientTimeout(total=wait + 15.0, sock_connect=10.0)
        params = {"wait": f"{wait:g}"}
        job = await self.jobs.claim(http, self.parse_job, params=params, timeout=timeout)
        if job is None:
            return None
        # One line per claim on standard error: operators (and the tests) see who took what.
        print(f"{self.name}: claimed {job.job_id} (room {job.room!r})", file=sys.stderr, flush=True)
        return job

    async def _serve(self, http: aiohttp.ClientSession, job: JobT) -> None:
        try:
            code, error = await self._run_session(job)
            self.finished.append((job, code, error))
            await self.jobs.done(http, job.job_id, code, error)
        finally:
            self.sessions.pop(job.job_id, None)
            self._slot_freed.set()

    async def _run_session(self, job: JobT) -> tuple[int, str | None]:
        """Serve ``job``: its exit code and the error to report (None when all went well)."""
        session = self.new_session(job)
        try:
            code = await session.run()
        except JoinFailed as exc:
            self.logger.warning("job %s: could not join room %r: %s", job.job_id, job.room, exc)
            return ExitCode.JOIN_FAILED, f"could not join: {exc}"
        except Exception as exc:
            self.logger.exception("job %s: the session failed", job.job_id)
            return ExitCode.FAILED, f"the session failed: {type(exc).__name__}"
        self.session_ended(job, session)
        if code == ExitCode.STOPPED:
            return code, self.stopped_error
        return code, None
