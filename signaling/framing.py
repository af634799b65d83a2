"""Auto-framing (issue 6): a participant (or a host, for a room camera) turns it on, a
framing worker joins the room, takes that camera, and publishes a framed video that everyone
else sees in its place.

The server never touches pixels. Turning framing on for someone queues the room's framing
job (one per room, whoever is framed); a framing process (``python -m framing``, its own
process, framing/) claims it over HTTP (``POST /api/v1/framer/jobs/claim``,
signaling/worker_jobs_api.py), gets a short-lived token with the ``framer`` grant and joins
as a hidden participant. This service tells it what to frame (``framing_targets``: the
camera track of each participant with framing on), gives it exactly those cameras (the
SFU's selective subscription) and lets its offer declare one stand-in per camera
(``frames``); the SFU then switches every other subscriber of that camera to the framed
video at a keyframe, on the same track sid (sfu/forwarder.py, "Stand-ins"). Turning it off
switches them back at the camera's next keyframe, at once for the one who asked.

Everyone sees each participant's framing state (``framing``; ``joined.framing`` for
newcomers): ``starting`` until the framed video reaches subscribers, then ``on``. With
``framing_workers = "local"`` (the embedded default) this server starts one framing
process on its own machine, which serves every room.
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

from signaling import messages
from signaling.config import Config
from signaling.errors import ErrorCode, SparkleError
from signaling.job_queue import MAX_CLAIMS, WORKER_TOKEN_TTL_S, JobQueue, QueuedJobs
from signaling.local_worker import LocalWorkerProcess
from signaling.metrics import Metrics
from signaling.participant import Participant
from signaling.rooms import LiveRoom
from signaling.tokens import Grants, TokenService

log = logging.getLogger(__name__)

# How often a job's watcher looks at the room (targets, the worker's presence, live video).
WATCH_S = 0.25
# How many ended jobs' ids are remembered for their workers' late reports.
ENDED_KEPT = 256


@dataclass(eq=False)
class FramingJob:
    id: str
    room: str
    state: str = "queued"  # queued | claimed | running | ended
    claims: int = 0
    error: str | None = None
    idle_since: float | None = None  # when the last framed participant turned it off
    targets_sent: tuple[tuple[str, str], ...] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    watcher: asyncio.Task[None] | None = None

    @property
    def worker_identity(self) -> str:
        return "framer-" + self.id

    def to_claim(self) -> dict[str, Any]:
        return {"job_id": self.id, "room": self.room}


class FramingService(QueuedJobs[FramingJob]):
    def __init__(
        self,
        config: Config,
        tokens: TokenService,
        live_room: Callable[[str], LiveRoom | None],
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._tokens = tokens
        self._rooms = live_room
        self._metrics = metrics
        self._clock = clock
        # One job per room. Jobs the server ended (idle, failed): their worker's late
        # ``done`` is still welcome.
        self._queue = JobQueue(
            "framing job",
            "the framing worker",
            self._worker_token,
            clock,
            log,
            ended_kept=ENDED_KEPT,
        )
        self.worker_url = config.local_url  # the CLI and the tests may set the real one
        self._local = LocalWorkerProcess(
            "framing",
            log_path=config.data_path / "framing.log",
            api_key=config.api_key,
            api_secret=config.api_secret,
        )

    @property
    def local_pid(self) -> int | None:
        """The local framing process's pid while it runs (for operators and tests)."""
        return self._local.pid

    # --- control --------------------------------------------------------------------------

    async def set(
        self, room: LiveRoom, actor: Participant, target: Participant, enabled: bool
    ) -> None:
        """Turn ``target``'s auto-framing on or off for ``actor`` (checked by the caller:
        itself, or a host). Idempotent: the same state again changes and announces nothing."""
        if enabled and self._config.framing_workers == "off":
            raise SparkleError(ErrorCode.FRAMING_UNAVAILABLE)
        current = room.framing.get(target.sid)
        if enabled == (current is not None):
            return
        if not enabled:
            self._turn_off(room, target.sid, None)
            return
        by = None if actor is target else {"sid": actor.sid, "name": actor.name}
        self._announce(room, target.sid, "starting", by)
        job = self._queue.current(room.name)
        if job is None:
            job = FramingJob("FJ_" + secrets.token_urlsafe(9), room.name)
            self._queue.add(job)
            job.watcher = asyncio.create_task(self._watch(job))
            log.info("room %s: framing job %s queued", room.name, job.id)
        job.idle_since = None
        job.changed.set()
        if job.state == "queued" and self._config.framing_workers == "local":
            await self._ensure_local_process()
        self._count()

    def participant_left(self, room: LiveRoom, participant: Participant) -> None:
        """Someone left: their framing ends with them (nobody needs telling)."""
        if room.framing.pop(participant.sid, None) is not None:
            job = self._queue.get(room.name)
            if job is not None:
                job.changed.set()
            self._count()

    def _turn_off(self, room: LiveRoom, sid: str, error: str | None) -> None:
        wire = room.framing.pop(sid, None)
        if wire is None:
            return
        for track in room.media.published_tracks():
            if track.peer_id == sid and track.source == "camera":
                room.media.unbind_stand_in(track.sid)
                room.framed_live.discard(track.sid)
        off: dict[str, Any] = {"participant_sid": sid, "state": "off", "by": wire.get("by")}
        if error is not None:
            off["error"] = error
        room.broadcast(messages.framing(off))
        job = self._queue.get(room.name)
        if job is not None:
            job.changed.set()
        self._count()

    def _announce(self, room: LiveRoom, sid: str, state: str, by: dict[str, Any] | None) -> None:
        wire = {"participant_sid": sid, "state": state, "by": by}
        room.framing[sid] = wire
        room.broadcast(messages.framing(wire))

    # --- the worker's side ----------------------------------------------------------------

    def _worker_token(self, job: FramingJob) -> str:
        """A claimed job's worker's join token, used once, right after the claim."""
        return self._tokens.mint(
            job.room,
            job.worker_identity,
            "Auto-framing",
            Grants.framing_worker(),
            WORKER_TOKEN_TTL_S,
        )

    def worker_joined(self, room: LiveRoom, participant: Participant) -> None:
        job = self._queue.get(room.name)
        if job is not None and participant.identity == job.worker_identity:
            if job.state == "claimed":
                job.state = "running"
            job.targets_sent = None  # a (re)joined worker is told everything
            job.changed.set()

    def worker_left(self, room: str) -> None:
        job = self._queue.get(room)
        if job is not None:
            job.changed.set()

    def check_stand_ins(
        self, room: LiveRoom, worker: Participant, stand_ins: dict[str, str]
    ) -> dict[str, str]:
        """The stand-ins of a framing worker's offer that frame a current target; the rest
        are dropped (the SFU then refuses those tracks as undeclared)."""
        job = self._queue.get(room.name)
        if job is None or worker.identity != job.worker_identity or not worker.framer:
            return {}
        targets = {track_sid for track_sid, _ in self._targets(room)}
        return {mid: sid for mid, sid in stand_ins.items() if sid in targets}

    # --- watching a job ---------------------------------------------------------------------

    def _targets(self, room: LiveRoom) -> tuple[tuple[str, str], ...]:
        """(camera track sid, participant sid) of everyone with framing on and a camera."""
        found: list[tuple[str, str]] = []
        for track in room.media.published_tracks():
            if track.source == "camera" and track.peer_id in room.framing:
                found.append((track.sid, track.peer_id))
        return tuple(sorted(found))

    async def _watch(self, job: FramingJob) -> None:
        """Until the job ends: the worker must join in time; one that vanishes is replaced;
        its targets follow the room; a framed camera's first frames turn its state on."""
        config = self._config
        deadline = self._clock() + config.framing_join_timeout_s
        try:
            while job.state != "ended":
                room = self._rooms(job.room)
                if room is None or room.closed:
                    break
                worker = room.by_identity(job.worker_identity)
                if worker is not None and job.state == "claimed":
                    job.state = "running"
                if not room.framing:
                    if job.idle_since is None:
                        job.idle_since = self._clock()
                    if self._clock() - job.idle_since >= config.framing_idle_s:
                        break
                else:
                    job.idle_since = None
                if worker is None and (job.state == "running" or self._claimer_died(job)):
                    if job.claims >= MAX_CLAIMS:
                        self._fail(job, room, job.error or "the framing worker left the room")
                        break
                    log.warning("room %s: framing worker gone; offering the job again", job.room)
                    job.targets_sent = None
                    self._queue.offer(job)
                    deadline = self._clock() + config.framing_join_timeout_s
                    self._back_to_starting(room)
                elif job.state in ("queued", "claimed") and room.framing:
                    if self._clock() > deadline:
                        self._fail(job, room, "no framing worker joined the room in time")
                        break
                    if job.state == "queued" and config.framing_workers == "local":
                        await self._ensure_local_process()
                if worker is not None:
                    self._update_worker(job, room, worker)
                    self._mark_live(room)
                self._count()
                job.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(job.changed.wait(), timeout=WATCH_S)
        finally:
            self._end(job)

    def _update_worker(self, job: FramingJob, room: LiveRoom, worker: Participant) -> None:
        targets = self._targets(room)
        if targets == job.targets_sent:
            return
        job.targets_sent = targets
        room.media.set_subscription(worker.sid, frozenset(sid for sid, _ in targets))
        config = self._config
        worker.send(
            messages.framing_targets(
                [{"track_sid": t, "participant_sid": p} for t, p in targets],
                {
                    "width": config.framing_width,
                    "height": config.framing_height,
                    "max_fps": config.framing_max_fps,
                },
                config.framing_speaker_focus,
            )
        )
        # A camera that changed (a new track after a camera switch) starts over.
        framed = {sid for sid, _ in targets}
        room.framed_live.intersection_update(framed)
        for track_sid, sid in targets:
            wire = room.framing.get(sid)
            if wire is not None and wire["state"] == "on" and track_sid not in room.framed_live:
                self._announce(room, sid, "starting", wire["by"])

    def _mark_live(self, room: LiveRoom) -> None:
        for track_sid, sid in self._targets(room):
            wire = room.framing.get(sid)
            if wire is not None and wire["state"] == "starting" and track_sid in room.framed_live:
                self._announce(room, sid, "on", wire["by"])

    def _back_to_starting(self, room: LiveRoom) -> None:
        room.framed_live.clear()
        for sid, wire in list(room.framing.items()):
            if wire["state"] == "on":
                self._announce(room, sid, "starting", wire["by"])

    def _claimer_died(self, job: FramingJob) -> bool:
        local = self._config.framing_workers == "local"
        return job.state == "claimed" and local and self.local_pid is None

    def _fail(self, job: FramingJob, room: LiveRoom, error: str) -> None:
        log.error("room %s: framing job %s failed: %s", job.room, job.id, error)
        self._metrics.count_framing_error()
        for sid in list(room.framing):
            self._turn_off(room, sid, error)

    def _end(self, job: FramingJob) -> None:
        """The job is over (idle, failed, room closed): send its worker away."""
        job.state = "ended"
        self._queue.remove(job)
        room = self._rooms(job.room)
        if room is not None:
            worker = room.by_identity(job.worker_identity)
            if worker is not None:
                worker.connection.terminate(messages.bye("ended"), 1000)
            for sid in list(room.framing):
                # Framing asked for after the job ended: a new job serves it.
                wire = room.framing.pop(sid)
                room.broadcast(
                    messages.framing({"participant_sid": sid, "state": "off", "by": wire["by"]})
                )
        self._count()
        log.info("room %s: framing job %s ended", job.room, job.id)

    def _count(self) -> None:
        starting = on = 0
        for job in self._queue:
            room = self._rooms(job.room)
            if room is None:
                continue
            for wire in room.framing.values():
                if wire["state"] == "on":
                    on += 1
                else:
                    starting += 1
        self._metrics.set_framings(starting, on)

    # --- the local framing process ----------------------------------------------------------

    async def _ensure_local_process(self) -> None:
        args = ["--server", self.worker_url]
        for address in self._config.sfu_settings().listen_addresses:
            args += ["--rtc-address", address]
        await self._local.ensure(args)

    async def close(self) -> None:
        """Shutdown: end every job, then stop the local process."""
        jobs = list(self._queue)
        for job in jobs:
            job.state = "ended"
            job.changed.set()
        watchers = [job.watcher for job in jobs if job.watcher is not None]
        for watcher in watchers:
            watcher.cancel()
        if watchers:
            await asyncio.gather(*watchers, return_exceptions=True)
        await self._local.stop()
