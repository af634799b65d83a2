"""Recorder benchmark: Sparkle's recorder (no decoding) against a decode + re-encode recorder.

    python -m benchmarks.recorder_bench [--quick] [--streams N] [--seconds T] [--out FILE]

In one run, against the real Sparkle server (signaling.app.create_app, in this process, on
127.0.0.1) with N publishers (each a pre-encoded 640x480@30 VP8 ~1 Mbit/s camera + an Opus
microphone, in their own process: benchmarks/room_publishers.py): (a) the CPU of the real
recorder worker (``python -m recorder ... --record-now``) recording every track for T s,
then (b) the same for the transcoding baseline (benchmarks/transcoding_recorder.py). Prints
per-stream CPU (% of one core) for both, the ratio, and the frames each wrote; ``--out``
replaces the recorder results section of that file. See docs/benchmarks.md for the method.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import secrets
import shlex
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from signaling.app import create_app
from signaling.appkeys import TOKENS
from signaling.config import load
from signaling.tokens import Grants

from . import report
from .recording_side import SideResult, measure_side
from .sfu_bench import machine

BEGIN = "<!-- recorder_bench results: begin (generated, do not edit by hand) -->"
END = "<!-- recorder_bench results: end -->"
ROOT = Path(__file__).resolve().parent.parent
ROOM = "bench-recorder"
TARGET_PER_STREAM = 0.02  # of one core (issue 4)
PUBLISHERS_READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Plan:
    streams: int
    warmup_s: float
    window_s: float
    clip_s: float


FULL = Plan(streams=4, warmup_s=5.0, window_s=30.0, clip_s=4.0)
QUICK = Plan(streams=1, warmup_s=0.5, window_s=1.5, clip_s=1.0)


@dataclass(frozen=True)
class Results:
    plan: Plan
    sides: list[SideResult]  # [recorder, transcoder]
    started: datetime.datetime
    seconds: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    @property
    def ratio(self) -> float:
        recorder, transcoder = self.sides
        return transcoder.per_stream_cores / max(recorder.per_stream_cores, 1e-9)

    @property
    def ratio_at_30fps(self) -> float:
        """The same with each side's CPU scaled to the frames it should have written."""
        recorder, transcoder = self.sides
        return transcoder.per_full_stream_cores / max(recorder.per_full_stream_cores, 1e-9)


@contextlib.asynccontextmanager
async def sparkle_server(data_dir: Path) -> AsyncIterator[tuple[str, web.Application]]:
    """The whole Sparkle app on 127.0.0.1 and a free port, media on loopback."""
    config = load(
        env={},
        overrides={
            "data_dir": str(data_dir),
            "api_key": "APIbench" + secrets.token_hex(4),
            "api_secret": secrets.token_urlsafe(32),
            "rtc_listen_addresses": "127.0.0.1",
            "ice_servers": "",
        },
    )
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        await runner.cleanup()


async def run(plan: Plan, *, log: bool = True) -> Results:
    started = datetime.datetime.now(datetime.UTC)
    t0 = time.monotonic()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="recorder-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with sparkle_server(tmp / "data") as (url, app):
            tokens = app[TOKENS]
            publisher_grants = Grants(
                room_join=True, can_publish_sources=frozenset({"camera", "microphone"})
            )
            publisher_tokens = [
                tokens.mint(ROOM, f"publisher-{i}", f"Publisher {i}", publisher_grants, 3600)
                for i in range(plan.streams)
            ]
            publishers = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "benchmarks.room_publishers",
                "--url",
                url,
                "--clip-s",
                str(plan.clip_s),
                cwd=str(ROOT),
                env={**os.environ, "SPARKLE_BENCH_TOKENS": json.dumps(publisher_tokens)},
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            try:
                assert publishers.stdout is not None
                line = await asyncio.wait_for(
                    publishers.stdout.readline(), PUBLISHERS_READY_TIMEOUT_S
                )
                if line.strip() != b"READY":
                    raise RuntimeError(f"the publishers did not start: {line!r}")
                _log(log, f"{plan.streams} publishers connected")
                sides = []
                for name, argv in _commands(url, tmp).items():
                    token = tokens.mint(
                        ROOM, f"rec-{name}", "Recorder", Grants.recording_worker(), 3600
                    )
                    side = await measure_side(
                        name,
                        argv,
                        {"SPARKLE_RECORDER_TOKEN": token},
                        tmp / name,
                        streams=plan.streams,
                        warmup_s=plan.warmup_s,
                        window_s=plan.window_s,
                        publishers_pid=publishers.pid,
                        cwd=ROOT,
                    )
                    sides.append(side)
                    _log(log, f"{name}: {side.recorder.cores:.3f} cores")
            finally:
                if publishers.stdin is not None:
                    publishers.stdin.close()
                try:
                    await asyncio.wait_for(publishers.wait(), 15)
                except TimeoutError:
                    publishers.kill()
                    await publishers.wait()
    return Results(plan, sides, started, time.monotonic() - t0, load_before, os.getloadavg())


def _commands(url: str, tmp: Path) -> dict[str, list[str]]:
    return {
        "recorder": [
            sys.executable, "-m", "recorder", "--url", url, "--room", ROOM,
            "--recording-id", "RC_bench", "--out", str(tmp / "recorder"),
            "--record-now", "--rtc-address", "127.0.0.1",
        ],
        "transcoder": [
            sys.executable, "-m", "benchmarks.transcoding_recorder",
            "--url", url, "--out", str(tmp / "transcoder"),
        ],
    }  # fmt: skip


