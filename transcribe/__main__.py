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
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from roomclient import worker_arguments as flags
from roomclient.job_client import KEY_ENV, SECRET_ENV

from .model_settings import ModelSettings, ModelUnavailable
from .pool import MAX_CLAIM_WAIT_S, PoolOptions, run_pool
from .speech_pool import SpeechPool

MODEL_UNAVAILABLE = 5
MAX_WORKERS = 64
MAX_ROOMS = 1000


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
    parser.add_argument("--server", required=True, help="the server, e.g. http://127.0.0.1:8080")
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
    parser.add_argument(
        "--max-rooms", type=int, default=8, help="rooms transcribed at once (default 8)"
    )
    flags.add_rtc_address(parser)
    flags.add_poll_interval(parser)
    parser.add_argument(
        "--claim-wait",
        type=float,
        default=25.0,
        metavar="SECONDS",
        help="how long the server may hold a claim when it has no job (long polling, <= 30)",
    )
    flags.add_join_timeout(parser)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    flags.check_url(parser, "--server", args.server)
    if not 1 <= args.workers <= MAX_WORKERS:
        parser.error(f"--workers must be within 1..{MAX_WORKERS}, got {args.workers}")
    if not 1 <= args.max_rooms <= MAX_ROOMS:
        parser.error(f"--max-rooms must be within 1..{MAX_ROOMS}, got {args.max_rooms}")
    if not 0 <= args.claim_wait <= MAX_CLAIM_WAIT_S:
        parser.error(f"--claim-wait must be within 0..{MAX_CLAIM_WAIT_S:.0f}")
    flags.check_seconds(parser, args, ("poll_interval", "join_timeout"))
    for name in ("model", "device", "compute_type"):
        if not getattr(args, name).strip():
            parser.error(f"--{name.replace('_', '-')} must not be empty")
    key, secret = flags.api_key_pair(parser, environ)
    flags.apply_verbose(args)
    pool = PoolOptions(
        url=args.server,
        api_key=key,
        api_secret=secret,
        max_rooms=args.max_rooms,
        rtc_addresses=tuple(args.rtc_address),
        poll_interval_s=args.poll_interval,
        claim_wait_s=args.claim_wait,
        join_timeout_s=args.join_timeout,
    )
    model = ModelSettings(
        model=args.model.strip(), device=args.device.strip(), compute_type=args.compute_type
    )
    return WorkerOptions(pool=pool, model=model, workers=args.workers)


async def _main(options: WorkerOptions) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
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
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv, dict(os.environ))
    return asyncio.run(_main(options))


if __name__ == "__main__":
    sys.exit(main())
