"""``python -m recorder``: record one room's recording to a directory.

    SPARKLE_RECORDER_TOKEN=... python -m recorder --url http://127.0.0.1:8080 \\
        --room NAME --recording-id RC_x --out DIR [--record-now] [--rtc-address 127.0.0.1]

The join token comes from the environment, never from argv: argv shows in ``ps`` and in
process listings and logs. Exit codes: 0 done (the recording stopped, the server said
``bye``, the socket closed, or SIGTERM/SIGINT), 1 the output could not be written, 2 bad
arguments, 3 could not join (the reason is printed, never the token), 4 the recording
never reached "recording" within ``--start-timeout``.

    SPARKLE_API_KEY=... SPARKLE_API_SECRET=... python -m recorder --pool \\
        --url http://sparkle.example:8080 --work-dir DIR [--rtc-address ADDRESS]

runs a pool worker instead (recorder/pool.py): for a server with ``recorder_workers =
"remote"``, it claims recordings one at a time, records each into ``DIR/<recording id>``,
uploads the files and reports the end, until SIGTERM/SIGINT (the recording under way is
finished and uploaded first). Exit codes: 0 stopped, 2 bad arguments, 3 the API key was
refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from roomclient import worker_arguments as flags
from roomclient.job_client import KEY_ENV, SECRET_ENV

from .pool import PoolOptions, run_pool
from .worker import ExitCode, RecorderOptions, run

TOKEN_ENV = "SPARKLE_RECORDER_TOKEN"


def parse_pool_args(argv: Sequence[str], environ: dict[str, str]) -> PoolOptions:
    """Options of ``--pool`` mode; exits with 2 (argparse) on bad arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m recorder --pool",
        description=f"Record the recordings a Sparkle server (recorder_workers = remote) "
        f"hands out. The API key pair is read from ${KEY_ENV} and ${SECRET_ENV}.",
    )
    parser.add_argument("--pool", action="store_true", required=True)
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8080")
    parser.add_argument("--work-dir", required=True, type=Path, help="where recordings go")
    flags.add_rtc_address(parser)
    flags.add_poll_interval(parser)
    flags.add_join_timeout(parser)
    parser.add_argument("--start-timeout", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument(
        "--keep-files", action="store_true", help="keep local copies after a complete upload"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    flags.check_url(parser, "--url", args.url)
    flags.check_seconds(parser, args, ("poll_interval", "join_timeout", "start_timeout"))
    if args.work_dir.exists() and not args.work_dir.is_dir():
        parser.error(f"--work-dir {args.work_dir} exists and is not a directory")
    key, secret = flags.api_key_pair(parser, environ)
    flags.apply_verbose(args)
    return PoolOptions(
        url=args.url,
        work_dir=args.work_dir,
        api_key=key,
        api_secret=secret,
        rtc_addresses=tuple(args.rtc_address),
        poll_interval_s=args.poll_interval,
        join_timeout_s=args.join_timeout,
        start_timeout_s=args.start_timeout,
        keep_files=args.keep_files,
    )


def parse_args(argv: Sequence[str] | None, environ: dict[str, str]) -> RecorderOptions:
    """Options from ``argv`` and ``environ``; exits with 2 (argparse) on bad arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m recorder",
        description=f"Record a Sparkle room's tracks without decoding. The join token is "
        f"read from ${TOKEN_ENV}.",
    )
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8080")
    parser.add_argument("--room", required=True, help="the room name (the token's room)")
    parser.add_argument("--recording-id", required=True, help="the recording to follow")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument(
        "--record-now",
        action="store_true",
        help="record at once when the server reports no recording state (manual runs)",
    )
    flags.add_rtc_address(parser)
    flags.add_join_timeout(parser)
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="give up (exit 4) if the recording has not started by then",
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    flags.check_url(parser, "--url", args.url)
    for name in ("room", "recording_id"):
        if not getattr(args, name).strip():
            parser.error(f"--{name.replace('_', '-')} must not be empty")
    flags.check_seconds(parser, args, ("join_timeout", "start_timeout"))
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} exists and is not a directory")
    token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        parser.error(f"the join token must be in the environment variable {TOKEN_ENV}")
    flags.apply_verbose(args)
    return RecorderOptions(
        url=args.url,
        room=args.room,
        recording_id=args.recording_id,
        out=args.out,
        token=token,
        record_now=args.record_now,
        rtc_addresses=tuple(args.rtc_address),
        join_timeout_s=args.join_timeout,
        start_timeout_s=args.start_timeout,
    )


async def _main(options: RecorderOptions | PoolOptions) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        if isinstance(options, PoolOptions):
            return await run_pool(options, stop)
        return await run(options, stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--pool" in args:
        pool = parse_pool_args(args, dict(os.environ))
        try:
            pool.work_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            message = f"sparkle-recorder: cannot create {pool.work_dir}: {exc.strerror}"
            print(message, file=sys.stderr)
            return ExitCode.BAD_ARGUMENTS
        return asyncio.run(_main(pool))
    options = parse_args(args, dict(os.environ))
    try:
        options.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"sparkle-recorder: cannot create {options.out}: {exc.strerror}", file=sys.stderr)
        return ExitCode.BAD_ARGUMENTS
    return asyncio.run(_main(options))


if __name__ == "__main__":
    sys.exit(main())
