"""Live transcription (issue 5): a host turns it on, a transcriber worker joins the room,
its captions are stored as the meeting's transcript and shown to everyone; when it stops (or
the meeting ends) the action items are made and everyone is pointed to the summary.

The server never touches audio. Turning transcription on queues a job; a transcriber
process (``python -m transcribe``, its own process, transcribe/) claims it over HTTP
(``POST /api/v1/transcriber/jobs/claim``, signaling/worker_jobs_api.py), gets a
short-lived token with the ``transcriber`` grant, joins as a hidden participant and sends one
``caption`` per utterance naming the audio track it heard. Which participant a track belongs
to is the server's knowledge, never the worker's word. With ``transcriber_workers = "local"``
(the embedded default) this server starts one such process on its own machine, once, and
it serves every room; with ``remote`` the operator runs them elsewhere.

Everyone in the room is told while transcription is on (``transcription`` messages, and
``joined`` for newcomers), like the recording consent notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from minutes.transcript import Segment
from signaling import messages
from signaling.config import Config
from signaling.errors import ErrorCode, SparkleError
from signaling.fields import MessageError
from signaling.job_queue import MAX_CLAIMS, WORKER_TOKEN_TTL_S, JobQueue, QueuedJobs
from signaling.local_worker import LocalWorkerProcess
from signaling.meetings import MeetingService
from signaling.metrics import Metrics
from signaling.participant import Participant
from signaling.protocol import Caption
from signaling.rooms import LiveRoom
from signaling.tokens import Grants, TokenService

log = logging.getLogger(__name__)

# How often a job's watcher looks at the room (the worker's presence, whose tracks are whose).
WATCH_S = 0.25
# A local transcriber process that keeps dying is restarted at most this often.
RESPAWN_MIN_S = 10.0
KILL_AFTER_S = 3.0


@dataclass(eq=False)
class TranscriptionJob:
    id: str
    room: str
    meeting_id: str
    by: dict[str, Any] | None
    state: str = "queued"  # queued | claimed | running | stopping | ended
    claims: int = 0
    error: str | None = None
    # Whose each audio track is, kept from the room while the job runs: a caption may arrive
    # after its speaker left, when the room no longer knows the track.
    track_owners: dict[str, tuple[str, str]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    watcher: asyncio.Task[None] | None = None

    @property
    def worker_identity(self) -> str:
        return "transcriber-" + self.id

    def to_claim(self) -> dict[str, Any]:
        return {"job_id": self.id, "room": self.room, "meeting_id": self.meeting_id}

    def to_wire(self, state: str) -> dict[str, Any]:
        wire: dict[str, Any] = {"state": state, "by": self.by, "meeting_id": self.meeting_id}
        if self.error is not None:
            wire["error"] = self.error
        return wire


class TranscriptionService(QueuedJobs[TranscriptionJob]):
    def __init__(
        self,
        config: Config,
        tokens: TokenService,
        meetings: MeetingService,
        live_room: Callable[[str], LiveRoom | None],
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.monotonic,
        notify: Callable[[str, str, str, int], None] | None = None,
    ) -> None:
        self._config = config
        self._tokens = tokens
        # Issue 7: ``notify(event, room, meeting_id, count)`` for the transcript_ready
        # (count: utterances) and action_items_ready (count: items) webhooks.
        self._notify = notify
        self._meetings = meetings
        self._rooms = live_room
        self._metrics = metrics
        self._clock = clock
        # One job per room; a late report of an ended job is for an unknown job.
        self._queue = JobQueue("transcription", "the transcriber", self._worker_token, clock, log)
        self._local = LocalWorkerProcess(
            "transcribe",
            log_path=config.data_path / "transcriber.log",
            api_key=config.api_key,
            api_secret=config.api_secret,
            respawn_min_s=RESPAWN_MIN_S,
            kill_after_s=KILL_AFTER_S,
            clock=clock,
        )
        self._finishing: set[asyncio.Task[None]] = set()
        self.worker_url = config.local_url  # the CLI and the tests may set the real one

    def _count(self) -> None:
        waiting = sum(1 for job in self._queue if job.state in ("queued", "claimed"))
        running = sum(1 for job in self._queue if job.state in ("running", "stopping"))
        self._metrics.set_transcriptions(waiting, running)

    @property
    def local_pid(self) -> int | None:
        """The local transcriber process's pid while it runs (for operators and tests)."""
        return self._local.pid

    # --- control --------------------------------------------------------------------------

    async def start(self, room: LiveRoom, by: dict[str, Any] | None) -> TranscriptionJob:
        if self._config.transcriber_workers == "off":
            raise SparkleError(ErrorCode.TRANSCRIPTION_UNAVAILABLE)
        previous = self._queue.get(room.name)
        if previous is not None:
            if previous.state == "stopping":
                raise SparkleError(
                    ErrorCode.CONFLICT, "transcription is still stopping; try again in a moment"
                )
            raise SparkleError(ErrorCode.CONFLICT, "transcription is already on")
        if room.meeting_id is None:
            raise SparkleError(ErrorCode.CONFLICT, "no meeting is under way in this room")
        job = TranscriptionJob("TJ_" + secrets.token_urlsafe(9), room.name, room.meeting_id, by)
        self._queue.add(job)
        self._meetings.records.set_actions_state(job.meeting_id, "pending")
        self._announce(job, "on")
        if self._config.transcriber_workers == "local":
            await self._ensure_local_process()
        job.watcher = asyncio.create_task(self._watch(job))
        log.info("room %s: transcription %s on", room.name, job.id)
        return job

    def request_stop(self, room: str) -> TranscriptionJob | None:
        """Tell everyone (the worker included) transcription is off; the worker then sends
        the captions still being recognised and leaves. For callers holding the room's lock;
        ``stop`` (outside it) waits for the worker and makes the action items."""
        job = self._queue.get(room)
        if job is None or job.state in ("stopping", "ended"):
            return None
        was_waiting = job.state == "queued"
        job.state = "stopping"
        job.changed.set()
        self._announce(job, "off")
        if was_waiting:
            job.state = "ended"  # nobody to wait for
        return job

    async def stop(self, room: str) -> None:
        """Stop ``room``'s transcription (if on), wait for its worker, make the action items."""
        self.request_stop(room)
        job = self._queue.get(room)
        if job is None:
            return
        if job.watcher is not None:
            await asyncio.wait({job.watcher}, timeout=self._config.transcriber_stop_timeout_s)
        await self._finish(job)

    def stop_later(self, room: str) -> None:
        """``request_stop`` now and the rest in a task the service owns."""
        if self.request_stop(room) is None and self._queue.get(room) is None:
            return
        task = asyncio.create_task(self.stop(room))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _finish(self, job: TranscriptionJob) -> None:
        if self._queue.get(job.room) is not job:
            return  # another stop finished it
        self._queue.remove(job)
        job.state = "ended"
        self._count()
        job.changed.set()
        if job.watcher is not None and not job.watcher.done():
            job.watcher.cancel()
            await asyncio.gather(job.watcher, return_exceptions=True)
        segments = self._meetings.transcripts.count(job.meeting_id)
        self._tell("transcript_ready", job, segments)
        try:
            found = await self._meetings.make_action_items(job.meeting_id)
        except Exception:
            log.exception("meeting %s: making the action items failed", job.meeting_id)
            self._meetings.records.set_actions_state(job.meeting_id, "ready")
            found = 0
        log.info("meeting %s: %d action item(s)", job.meeting_id, found)
        self._tell("action_items_ready", job, found)
        live = self._rooms(job.room)
        if live is not None:
            live.broadcast(messages.meeting_summary(job.meeting_id))

    def _tell(self, event: str, job: TranscriptionJob, count: int) -> None:
        if self._notify is None:
            return
        try:
            self._notify(event, job.room, job.meeting_id, count)
        except Exception:
            log.exception("meeting %s: the %s hook failed", job.meeting_id, event)

    # --- the worker's side ----------------------------------------------------------------

    def _worker_token(self, job: TranscriptionJob) -> str:
        """A claimed job's worker's join token, used once, right after the claim."""
        return self._tokens.mint(
            job.room,
            job.worker_identity,
            "Transcriber",
            Grants.transcription_worker(),
            WORKER_TOKEN_TTL_S,
        )

    def caption(self, room: LiveRoom, worker: Participant, message: Caption) -> None:
        """Store and show one utterance from the transcriber."""
        if not worker.transcriber:
            raise MessageError(
                ErrorCode.FORBIDDEN, "only a transcription worker sends captions", message.id
            )
        job = self._queue.get(room.name)
        if job is None or job.state == "ended" or worker.identity != job.worker_identity:
            raise MessageError(
                ErrorCode.CONFLICT, "transcription is not on in this room", message.id
            )
        self._learn_tracks(job, room)
        owner = job.track_owners.get(message.track)
        if owner is None:
            raise MessageError(
                ErrorCode.NOT_FOUND, f"no audio track {message.track!r} in this room", message.id
            )
        text = " ".join(message.text.split())[: self._config.caption_max_chars]
        if not text:
            return
        identity, name = owner
        segment = Segment(identity, name, message.start, message.end, text)
        segment_id = self._meetings.transcripts.add(job.meeting_id, segment)
        self._metrics.count_caption()
        room.broadcast(
            messages.caption(
                segment_id=segment_id,
                identity=identity,
                name=name,
                start=message.start,
                end=message.end,
                text=text,
            )
        )

    # --- watching a job ---------------------------------------------------------------------

    async def _watch(self, job: TranscriptionJob) -> None:
        """Until the job ends: the worker must join in time; one that vanishes is replaced."""
        deadline = self._clock() + self._config.transcriber_join_timeout_s
        while job.state != "ended":
            room = self._rooms(job.room)
            if room is not None:
                self._learn_tracks(job, room)
            present = room is not None and room.by_identity(job.worker_identity) is not None
            if job.state == "stopping" and not present:
                return
            if present and job.state == "claimed":
                job.state = "running"
            elif not present and (job.state == "running" or self._claimer_died(job)):
                if job.claims >= MAX_CLAIMS:
                    self._fail(job, job.error or "the transcriber left the room")
                    return
                log.warning("room %s: the transcriber left; offering the job again", job.room)
                self._queue.offer(job)
                deadline = self._clock() + self._config.transcriber_join_timeout_s
            elif job.state in ("queued", "claimed"):
                if self._clock() > deadline:
                    self._fail(job, "no transcriber joined the room in time")
                    return
                if job.state == "queued" and self._config.transcriber_workers == "local":
                    await self._ensure_local_process()
            self._count()
            job.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.changed.wait(), timeout=WATCH_S)

    def _claimer_died(self, job: TranscriptionJob) -> bool:
        """A local transcriber that claimed the job and died before joining: offer the job
        again at once rather than after the join timeout."""
        local = self._config.transcriber_workers == "local"
        return job.state == "claimed" and local and self.local_pid is None

    def worker_joined(self, room: LiveRoom, participant: Participant) -> None:
        """The registry seated a transcriber: its job is running from now (not from the
        watcher's next look, which a worker dying right after its join could slip past)."""
        job = self._queue.get(room.name)
        if job is not None and participant.identity == job.worker_identity:
            if job.state == "claimed":
                job.state = "running"
            job.changed.set()

    def worker_left(self, room: str) -> None:
        """A transcriber left the room: the watcher decides at once what that means."""
        job = self._queue.get(room)
        if job is not None:
            job.changed.set()

    def _fail(self, job: TranscriptionJob, error: str) -> None:
        log.error("room %s: transcription %s failed: %s", job.room, job.id, error)
        self._metrics.count_transcriber_error()
        job.error = error
        job.state = "stopping"
        self._announce(job, "off")
        self.stop_later(job.room)

    def _learn_tracks(self, job: TranscriptionJob, room: LiveRoom) -> None:
        for track in room.media.published_tracks():
            if track.kind != "audio" or track.sid in job.track_owners:
                continue
            owner = room.participants.get(track.peer_id)
            if owner is not None and not owner.hidden:
                job.track_owners[track.sid] = (owner.identity, owner.name)

    def _announce(self, job: TranscriptionJob, state: str) -> None:
        room = self._rooms(job.room)
        if room is None:
            return
        wire = job.to_wire(state)
        room.transcription = wire if state == "on" else None
        room.broadcast(messages.transcription(wire))

    # --- the local transcriber process ------------------------------------------------------

    async def _ensure_local_process(self) -> None:
        config = self._config
        args = ["--server", self.worker_url, "--model", config.transcriber_model]
        args += ["--device", config.transcriber_device]
        args += ["--compute-type", config.transcriber_compute_type]
        if config.transcriber_processes:
            args += ["--workers", str(config.transcriber_processes)]
        for address in config.sfu_settings().listen_addresses:
            args += ["--rtc-address", address]
        await self._local.ensure(args)

    async def close(self) -> None:
        """Shutdown: stop every job (the action items are made), then the local process."""
        for job in list(self._queue):
            self.request_stop(job.room)
        jobs = list(self._queue)
        for job in jobs:
            if job.watcher is not None:
                await asyncio.wait({job.watcher}, timeout=self._config.transcriber_stop_timeout_s)
            await self._finish(job)
        if self._finishing:
            grace = self._config.transcriber_stop_timeout_s
            await asyncio.wait(list(self._finishing), timeout=grace)
        await self._local.stop()