def _log(enabled: bool, text: str) -> None:
    if enabled:
        print(text, file=sys.stderr, flush=True)


def _pct(cores: float) -> str:
    return f"{cores * 100:.2f}%"


def _mean_min(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    return f"{format(sum(values) / len(values), fmt)} / {format(min(values), fmt)}"


def render(results: Results, command: str) -> list[str]:
    plan = results.plan
    recorder, transcoder = results.sides
    per_stream = recorder.per_stream_cores
    verdict = "met" if per_stream <= TARGET_PER_STREAM else "not met"
    lines = [
        f"Run {results.started:%Y-%m-%d %H:%M} UTC, {results.seconds:.0f} s: `{command}`",
        "",
        f"Machine: {machine()}. Load average (1/5/15 min) before "
        f"{'/'.join(f'{x:.2f}' for x in results.load_before)}, after "
        f"{'/'.join(f'{x:.2f}' for x in results.load_after)}.",
        "",
        f"{plan.streams} publishers, each a 640x480@30 VP8 camera (~1 Mbit/s) and an Opus "
        f"microphone; each recorder records all {2 * plan.streams} tracks, "
        f"{plan.warmup_s:g} s warm-up after every track's first frame, then a "
        f"{plan.window_s:g} s CPU window. A stream = one publisher's VP8 video + its Opus "
        f"audio.",
        "",
        "| target | wanted | measured | |",
        "|---|---|---|---|",
        f"| recorder CPU per recorded 640x480 VP8 stream | <= {_pct(TARGET_PER_STREAM)} of "
        f"one core | {_pct(per_stream)} ({results.ratio:.1f}x less than transcoding) "
        f"| {verdict} |",
        "",
        "| recorder | process cores | per stream (% of one core) "
        "| per stream scaled to 30 fps | RSS MiB "
        "| video fps written per stream (mean / min) | video written / recorded time "
        "| video packets | audio packets/s per stream | decoded frames queued at stop "
        "| publishers' cores | server cores | machine busy cores |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for side in results.sides:
        video, audio = side.video, side.audio
        backlog = str(side.backlog) if side.name == "transcoder" else "n/a (no decoder)"
        lines.append(
            f"| {side.name} | {side.recorder.cores:.3f} | {_pct(side.per_stream_cores)} "
            f"| {_pct(side.per_full_stream_cores)} | {side.recorder.rss_bytes / 2**20:.0f} "
            f"| {_mean_min([f.fps for f in video], '.1f')} "
            f"| {_mean_min([f.coverage * 100 for f in video], '.0f')} % "
            f"| {sum(f.packets for f in video)} in {len(video)} files "
            f"| {_mean_min([f.fps for f in audio], '.1f')} "
            f"| {backlog} | {side.publishers.cores:.3f} | {side.driver.cores:.3f} "
            f"| {side.recorder.machine_cores:.2f} |"
        )
    lines += [
        "",
        f"Ratio transcoding / Sparkle recorder, CPU per stream: **{results.ratio:.1f}x** "
        f"({_pct(transcoder.per_stream_cores)} vs {_pct(per_stream)} of one core); "
        f"**{results.ratio_at_30fps:.1f}x** with each side's CPU scaled to 30 written fps "
        f"({_pct(transcoder.per_full_stream_cores)} vs {_pct(recorder.per_full_stream_cores)}).",
    ]
    errors = sum(f.decode_errors for s in results.sides for f in s.files)
    if errors:
        lines += ["", f"Decode errors in the first frames of the written video: {errors}."]
    behind = [f for f in transcoder.video if f.fps < 0.9 * 30]
    # A frame or two in the queue at SIGTERM is the one being decoded, not a backlog.
    if behind or transcoder.backlog > 30 * plan.streams:
        lines += [
            "",
            f"The transcoding recorder fell behind: {len(behind)} of {len(transcoder.video)} "
            f"video files below 27 fps, {transcoder.backlog} decoded frames still queued "
            f"at stop. It drops rather than queues: its event loop, busy encoding, reads the "
            f"sockets late, packets are lost and aiortc's jitter buffer discards the incomplete "
            f"frames, so its CPU figure covers fewer frames than the recorder's (see the "
            f"scaled column).",
        ]
    return lines


def write(path: Path, section: list[str]) -> None:
    report.replace_section(path, section, BEGIN, END, "Recorder")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for smoke tests")
    parser.add_argument("--streams", type=int, help=f"publishers (default {FULL.streams})")
    parser.add_argument("--seconds", type=float, help=f"CPU window (default {FULL.window_s:g})")
    parser.add_argument("--out", type=Path, help="markdown file whose results section to replace")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.streams is not None:
        if not 1 <= args.streams <= 32:
            parser.error("--streams must be in 1..32")
        plan = Plan(args.streams, plan.warmup_s, plan.window_s, plan.clip_s)
    if args.seconds is not None:
        if not 0 < args.seconds <= 600:
            parser.error("--seconds must be in (0, 600]")
        plan = Plan(plan.streams, plan.warmup_s, args.seconds, plan.clip_s)
    results = asyncio.run(run(plan))
    command = "python -m benchmarks.recorder_bench " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    section = render(results, command.strip())
    print("\n".join(section))
    if args.out is not None:
        write(args.out, section)


if __name__ == "__main__":
    main()
