"""``python -m transcribe``: the transcription worker.

    SPARKLE_API_KEY=... SPARKLE_API_SECRET=... python -m transcribe \\
        --server http://sparkle.example:8080 [--workers N] [--model tiny.en] \\
        [--device cpu] [--compute-type int8] [--max-rooms 8] [--rtc-address ADDRESS]

claims transcription jobs from the server and captions each room (transcribe/pool.py),
until SIGTERM/SIGINT (every room's last captions are sent and each job reported first).
One process holds one speech pool of ``--workers`` model processes (default: one per core,
each single-threaded: a second thread does not speed tiny.en up) shared by every room.
The API key pair comes from the environment only, never the command line (which any local
user can read in the process list).

Exit codes: 0 stopped, 2 bad arguments, 3 the server refused the API key, 5 the model
cannot be loaded (the reason is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from roomclient import worker_arguments as flags
from roomclient.job_client import KEY_ENV, SECRET_ENV
from roomclient.stop_signals import stop_on_signals

from .model_settings import ModelSettings, ModelUnavailable
from .pool import PoolOptions, run_pool
from .speech_pool import SpeechPool

MODEL_UNAVAILABLE = 5
MAX_WORKERS = 64


@dataclass(frozen=True)
class WorkerOptions:
    pool: PoolOptions
    model: ModelSettings
    workers: int


def parse_args(argv: Sequence[str] | None, environ: dict[str, str]) -> WorkerOptions:
    """Options from ``argv`` and ``environ``; exits with 2 (argparse) on bad arguments."""
    defaults = ModelSettings()
    parser = argparse.ArgumentParser(
        prog="python -m transcribe",
        description=f"Caption the rooms a Sparkle server hands out transcription jobs for. "
        f"The API key pair is read from ${KEY_ENV} and ${SECRET_ENV}.",
    )
    flags.add_room_pool_flags(parser, max_rooms=8, rooms="rooms transcribed at once")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="speech model processes (default: one per core)",
    )
    parser.add_argument(
        "--model", default=defaults.model, help="a size name (tiny.en) or a model directory"
    )
    parser.add_argument("--device", default=defaults.device, help="cpu, cuda or auto")
    parser.add_argument("--compute-type", default=defaults.compute_type, help="int8, float16...")
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= MAX_WORKERS:
        parser.error(f"--workers must be within 1..{MAX_WORKERS}, got {args.workers}")
    for name in ("model", "device", "compute_type"):
        if not getattr(args, name).strip():
            parser.error(f"--{name.replace('_', '-')} must not be empty")
    pool = flags.room_pool_options(parser, args, environ, PoolOptions)
    model = ModelSettings(
        model=args.model.strip(), device=args.device.strip(), compute_type=args.compute_type
    )
    return WorkerOptions(pool=pool, model=model, workers=args.workers)


async def _main(options: WorkerOptions) -> int:
    with stop_on_signals() as stop:
        return await _serve(options, stop)


async def _serve(options: WorkerOptions, stop: asyncio.Event) -> int:
    speech = SpeechPool(options.model, options.workers)
    try:
        try:
            await speech.start()
        except ModelUnavailable as exc:
            print(f"sparkle-transcriber: {exc}", file=sys.stderr)
            return MODEL_UNAVAILABLE
        return await run_pool(options.pool, speech, stop)
    finally:
        await speech.close()


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv, dict(os.environ))
    return asyncio.run(_main(options))


if __name__ == "__main__":
    sys.exit(main())
