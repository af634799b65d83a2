"""The command-line flags and checks every worker's ``python -m`` entry point shares.

Each worker keeps its own parser (its prog, description, flags and exit codes); what they
all take the same way is here: the server's address, local addresses for media, the
timeouts, ``--verbose``, and the API key pair, which comes from the environment only
(roomclient/job_client.py); for the pools that serve several rooms at once (the framer, the
transcriber: roomclient/job_pool.py), all their pool's flags. A bad value ends the program
with argparse's exit code 2.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from .job_client import KEY_ENV, SECRET_ENV, key_pair
from .job_pool import MAX_CLAIM_WAIT_S, PoolOptions

MAX_SECONDS = 86400
MAX_ROOMS = 1000  # a pool's --max-rooms

OptionsT = TypeVar("OptionsT", bound=PoolOptions)


def add_rtc_address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rtc-address",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="local address for media (repeatable; default: every non-loopback address)",
    )


def add_poll_interval(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--poll-interval", type=float, default=2.0, metavar="SECONDS")


def add_join_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--join-timeout", type=float, default=10.0, metavar="SECONDS")


def check_url(parser: argparse.ArgumentParser, flag: str, value: str) -> None:
    url = urlsplit(value)
    if url.scheme not in ("http", "https") or not url.netloc:
        parser.error(f"{flag} must be http(s)://host[:port], got {value!r}")


def check_seconds(
    parser: argparse.ArgumentParser, args: argparse.Namespace, names: Iterable[str]
) -> None:
    for name in names:
        if not 0 < getattr(args, name) <= MAX_SECONDS:
            parser.error(f"--{name.replace('_', '-')} must be in (0, {MAX_SECONDS}]")


def api_key_pair(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> tuple[str, str]:
    pair = key_pair(environ)
    if pair is None:
        parser.error(f"the API key pair must be in {KEY_ENV} and {SECRET_ENV}")
    return pair


def apply_verbose(args: argparse.Namespace) -> None:
    if args.verbose:
        logging.basicConfig(level=logging.INFO)


def add_room_pool_flags(parser: argparse.ArgumentParser, *, max_rooms: int, rooms: str) -> None:
    """The flags of a pool that serves several rooms at once (roomclient/job_pool.py):
    ``--server``, ``--max-rooms`` (``rooms``: what the help calls them, "rooms framed at
    once"), the local media addresses, the claim timing, ``--join-timeout`` and ``--verbose``."""
    parser.add_argument("--server", required=True, help="the server, e.g. http://127.0.0.1:8080")
    parser.add_argument(
        "--max-rooms", type=int, default=max_rooms, help=f"{rooms} (default {max_rooms})"
    )
    add_rtc_address(parser)
    add_poll_interval(parser)
    parser.add_argument(
        "--claim-wait",
        type=float,
        default=25.0,
        metavar="SECONDS",
        help="how long the server may hold a claim when it has no job (long polling, <= 30)",
    )
    add_join_timeout(parser)
    parser.add_argument("--verbose", action="store_true")


def room_pool_options(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    environ: Mapping[str, str],
    options: type[OptionsT],
) -> OptionsT:
    """The pool's ``options`` from the flags ``add_room_pool_flags`` added and the API key
    pair in ``environ``, after checking them (argparse's exit 2 for a bad one); turns on
    ``--verbose`` logging. Call it after the worker's own checks."""
    check_url(parser, "--server", args.server)
    if not 1 <= args.max_rooms <= MAX_ROOMS:
        parser.error(f"--max-rooms must be within 1..{MAX_ROOMS}, got {args.max_rooms}")
    if not 0 <= args.claim_wait <= MAX_CLAIM_WAIT_S:
        parser.error(f"--claim-wait must be within 0..{MAX_CLAIM_WAIT_S:.0f}")
    check_seconds(parser, args, ("poll_interval", "join_timeout"))
    key, secret = api_key_pair(parser, environ)
    apply_verbose(args)
    return options(
        url=args.server,
        api_key=key,
        api_secret=secret,
        max_rooms=args.max_rooms,
        rtc_addresses=tuple(args.rtc_address),
        poll_interval_s=args.poll_interval,
        claim_wait_s=args.claim_wait,
        join_timeout_s=args.join_timeout,
    )
