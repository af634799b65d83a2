"""A pool worker (``python -m recorder --pool``): records whatever recording the server
hands it, on any machine that reaches the server, one recording at a time.

The server runs with ``recorder_workers = "remote"`` and starts no recorder itself. This
loop claims a job (``POST /api/v1/recorder/jobs/claim`` with the API key: 204 nothing to
do, else the recording and a fresh join token), records it with ``worker.run`` into
``work_dir/<recording id>``, uploads every file it wrote (``PUT
/api/v1/recordings/{id}/files/{name}``), reports the end (``POST
/api/v1/recorder/jobs/{id}/done``) and deletes its local copy only once all of that
succeeded: a failed upload leaves the files where they are, never lost.

The claim and done calls, and their HTTP Basic auth, are roomclient/job_client.py's. Like
the worker, it is only a client of the public API: no import of ``signaling/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from roomclient.job_client import JobClient, Unauthorized

from .worker import ExitCode, RecorderOptions, run

logger = logging.getLogger(__name__)

JOBS_PATH = "/api/v1/recorder/jobs"
# What the server's recordings API accepts (signaling/recording_files.py); anything else in
# the work directory is not uploaded.
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
SUFFIXES = (".webm", ".mkv", ".ogg", ".jsonl", ".log", ".mp4")
RECORDING_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
UPLOAD_ATTEMPTS = 3
RETRY_S = 1.0


@dataclass(frozen=True)
class PoolOptions:
    url: str
    work_dir: Path
    api_key: str
    api_secret: str
    rtc_addresses: tuple[str, ...] = ()
    poll_interval_s: float = 2.0
    join_timeout_s: float = 10.0
    start_timeout_s: float = 60.0
    keep_files: bool = False  # keep the local copy after a complete upload

    def __repr__(self) -> str:  # never print the secret
        return f"PoolOptions(url={self.url!r}, work_dir={str(self.work_dir)!r})"


@dataclass(frozen=True)
class Job:
    recording_id: str
    room: str
    token: str


class PoolWorker:
    def __init__(self, options: PoolOptions, stop: asyncio.Event) -> None:
        self.options = options
        self.stop = stop
        self.jobs = JobClient(options.url, JOBS_PATH, options.api_key, options.api_secret)

    async def run(self) -> int:
        # No total timeout: an upload of an hour of video takes as long as it takes; a
        # silent server is noticed by the socket read timeout.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=60.0)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while not self.stop.is_set():
                try:
                    job = await self._claim(http)
                except Unauthorized:
                    print("sparkle-recorder: the server refused the API key", file=sys.stderr)
                    return ExitCode.JOIN_FAILED
                if job is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), self.options.poll_interval_s)
                    continue
                await self._do(http, job)
        return ExitCode.DONE

    async def _claim(self, http: aiohttp.ClientSession) -> Job | None:
        job = await self.jobs.claim(http, parse_job)
        if job is not None:
            # One line per claim on standard error: operators (and the tests) see who took what.
            print(
                f"sparkle-recorder: claimed {job.recording_id} (room {job.room!r})", file=sys.stderr
            )
        return job

    async def _do(self, http: aiohttp.ClientSession, job: Job) -> None:
        out = self.options.work_dir / job.recording_id
        code, error = await self._record(job, out)
        uploaded, upload_error = await self._upload_all(http, job, out)
        if upload_error is not None:
            code, error = (code or ExitCode.FAILED), upload_error
        reported = await self.jobs.done(http, job.recording_id, code, error)
        if uploaded and reported and not self.options.keep_files:
            shutil.rmtree(out, ignore_errors=True)
        elif not uploaded:
            logger.error("recording %s: its files stay in %s", job.recording_id, out)

    async def _record(self, job: Job, out: Path) -> tuple[int, str | None]:
        options = RecorderOptions(
            url=self.options.url,
            room=job.room,
            recording_id=job.recording_id,
            out=out,
            token=job.token,
            rtc_addresses=self.options.rtc_addresses,
            join_timeout_s=self.options.join_timeout_s,
            start_timeout_s=self.options.start_timeout_s,
        )
        try:
            handler = await asyncio.to_thread(_log_handler, out)
        except OSError as exc:
            return ExitCode.FAILED, f"the worker cannot write to {out}: {exc.strerror}"
        # The worker's log and that of the room client it joins with.
        packages = [logging.getLogger(name) for name in ("recorder", "roomclient")]
        for package in packages:
            package.addHandler(handler)
        try:
            code = await run(options, self.stop)
        finally:
            for package in packages:
                package.removeHandler(handler)
            handler.close()
        return code, None if code == ExitCode.DONE else f"the worker exited with code {code}"

    async def _upload_all(
        self, http: aiohttp.ClientSession, job: Job, out: Path
    ) -> tuple[bool, str | None]:
        try:
            names = await asyncio.to_thread(_uploadable, out)
        except OSError as exc:
            return False, f"cannot list {out}: {exc.strerror}"
        for name in names:
            error = await self._upload(http, job, out / name)
            if error is not None:
                return False, f"upload of {name} failed: {error}"
        return True, None

    async def _upload(self, http: aiohttp.ClientSession, job: Job, path: Path) -> str | None:
        url = f"{self.jobs.base}/api/v1/recordings/{quote(job.recording_id)}/files/{path.name}"
        error = "not tried"
        for attempt in range(UPLOAD_ATTEMPTS):
            if attempt:
                await asyncio.sleep(RETRY_S * attempt)
            try:
                handle = await asyncio.to_thread(open, path, "rb")
                with handle:  # aiohttp reads it in a thread and streams it
                    async with http.put(url, data=handle, headers=self.jobs.auth) as response:
                        if response.status == 201:
                            return None
                        error = f"HTTP {response.status}: {(await response.text())[:200]}"
                        if response.status < 500:
                            return error  # refused: trying again would not help
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
        return error


async def run_pool(options: PoolOptions, stop: asyncio.Event | None = None) -> int:
    """Claim and record jobs until ``stop`` is set (the current one is finished, uploaded
    and reported first); exit 3 if the server refuses the API key."""
    return await PoolWorker(options, stop if stop is not None else asyncio.Event()).run()


def parse_job(body: Any) -> Job:
    """A claim's 200 body as a Job; ValueError when it is malformed."""
    if not isinstance(body, dict):
        raise ValueError("claim answered something other than an object")
    recording_id, room, token = body.get("recording_id"), body.get("room"), body.get("token")
    if not (
        isinstance(recording_id, str)
        and RECORDING_ID.fullmatch(recording_id)
        and isinstance(room, str)
        and isinstance(token, str)
    ):
        raise ValueError("claim answered a malformed job")
    return Job(recording_id, room, token)


def _log_handler(out: Path) -> logging.Handler:
    """The job's folder, and a log in it: the worker's log goes beside its files and up
    with them, as the server's local recorder.log does."""
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "recorder.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    return handler


def _uploadable(out: Path) -> list[str]:
    return sorted(
        p.name
        for p in out.iterdir()
        if p.is_file() and FILE_NAME.fullmatch(p.name) and p.suffix in SUFFIXES
    )
