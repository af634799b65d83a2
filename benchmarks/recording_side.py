"""One side of the recorder benchmark: run a recorder process, measure its CPU, check its files.

``measure_side`` starts the process (the real ``python -m recorder`` or the transcoding
baseline), waits until every expected track file has its first frame, lets it warm up, takes
``/proc/<pid>/stat`` CPU over a steady window (benchmarks/cpu_meter.py), then stops it with
SIGTERM (both flush and close their files) and reads every file back with PyAV.

Frames written are counted in the files themselves, the same way for both sides: per video
file, packets / (stop - the moment the file got its first frame) is the frame rate it kept
up with, and the pts span over that wall span is the share of the recorded time it wrote.
A recorder that falls behind writes fewer frames than the publishers send (30 fps).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from .cpu_meter import CpuSample, CpuUse, between, sample

FILES_TIMEOUT_S = 30.0  # join, ICE, DTLS and the first keyframe of every stream
STOP_TIMEOUT_S = 20.0
POLL_S = 0.05
SOURCE_FPS = 30.0  # benchmarks/clip.py


@dataclass(frozen=True)
class FileStats:
    name: str
    kind: str  # "video" or "audio"
    codec: str
    packets: int
    media_s: float  # last pts - first pts
    wall_s: float  # stop - first frame seen
    decode_errors: int  # video only, first DECODE_CHECK packets

    @property
    def fps(self) -> float:
        return self.packets / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def coverage(self) -> float:
        return self.media_s / self.wall_s if self.wall_s > 0 else 0.0


@dataclass(frozen=True)
class SideResult:
    name: str
    streams: int
    recorder: CpuUse  # the measured recorder process over the window
    publishers: CpuUse  # the publishers' process, same window (context)
    driver: CpuUse  # the benchmark process: the Sparkle server (context)
    window_s: float
    files: list[FileStats]
    exit_code: int | None
    summary: dict[str, Any]  # what the process printed at exit (transcoder: backlog)

    @property
    def per_stream_cores(self) -> float:
        return self.recorder.cores / self.streams

    @property
    def video(self) -> list[FileStats]:
        return [f for f in self.files if f.kind == "video"]

    @property
    def audio(self) -> list[FileStats]:
        return [f for f in self.files if f.kind == "audio"]

    @property
    def video_fps(self) -> float:
        """Mean frame rate written per video file."""
        video = self.video
        return sum(f.fps for f in video) / len(video) if video else 0.0

    @property
    def per_full_stream_cores(self) -> float:
        """Per-stream CPU scaled to the publishers' 30 fps: what keeping up would cost if
        the cost is linear in frames (a recorder that fell behind spent less than that)."""
        return self.per_stream_cores * SOURCE_FPS / max(self.video_fps, 1e-9)

    @property
    def backlog(self) -> int:
        return sum(int(t.get("backlog", 0)) for t in self.summary.get("tracks", []))


async def measure_side(
    name: str,
    argv: Sequence[str],
    env: dict[str, str],
    out: Path,
    *,
    streams: int,
    warmup_s: float,
    window_s: float,
    publishers_pid: int,
    cwd: Path,
) -> SideResult:
    expected = 2 * streams  # a camera and a microphone per publisher
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(cwd),
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout_task = asyncio.create_task(_read_all(process.stdout))
    stderr_task = asyncio.create_task(_read_all(process.stderr))
    first_seen: dict[str, float] = {}
    try:
        async with asyncio.timeout(FILES_TIMEOUT_S):
            while len(first_seen) < expected:
                if process.returncode is not None:
                    raise RuntimeError(f"{name} exited early ({process.returncode})")
                _poll_files(out, first_seen)
                await asyncio.sleep(POLL_S)
        await asyncio.sleep(warmup_s)
        start = _samples(process.pid, publishers_pid)
        await asyncio.sleep(window_s)
        end = _samples(process.pid, publishers_pid)
        _poll_files(out, first_seen)
        stopped_at = time.time()
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
    except BaseException as exc:
        if process.returncode is None:
            process.kill()
            await process.wait()
        err = (await stderr_task).decode(errors="replace")[-2000:]
        if isinstance(exc, Exception):
            seen = sorted(first_seen)
            raise RuntimeError(f"{name} failed: {exc!r}; files: {seen}; stderr: {err}") from exc
        raise
    output = (await stdout_task).decode(errors="replace")
    await stderr_task
    files = _inspect_all(out, first_seen, stopped_at)
    return SideResult(
        name=name,
        streams=streams,
        recorder=between(start[0], end[0]),
        publishers=between(start[1], end[1]),
        driver=between(start[2], end[2]),
        window_s=end[0].wall - start[0].wall,
        files=files,
        exit_code=process.returncode,
        summary=_last_json(output),
    )


def _samples(recorder_pid: int, publishers_pid: int) -> tuple[CpuSample, CpuSample, CpuSample]:
    return sample(recorder_pid), sample(publishers_pid), sample(os.getpid())


def _poll_files(out: Path, first_seen: dict[str, float]) -> None:
    now = time.time()
    with contextlib.suppress(FileNotFoundError):
        for path in out.glob("*.webm"):
            if path.name not in first_seen and path.stat().st_size > 0:
                first_seen[path.name] = now


async def _read_all(stream: asyncio.StreamReader | None) -> bytes:
    return b"" if stream is None else await stream.read()


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                return value
    return {}


# Decoding the whole file would cost the driver seconds per side; the first frames are
# enough to show the written stream is real VP8 that starts at a keyframe.
DECODE_CHECK = 60


def _inspect_all(out: Path, first_seen: dict[str, float], stopped_at: float) -> list[FileStats]:
    return [
        _inspect(path, stopped_at - first_seen[path.name])
        for path in sorted(out.glob("*.webm"))
        if path.name in first_seen
    ]


def _inspect(path: Path, wall_s: float) -> FileStats:
    packets = 0
    errors = 0
    first: float | None = None
    last = 0.0
    with av.open(str(path)) as container:
        stream = container.streams[0]
        kind, codec = stream.type, stream.codec_context.name
        for packet in container.demux(stream):
            if packet.pts is None:
                continue  # the demuxer's flush packet
            at = float(packet.pts * packet.time_base)
            first = at if first is None else min(first, at)
            last = max(last, at)
            packets += 1
            if kind == "video" and packets <= DECODE_CHECK:
                try:
                    packet.decode()
                except av.FFmpegError:
                    errors += 1
    return FileStats(
        name=path.name,
        kind=kind,
        codec=codec,
        packets=packets,
        media_s=last - (first or 0.0),
        wall_s=wall_s,
        decode_errors=errors,
    )
