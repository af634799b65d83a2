"""Recordings (issue 4): hosts start, pause, resume and stop them; a worker process records.

The server never touches media for a recording. ``start`` checks the disk, stores a row,
mints a short-lived token with the ``recorder`` grant and starts ``python -m recorder`` (its
own process, recorder/), which joins the room through the public protocol as a hidden
participant and writes every track without decoding. The token goes to the worker in its
environment, never in argv (argv is world-readable in ``ps``). The worker follows the room's
``recording`` messages, which everyone gets: pause and resume are gaps in its files; stop
makes it close its files and leave.

A worker that dies is a failed recording, not a failed meeting: its files up to then stay
playable (recorder/track_writer.py), the room is told, and ``sparkle_recorder_errors``
counts it. While anything records, the free disk is watched: below half of
``recording_min_free_bytes`` the recording is stopped cleanly rather than left to hit a full
disk.

With ``recorder_workers = "remote"`` the server starts no process: the recording becomes a
job that a pool worker (``python -m recorder --pool``, any machine) claims, records, uploads
and reports (signaling/recorder_pool.py, signaling/recorder_jobs_api.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signaling import messages
from signaling.config import Config
from signaling.errors import ErrorCode, SparkleError
from signaling.metrics import Metrics
from signaling.password import PasswordAttempts
from signaling.recorder_pool import RecorderPool, RemoteJob
from signaling.recording_export import ExportJobs
from signaling.recording_links import RecordingLinks
from signaling.recording_store import RecordingRecord, RecordingStore
from signaling.store import Store
from signaling.tokens import Grants, TokenService

if TYPE_CHECKING:
    from signaling.rooms import LiveRoom

log = logging.getLogger(__name__)

# The worker's join token is used once, at its join, a second or two after it is minted.
WORKER_TOKEN_TTL_S = 120
# After a stop, a worker that ignores SIGTERM this long is killed.
KILL_AFTER_S = 3.0
# How often the free disk space is checked while something records.
DISK_CHECK_S = 5.0


@dataclass(eq=False)
class LiveRecording:
    id: str
    room: str
    folder: Path
    started_at: float
    by: dict[str, Any] | None  # {sid, name} of the host, None for auto_record
    state: str = "recording"  # recording | paused | stopped | failed
    process: asyncio.subprocess.Process | None = None
    watcher: asyncio.Task[None] | None = None
    job: RemoteJob | None = None  # recorder_workers = "remote": the pool's job instead
    error: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def to_wire(self) -> dict[str, Any]:
        by = None if self.by is None else {"sid": self.by["sid"], "name": self.by["name"]}
        return {"id": self.id, "state": self.state, "started_at": self.started_at, "by": by}


class RecordingService:
    def __init__(
        self,
        config: Config,
        store: Store,
        tokens: TokenService,
        metrics: Metrics,
        rooms: Callable[[str], LiveRoom | None],
        attempts: PasswordAttempts,
        *,
        clock: Callable[[], float] = time.time,
        on_finished: Callable[[RecordingRecord], None] | None = None,
    ) -> None:
        self._config = config
        self._records = RecordingStore(store)
        # Issue 7: told when a recording's files are final (the recording_ready webhook).
        self._on_finished = on_finished
        self.links = RecordingLinks(store, attempts, clock)
        self.exports = ExportJobs()
        self.pool = RecorderPool()
        self._tokens = tokens
        self._metrics = metrics
        self._rooms = rooms
        self._clock = clock
        self._live: dict[str, LiveRecording] = {}
        self._monitor: asyncio.Task[None] | None = None
        # Where the worker reaches this server; the CLI and the tests set the real one.
        self.worker_url = config.local_url
        self._interrupted()

    @property
    def records(self) -> RecordingStore:
        return self._records

    def current(self, room: str) -> LiveRecording | None:
        return self._live.get(room)

    def wire(self, room: str) -> dict[str, Any] | None:
        live = self._live.get(room)
        return None if live is None else live.to_wire()

    # --- control --------------------------------------------------------------------------

    async def start(self, room: LiveRoom, by: dict[str, Any] | None) -> LiveRecording:
        if room.name in self._live:
            raise SparkleError(ErrorCode.CONFLICT, "this meeting is already being recorded")
        base = self._config.recordings_path
        base.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(base).free < self._config.recording_min_free_bytes:
            raise SparkleError(ErrorCode.STORAGE_FULL)
        recording_id = "RC_" + secrets.token_urlsafe(9)
        folder = base / room.name / recording_id
        folder.mkdir(parents=True)
        live = LiveRecording(recording_id, room.name, folder, self._clock(), by)
        started_by = "auto" if by is None else str(by.get("identity", by.get("name", "")))
        self._records.add(
            RecordingRecord(
                id=recording_id,
                room=room.name,
                state="recording",
                started_at=live.started_at,
                ended_at=None,
                started_by=started_by,
                folder=str(folder),
                bytes=0,
                error=None,
            )
        )
        self._live[room.name] = live
        if self._config.recorder_workers == "remote":
            live.job = self.pool.add(live.id, live.room, live.folder)
            live.watcher = asyncio.create_task(self._watch_remote(live))
            return self._started(live)
        try:
            live.process = await self._spawn(live)
        except OSError as exc:
            log.error("room %s: the recorder did not start: %s", room.name, exc)
            self._metrics.count_recorder_error()
            live.state, live.error = "failed", "the recorder could not be started"
            self._finish(live, size=0)
            raise SparkleError(
                ErrorCode.INTERNAL_ERROR, "the recorder could not be started"
            ) from None
        live.watcher = asyncio.create_task(self._watch(live))
        return self._started(live)

    def _started(self, live: LiveRecording) -> LiveRecording:
        self._metrics.set_recordings_active(len(self._live))
        if self._monitor is None or self._monitor.done():
            self._monitor = asyncio.create_task(self._watch_disk())
        log.info("room %s: recording %s started", live.room, live.id)
        self._announce(live)
        return live

    def _worker_token(self, room: str, recording_id: str) -> str:
        return self._tokens.mint(
            room,
            "recorder-" + recording_id,
            "Recorder",
            Grants.recording_worker(),
            WORKER_TOKEN_TTL_S,
        )

    def claim_remote(self) -> tuple[RemoteJob, str] | None:
        """For a pool worker: the oldest waiting recording and a fresh join token for it.
        Synchronous, so two claims never get the same job (see RecorderPool.claim)."""
        job = self.pool.claim()
        if job is None:
            return None
        log.info("room %s: recording %s claimed by a remote worker", job.room, job.recording_id)
        return job, self._worker_token(job.room, job.recording_id)

    async def _spawn(self, live: LiveRecording) -> asyncio.subprocess.Process:
        token = self._worker_token(live.room, live.id)
        env = {**os.environ, "SPARKLE_RECORDER_TOKEN": token}
        # The worker gathers ICE candidates on the addresses the media plane listens on
        # (aioice skips 127.0.0.1 unless asked: a loopback-only deployment would otherwise
        # give the worker no candidate at all).
        addresses = [
            arg
            for address in self._config.sfu_settings().listen_addresses
            for arg in ("--rtc-address", address)
        ]
        # The worker's own log goes beside its files: what went wrong stays with the
        # recording it concerns.
        worker_log = await asyncio.to_thread(open, live.folder / "recorder.log", "ab")
        with worker_log:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "recorder",
                "--url",
                self.worker_url,
                "--room",
                live.room,
                "--recording-id",
                live.id,
                "--out",
                str(live.folder),
                *addresses,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=worker_log,
                stderr=worker_log,
            )

    def set_paused(self, room: str, paused: bool) -> LiveRecording:
        live = self._require(room)
        wanted = "paused" if paused else "recording"
        if live.state != wanted:
            live.state = wanted
            self._records.set_state(live.id, wanted)
            self._announce(live)
        return live

    def request_stop(self, room: str) -> LiveRecording | None:
        """Tell everyone (the worker included) the recording stopped; the worker then closes
        its files and leaves. Callers holding the room's lock use this, then ``stop`` outside
        it: the worker's leave takes that lock."""
        live = self._live.get(room)
        if live is not None and live.state in ("recording", "paused"):
            live.state = "stopped"
            self._records.set_state(live.id, "stopped")
            self.pool.cancel(live.id)
            self._announce(live)
        return live

    async def stop(self, room: str) -> LiveRecording | None:
        """Stop ``room``'s recording (if any) and wait until its worker has closed its files."""
        live = self.request_stop(room)
        if live is not None:
            await self._wait_worker(live, self._config.recorder_stop_timeout_s)
        return live

    def _require(self, room: str) -> LiveRecording:
        live = self._live.get(room)
        if live is None or live.state not in ("recording", "paused"):
            raise SparkleError(ErrorCode.CONFLICT, "this meeting is not being recorded")
        return live

    async def _wait_worker(self, live: LiveRecording, grace_s: float) -> None:
        process, watcher = live.process, live.watcher
        if live.job is not None and watcher is not None:
            # A remote worker cannot be signalled: _watch_remote bounds the wait itself.
            await asyncio.wait({watcher}, timeout=grace_s + self._upload_s() + 1.0)
            return
        if process is None or watcher is None:
            return
        done, _ = await asyncio.wait({watcher}, timeout=grace_s)
        if not done:
            log.warning("room %s: recorder %s did not stop; terminating", live.room, live.id)
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            done, _ = await asyncio.wait({watcher}, timeout=KILL_AFTER_S)
        if not done:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.wait({watcher}, timeout=KILL_AFTER_S)

    async def _watch(self, live: LiveRecording) -> None:
        assert live.process is not None
        code = await live.process.wait()
        if live.state != "stopped" or code != 0:
            # Died on its own, or stopped but could not finish cleanly.
            self._metrics.count_recorder_error()
            live.error = f"the recorder exited with code {code}"
            log.error("room %s: recording %s: %s", live.room, live.id, live.error)
            if live.state != "stopped":
                live.state = "failed"
                self._announce(live)
        self._finish(live, size=_folder_size(live.folder))

    def _upload_s(self) -> float:
        return self._config.recorder_upload_timeout_s

    def _worker_present(self, live: LiveRecording) -> bool:
        room = self._rooms(live.room)
        identity = "recorder-" + live.id
        return room is not None and any(p.identity == identity for p in room.participants.values())

    async def _watch_remote(self, live: LiveRecording) -> None:
        job = live.job
        assert job is not None
        config = self._config
        try:
            error = await self.pool.follow(
                job,
                present=lambda: self._worker_present(live),
                stopped=lambda: live.state == "stopped",
                join_s=config.recorder_join_timeout_s,
                stop_s=config.recorder_stop_timeout_s,
                upload_s=config.recorder_upload_timeout_s,
            )
        finally:
            # Late uploads and reports for this recording are refused from now on.
            self.pool.remove(live.id)
        if error is None and live.state != "stopped":
            error = "the remote recorder ended before the recording was stopped"
        if error is not None:
            self._metrics.count_recorder_error()
            live.error = live.error or error
            log.error("room %s: recording %s: %s", live.room, live.id, error)
            if live.state != "stopped":
                live.state = "failed"
                self._announce(live)
        self._finish(live, size=_folder_size(live.folder))

    def _finish(self, live: LiveRecording, size: int) -> None:
        state = "failed" if live.state == "failed" else "stopped"
        self._records.finish(
            live.id, state=state, ended_at=self._clock(), size=size, error=live.error
        )
        self._metrics.count_recording_bytes(size)
        if self._live.get(live.room) is live:
            del self._live[live.room]
        room = self._rooms(live.room)
        if room is not None and room.recording is not None and room.recording["id"] == live.id:
            room.recording = None
        self._metrics.set_recordings_active(len(self._live))
        live.done.set()
        record = self._records.get(live.id)
        if self._on_finished is not None and record is not None:
            try:
                self._on_finished(record)
            except Exception:
                log.exception("recording %s: the recording_ready hook failed", live.id)

    def _announce(self, live: LiveRecording) -> None:
        room = self._rooms(live.room)
        if room is None:
            return
        wire = live.to_wire()
        room.recording = wire if live.state in ("recording", "paused") else None
        room.broadcast(messages.recording(wire))

    # --- disk, retention, shutdown --------------------------------------------------------

    async def _watch_disk(self) -> None:
        limit = self._config.recording_min_free_bytes // 2
        while self._live:
            await asyncio.sleep(DISK_CHECK_S)
            try:
                free = shutil.disk_usage(self._config.recordings_path).free
            except OSError as exc:
                log.warning("cannot check the recordings disk: %s", exc)
                continue
            if free < limit:
                for live in list(self._live.values()):
                    log.error("room %s: disk nearly full; stopping recording", live.room)
                    live.error = "stopped: the disk was nearly full"
                    await self.stop(live.room)

    def sweep(self) -> int:
        """Delete recordings older than ``recording_retention_days``; how many."""
        cutoff = self._clock() - self._config.recording_retention_days * 86400
        deleted = 0
        for record in self._records.older_than(cutoff):
            if record.state in ("recording", "paused") and record.room in self._live:
                continue
            self.delete(record)
            deleted += 1
        return deleted

    def delete(self, record: RecordingRecord) -> None:
        # The row first: a crash in between leaves files no one lists, never a listed
        # recording whose files are gone.
        self._records.delete(record.id)
        self.links.delete_for(record.id)
        shutil.rmtree(record.folder, ignore_errors=True)

    def _interrupted(self) -> None:
        """Rows a previous run left active (it crashed): their files are what was written."""
        for record in self._records.active():
            self._records.finish(
                record.id,
                state="stopped",
                ended_at=self._clock(),
                size=_folder_size(Path(record.folder)),
                error="interrupted: the server stopped during the recording",
            )

    async def close(self) -> None:
        """Shutdown: every worker was told (bye); wait for them to close their files."""
        lives = list(self._live.values())
        for live in lives:
            live.state = "stopped"
            self.pool.cancel(live.id)
        for live in lives:
            if live.job is not None and live.watcher is not None:
                # The HTTP server no longer takes uploads: what the remote worker recorded
                # stays in its work directory.
                live.watcher.cancel()
                await asyncio.gather(live.watcher, return_exceptions=True)
                if not live.done.is_set():
                    live.error = live.error or (
                        "interrupted: the server stopped before the remote recorder uploaded"
                    )
                    self._finish(live, size=_folder_size(live.folder))
                continue
            await self._wait_worker(live, self._config.recorder_stop_timeout_s)
        await self.exports.close()
        for task in (self._monitor,):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


def _folder_size(folder: Path) -> int:
    total = 0
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            with contextlib.suppress(OSError):
                if path.is_file():
                    total += path.stat().st_size
    return total
