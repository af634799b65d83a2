"""The command-line flags and checks every worker's ``python -m`` entry point shares.

Each worker keeps its own parser (its prog, description, flags and exit codes); what they
all take the same way is here: the server's address, local addresses for media, the
timeouts, ``--verbose``, and the API key pair, which comes from the environment only
(roomclient/job_client.py). A bad value ends the program with argparse's exit code 2.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from .job_client import KEY_ENV, SECRET_ENV, key_pair

MAX_SECONDS = 86400


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
