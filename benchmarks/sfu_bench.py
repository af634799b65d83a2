"""SFU benchmark: Sparkle's RTP forwarding against a naive aiortc MediaRelay server.

    python -m benchmarks.sfu_bench [--quick] [--out docs/benchmarks.md] [--no-profile]

In one run: (1) server CPU for one 640x480@30 VP8 + Opus publisher and N subscribers, in
``forward`` (sfu.room.MediaRoom) and ``relay`` (decode + re-encode) modes; (2) the highest
forwarded packet rate one SFU process sustains with < 1% loss, and the latency the SFU adds
at that load (via SFU minus a direct connection, p50/p99); (3) a py-spy profile of the SFU
at that load. Prints markdown tables; ``--out`` replaces the results section of that file.
See docs/benchmarks.md for the method.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from . import profile, report
from .clip import encode_audio, encode_video
from .loopback import loopback_ice
from .scenarios import CpuRow, Ramp, best_rate, cpu_comparison, packet_rate_ramp

BEGIN = "<!-- sfu_bench results: begin (generated, do not edit by hand) -->"
END = "<!-- sfu_bench results: end -->"


@dataclass(frozen=True)
class Plan:
    counts: tuple[int, ...]
    cpu_warmup_s: float
    cpu_window_s: float
    rates: tuple[float, ...]
    publishers: int
    subscribers: int
    rate_warmup_s: float
    rate_window_s: float
    clip_s: float


FULL = Plan(
    counts=(0, 1, 2, 4, 8, 16),
    cpu_warmup_s=4.0,
    cpu_window_s=10.0,
    rates=(250, 500, 700, 850, 1000, 1150, 1300, 1500, 1750, 2000, 2500, 3000),
    publishers=2,
    subscribers=8,
    rate_warmup_s=2.0,
    rate_window_s=6.0,
    clip_s=4.0,
)
QUICK = Plan(
    counts=(0, 1),
    cpu_warmup_s=0.3,
    cpu_window_s=1.0,
    rates=(100, 200),
    publishers=1,
    subscribers=2,
    rate_warmup_s=0.3,
    rate_window_s=1.0,
    clip_s=1.0,
)


@dataclass(frozen=True)
class Results:
    plan: Plan
    forward: list[CpuRow]
    relay: list[CpuRow]
    ramp: Ramp
    profiled: Ramp | None
    started: datetime.datetime
    seconds: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


async def run(plan: Plan, *, profile_sfu: bool, log: bool = True) -> Results:
    """Run ``plan``; the caller wraps it in ``loopback_ice()`` (load clients on 127.0.0.1)."""
    started = datetime.datetime.now(datetime.UTC)
    t0 = time.monotonic()
    load_before = os.getloadavg()
    video, audio = encode_video(plan.clip_s), encode_audio(plan.clip_s)
    _log(log, f"clip: {len(video.packets)} VP8 frames {video.bitrate / 1e6:.2f} Mbit/s")
    rows = {}
    for mode in ("forward", "relay"):
        rows[mode] = await cpu_comparison(
            mode,
            plan.counts,
            video,
            audio,
            warmup_s=plan.cpu_warmup_s,
            window_s=plan.cpu_window_s,
        )
        _log(log, f"{mode} done")
    forward, relay = rows["forward"], rows["relay"]

    async def ramp_at(rates: tuple[float, ...], profile_last: bool) -> Ramp:
        return await packet_rate_ramp(
            rates,
            publishers=plan.publishers,
            subscribers=plan.subscribers,
            warmup_s=plan.rate_warmup_s,
            window_s=plan.rate_window_s,
            profile_last=profile_last,
        )

    ramp = await ramp_at(plan.rates, False)
    _log(log, "packet-rate ramp done")
    profiled = None
    best = best_rate(ramp.rows)
    if profile_sfu and not profile.available():
        _log(log, "profile skipped: py-spy is not installed (pip install py-spy)")
    if profile_sfu and profile.available():
        # A separate run at the best passing rate: py-spy's own CPU stays out of the table.
        target = best.rate_per_stream if best is not None else plan.rates[0]
        profiled = await ramp_at((target,), True)
        _log(log, "profile done")
    return Results(
        plan,
        forward,
        relay,
        ramp,
        profiled,
        started,
        time.monotonic() - t0,
        load_before,
        os.getloadavg(),
    )


def _log(enabled: bool, text: str) -> None:
    if enabled:
        print(text, file=sys.stderr, flush=True)


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}, aiortc {version('aiortc')}, av {version('av')}, "
        f"aioice {version('aioice')}"
    )


def render(results: Results, command: str) -> list[str]:
    plan = results.plan
    verdicts = report.verdicts(results.forward, results.relay, results.ramp.rows)
    lines = [
        f"Run {results.started:%Y-%m-%d %H:%M} UTC, {results.seconds:.0f} s: `{command}`",
        "",
        f"Machine: {machine()}. Load average (1/5/15 min) before "
        f"{'/'.join(f'{x:.2f}' for x in results.load_before)}, after "
        f"{'/'.join(f'{x:.2f}' for x in results.load_after)}.",
        "",
        "### Targets",
        "",
        *report.verdict_table(verdicts),
        "",
        f"### CPU: one 640x480@30 VP8 + Opus publisher, N subscribers "
        f"({plan.cpu_warmup_s:g} s warm-up, {plan.cpu_window_s:g} s window per N)",
        "",
        *report.cpu_table(results.forward, results.relay),
        "",
        f"### Packet rate and added latency: {plan.publishers} synthetic video streams x "
        f"{plan.subscribers} subscribers ({plan.rate_warmup_s:g} s warm-up, "
        f"{plan.rate_window_s:g} s window per step)",
        "",
        *report.rate_table(results.ramp.rows),
    ]
    profiled = results.profiled
    if profiled is not None and profiled.profile is not None:
        row = profiled.rows[-1] if profiled.rows else None
        lines += [
            "",
            "### Where the SFU's time goes",
            "",
            *report.profile_lines(profiled.profile, row),
        ]
    return lines


def write(path: Path, section: list[str]) -> None:
    report.replace_section(path, section, BEGIN, END, "Results")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for smoke tests")
    parser.add_argument("--out", type=Path, help="markdown file whose results section to replace")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    with loopback_ice():
        results = asyncio.run(run(plan, profile_sfu=not (args.no_profile or args.quick)))
    command = "python -m benchmarks.sfu_bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    section = render(results, command.strip())
    print("\n".join(section))
    if args.out is not None:
        write(args.out, section)


if __name__ == "__main__":
    main()
