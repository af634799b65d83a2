"""The transcriber's claim loop: takes transcription jobs from the server and runs one room
session per job, several rooms at once, all sharing one speech pool.

A job comes from ``POST /api/v1/transcriber/jobs/claim`` (HTTP Basic with the API key pair):
204 when there is nothing to do, else 200 ``{"job_id", "room", "meeting_id", "token"}``. The
session (transcribe/worker.py) joins the room with that token and captions it until
transcription is turned off, the meeting ends or the worker stops; then ``POST
/api/v1/transcriber/jobs/{job_id}/done`` ``{"exit_code", "error"?}`` reports how it ended.

The loop itself (``max_rooms``, long polling, SIGTERM, the reports) is
roomclient/job_pool.py's, the framer's too. Recognition is shared: the speech pool has one
model process per core whichever rooms the utterances come from. On ``stop`` every session
flushes, sends its last captions and leaves. Like the worker, this is only a client of the
public API: no import of ``signaling/``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from roomclient.job_pool import JobPool, job_fields
from roomclient.job_pool import PoolOptions as CommonPoolOptions

from .utterances import SegmenterSettings
from .worker import SessionOptions, Speech, TranscriberSession

JOBS_PATH = "/api/v1/transcriber/jobs"


@dataclass(frozen=True, repr=False)  # the common __repr__ never prints the secret
class PoolOptions(CommonPoolOptions):
    segmenter: SegmenterSettings = field(default_factory=SegmenterSettings)


@dataclass(frozen=True)
class Job:
    job_id: str
    room: str
    meeting_id: str
    token: str

    def __repr__(self) -> str:  # never print the token
        return f"Job(job_id={self.job_id!r}, room={self.room!r}, meeting_id={self.meeting_id!r})"


def parse_job(body: Any) -> Job:
    """A claim's 200 body as a Job; ValueError when it is malformed."""
    job_id, room, token = job_fields(body)
    meeting_id = body.get("meeting_id")
    if isinstance(meeting_id, int) and not isinstance(meeting_id, bool):
        meeting_id = str(meeting_id)
    if not isinstance(meeting_id, str):
        raise ValueError("claim answered a malformed job")
    return Job(job_id, room, meeting_id, token)


class TranscriberPool(JobPool[Job, TranscriberSession]):
    name = "sparkle-transcriber"
    jobs_path = JOBS_PATH
    stopped_error = "the transcriber was stopped while transcription was on"

    def __init__(self, options: PoolOptions, speech: Speech, stop: asyncio.Event) -> None:
        super().__init__(options, stop)
        self.options: PoolOptions = options
        self.speech = speech

    def parse_job(self, body: Any) -> Job:
        return parse_job(body)

    def new_session(self, job: Job) -> TranscriberSession:
        options = SessionOptions(
            url=self.options.url,
            room=job.room,
            token=job.token,
            rtc_addresses=self.options.rtc_addresses,
            join_timeout_s=self.options.join_timeout_s,
            segmenter=self.options.segmenter,
        )
        return TranscriberSession(options, self.speech, self.stop)

    def session_ended(self, job: Job, session: TranscriberSession) -> None:
        self.logger.info(
            "job %s finished (%s): %d captions", job.job_id, session.finish_reason,
            session.captions_sent,
        )  # fmt: skip


async def run_pool(options: PoolOptions, speech: Speech, stop: asyncio.Event | None = None) -> int:
    """Claim and transcribe jobs until ``stop`` is set (running sessions finish, and every
    job is reported, first); exit 3 if the server refuses the API key."""
    pool = TranscriberPool(options, speech, stop if stop is not None else asyncio.Event())
    return await pool.run()
