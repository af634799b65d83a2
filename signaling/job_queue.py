"""The server's side of a worker job queue: one job per room, waiting until a worker of the
right kind claims it (signaling/worker_jobs_api.py), and its end reports.

Both room workers that claim their rooms (transcription, issue 5, signaling/transcription.py;
auto-framing, issue 6, signaling/framing.py) queue their jobs here; each service keeps what
is its own (when a job is made, watched, offered again or ended). A claim is synchronous, so
two claims never get the same job (no ``await`` between the check and the mark); a claim
may wait for a job to appear (long polling) on one event that any queued job sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar

# The longest a claim request waits for a job (long polling: no job, no traffic).
MAX_CLAIM_WAIT_S = 30.0
# A claimed job's worker's join token is used once, right after its claim.
WORKER_TOKEN_TTL_S = 120
# A job whose worker vanished is offered again (``offer``); after this many claims it fails.
MAX_CLAIMS = 3


class QueuedJob(Protocol):
    """What the queue needs of a service's job (a dataclass)."""

    id: str
    room: str
    state: str  # "queued" until claimed, then the service's states; "ended" at the end
    claims: int
    error: str | None
    changed: asyncio.Event  # set on every change: the job's watcher looks again


JobT = TypeVar("JobT", bound=QueuedJob)


class JobQueue(Generic[JobT]):
    def __init__(
        self,
        noun: str,
        worker: str,
        mint_token: Callable[[JobT], str],
        clock: Callable[[], float],
        logger: logging.Logger,
        *,
        ended_kept: int = 0,
    ) -> None:
        """``noun`` names a job in ``logger``'s lines ("framing job"), ``worker`` its worker
        in the error a failed worker leaves on it ("the framing worker"); ``mint_token``
        makes a claimed job's worker its join token; the ids of the last ``ended_kept`` ended
        jobs are remembered so their workers' late ``done`` is still welcome (0: a late
        report is for an unknown job)."""
        self._noun = noun
        self._worker = worker
        self._mint_token = mint_token
        self._clock = clock
        self._log = logger
        self.by_room: dict[str, JobT] = {}  # room name -> its job
        self._ended: deque[str] = deque(maxlen=ended_kept)
        self._queued = asyncio.Event()

    def __repr__(self) -> str:
        return f"JobQueue({self._noun!r}, {len(self.by_room)} jobs)"

    def __iter__(self) -> Iterator[JobT]:
        return iter(self.by_room.values())

    def get(self, room: str) -> JobT | None:
        """``room``'s job, ended or not."""
        return self.by_room.get(room)

    def current(self, room: str) -> JobT | None:
        """``room``'s job unless it has ended."""
        job = self.by_room.get(room)
        return job if job is not None and job.state != "ended" else None

    def add(self, job: JobT) -> None:
        """``job`` is its room's job from now, offered to the next claim."""
        self.by_room[job.room] = job
        self.offer(job)

    def offer(self, job: JobT) -> None:
        """Offer ``job`` (new, or its worker vanished) to the next claim."""
        job.state = "queued"
        self._queued.set()

    def remove(self, job: JobT) -> None:
        """``job`` is over: no longer its room's job (its id stays known for ``job_done``)."""
        self._ended.append(job.id)
        if self.by_room.get(job.room) is job:
            del self.by_room[job.room]

    def claim(self) -> tuple[JobT, str] | None:
        """For a worker: the oldest waiting job and a fresh join token."""
        for job in self.by_room.values():
            if job.state == "queued":
                job.state, job.claims = "claimed", job.claims + 1
                job.changed.set()
                token = self._mint_token(job)
                self._log.info("room %s: %s %s claimed", job.room, self._noun, job.id)
                return job, token
        self._queued.clear()
        return None

    async def claim_waiting(self, wait_s: float) -> tuple[JobT, str] | None:
        """``claim``, waiting up to ``wait_s`` for a job to appear (long polling)."""
        deadline = self._clock() + min(max(wait_s, 0.0), MAX_CLAIM_WAIT_S)
        while True:
            claimed = self.claim()
            left = deadline - self._clock()
            if claimed is not None or left <= 0:
                return claimed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queued.wait(), timeout=left)

    def job_done(self, job_id: str, exit_code: int, error: str | None) -> bool:
        """A worker reports it left ``job_id``'s room; False for an unknown job."""
        for job in self.by_room.values():
            if job.id == job_id:
                if exit_code != 0:
                    self._log.warning(
                        "%s %s: worker exit %d: %s", self._noun, job_id, exit_code, error
                    )
                    job.error = error or f"{self._worker} exited with code {exit_code}"
                job.changed.set()
                return True
        return job_id in self._ended


class QueuedJobs(Generic[JobT]):
    """What a service whose jobs wait in a JobQueue answers for them: a room's current job
    and the worker's side (signaling/worker_jobs_api.py's claim and done). A service that
    inherits it sets ``_queue`` in its ``__init__``."""

    _queue: JobQueue[JobT]

    def current(self, room: str) -> JobT | None:
        """``room``'s job unless it has ended."""
        return self._queue.current(room)

    def claim(self) -> tuple[JobT, str] | None:
        """For a worker: the oldest waiting job and a fresh join token. Synchronous, so two
        claims never get the same job (no ``await`` between the check and the mark)."""
        return self._queue.claim()

    async def claim_waiting(self, wait_s: float) -> tuple[JobT, str] | None:
        """``claim``, waiting up to ``wait_s`` for a job to appear (long polling)."""
        return await self._queue.claim_waiting(wait_s)

    def job_done(self, job_id: str, exit_code: int, error: str | None) -> bool:
        """A worker reports it left ``job_id``'s room; False for an unknown job."""
        return self._queue.job_done(job_id, exit_code, error)
