"""Remote recorder workers (issue 4, ``recorder_workers = "remote"``): the jobs a pool of
``python -m recorder --pool`` processes, on this machine or others, claim and report.

A recording in remote mode is a job here instead of a child process. Workers poll
``POST /api/v1/recorder/jobs/claim`` (signaling/recorder_jobs_api.py); ``claim`` picks the
oldest queued job and marks it claimed in one synchronous step on the event loop, so of
several workers polling at once exactly one gets it (no ``await`` between the check and the
mark, hence no interleaving). The worker then joins the room with the token it was given,
records, uploads its files and reports its exit code (``end``).

``follow`` watches one job on the service's behalf and says how it ended: the bounds a
remote process needs because the server cannot see or signal it (no SIGTERM across
machines; stopping is the ``recording`` "stopped" message the worker already follows).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from signaling.errors import ErrorCode, SparkleError

log = logging.getLogger(__name__)

# A job whose claimer never joins is offered again; after this many claims it fails (a
# worker that claims and dies twice is more likely a broken setup than bad luck).
MAX_CLAIMS = 2
# How often ``follow`` looks at the room for the worker (joins take seconds).
POLL_S = 0.2


@dataclass(eq=False)
class RemoteJob:
    recording_id: str
    room: str
    folder: Path
    queued_at: float
    state: str = "queued"  # queued | claimed | cancelled | ended
    claimed_at: float = 0.0
    claims: int = 0
    exit_code: int | None = None
    error: str | None = None  # what the worker said went wrong, if anything
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class RecorderPool:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._jobs: dict[str, RemoteJob] = {}  # insertion order: oldest first

    def add(self, recording_id: str, room: str, folder: Path) -> RemoteJob:
        job = RemoteJob(recording_id, room, folder, self._clock())
        self._jobs[recording_id] = job
        return job

    def get(self, recording_id: str) -> RemoteJob | None:
        return self._jobs.get(recording_id)

    def remove(self, recording_id: str) -> None:
        self._jobs.pop(recording_id, None)

    def claim(self) -> RemoteJob | None:
        """The oldest queued job, now claimed; None when nothing waits. Synchronous on
        purpose: the check and the mark cannot interleave with another claim."""
        oldest = min(
            (job for job in self._jobs.values() if job.state == "queued"),
            key=lambda job: job.queued_at,
            default=None,
        )
        if oldest is not None:
            oldest.state = "claimed"
            oldest.claimed_at = self._clock()
            oldest.claims += 1
        return oldest

    def cancel(self, recording_id: str) -> None:
        """The recording stopped: a job nobody claimed yet is never handed out."""
        job = self._jobs.get(recording_id)
        if job is not None and job.state == "queued":
            job.state = "cancelled"
            job.ended.set()

    def end(self, recording_id: str, exit_code: int, error: str | None) -> RemoteJob:
        """The worker's report: it has finished and uploaded what it could."""
        job = self._jobs.get(recording_id)
        if job is None:
            raise SparkleError(ErrorCode.NOT_FOUND, "no recorder job for this recording")
        if job.state != "claimed":
            raise SparkleError(ErrorCode.CONFLICT, f"this recorder job is {job.state}")
        job.state, job.exit_code, job.error = "ended", exit_code, error
        job.ended.set()
        return job

    def accepting_files(self, recording_id: str) -> RemoteJob | None:
        """The job, if a worker holds it and has not reported its end yet."""
        job = self._jobs.get(recording_id)
        return job if job is not None and job.state == "claimed" else None

    async def follow(
        self,
        job: RemoteJob,
        *,
        present: Callable[[], bool],
        stopped: Callable[[], bool],
        join_s: float,
        stop_s: float,
        upload_s: float,
    ) -> str | None:
        """Wait until ``job`` is over; None if its worker reported a clean end, else why not.

        ``present``: the worker is in the room now; ``stopped``: the recording was stopped.
        """
        joined = False
        stopped_at: float | None = None
        left_at: float | None = None
        while not job.ended.is_set():
            now = self._clock()
            if stopped_at is None and stopped():
                stopped_at = now
            if job.state == "queued" and now - job.queued_at > join_s:
                return f"no recorder worker claimed the recording within {join_s:g} s"
            if job.state == "claimed" and not joined:
                if present():
                    joined = True
                elif stopped_at is not None:
                    return "the recording stopped before its recorder worker joined"
                elif now - job.claimed_at > join_s:
                    if job.claims >= MAX_CLAIMS:
                        return (
                            f"the recorder worker never joined within {join_s:g} s of its "
                            f"claim ({job.claims} claims)"
                        )
                    log.warning(
                        "recording %s: its worker has not joined %g s after claiming it; "
                        "offering it again",
                        job.recording_id,
                        join_s,
                    )
                    job.state, job.queued_at = "queued", now
            if joined:
                if stopped_at is not None and now - stopped_at > stop_s + upload_s:
                    return (
                        f"the remote recorder did not report its end within "
                        f"{stop_s + upload_s:g} s of the stop; files may be missing"
                    )
                # Gone from the room while still recording (crashed, or lost the server):
                # its end report may still come (it uploads first), or never.
                left_at = None if present() else (now if left_at is None else left_at)
                if stopped_at is None and left_at is not None and now - left_at > upload_s:
                    return "the remote recorder left the room and never reported its end"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.ended.wait(), POLL_S)
        if job.state == "cancelled":
            return "the recording stopped before a recorder worker claimed it"
        if job.exit_code != 0:
            said = f": {job.error}" if job.error else ""
            return f"the remote recorder exited with code {job.exit_code}{said}"
        return None
