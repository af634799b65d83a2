"""Export jobs (issue 4): a recording's tracks made into one MP4 for people to watch.

The work is ``python -m recorder.export`` in a process of its own (it decodes and encodes:
never in the server, let alone the SFU). Its stdout is one JSON object per line
(``{"progress": 0.42}``, then ``{"done": true, ...}`` or ``{"error": ..., "exit": N}``); the
job keeps the last progress for ``GET .../export``. The result is ``export-<layout>.mp4`` in
the recording's folder, so it is listed and downloaded like any other file of the recording,
with the same access rules. One export per recording runs at a time; a new request while
one runs returns the running one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LAYOUTS = ("grid", "speaker")
# A line of progress is ~20 bytes; anything much longer is not the exporter talking.
MAX_LINE = 64 * 1024


@dataclass(eq=False)
class ExportJob:
    recording_id: str
    layout: str
    out: Path
    state: str = "running"  # running | done | failed
    progress: float = 0.0
    error: str | None = None
    duration_s: float | None = None
    process: asyncio.subprocess.Process | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "recording_id": self.recording_id,
            "layout": self.layout,
            "state": self.state,
            "progress": round(self.progress, 3),
            "file": self.out.name if self.state == "done" else None,
            "duration": self.duration_s,
            "error": self.error,
        }


class ExportJobs:
    def __init__(self) -> None:
        self._jobs: dict[str, ExportJob] = {}

    def get(self, recording_id: str) -> ExportJob | None:
        return self._jobs.get(recording_id)

    async def start(self, recording_id: str, folder: Path, layout: str) -> ExportJob:
        running = self._jobs.get(recording_id)
        if running is not None and running.state == "running":
            return running
        job = ExportJob(recording_id, layout, folder / f"export-{layout}.mp4")
        job.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "recorder.export",
            "--folder",
            str(folder),
            "--out",
            str(job.out),
            "--layout",
            layout,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=MAX_LINE,
        )
        job.task = asyncio.create_task(self._follow(job))
        self._jobs[recording_id] = job
        return job

    async def _follow(self, job: ExportJob) -> None:
        process = job.process
        assert process is not None and process.stdout is not None
        try:
            async for raw in process.stdout:
                _apply(job, raw)
        except (ValueError, asyncio.LimitOverrunError):
            log.warning("export %s: unreadable progress output", job.recording_id)
        code = await process.wait()
        if code == 0 and job.out.is_file():
            job.state, job.progress = "done", 1.0
        else:
            job.state = "failed"
            job.error = job.error or f"the export exited with code {code}"
            log.error("export of %s failed: %s", job.recording_id, job.error)

    async def close(self) -> None:
        """Shutdown: cancel running exports (the exporter leaves no partial file)."""
        for job in list(self._jobs.values()):
            if job.process is not None and job.state == "running":
                with contextlib.suppress(ProcessLookupError):
                    job.process.terminate()
        tasks = [job.task for job in self._jobs.values() if job.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10.0)


def _apply(job: ExportJob, raw: bytes) -> None:
    try:
        line = json.loads(raw)
    except ValueError:
        return
    if not isinstance(line, dict):
        return
    progress = line.get("progress")
    if isinstance(progress, int | float) and 0.0 <= progress <= 1.0:
        job.progress = float(progress)
    duration = line.get("duration")
    if line.get("done") is True and isinstance(duration, int | float):
        job.duration_s = float(duration)
    error = line.get("error")
    if isinstance(error, str):
        job.error = error[:500]
