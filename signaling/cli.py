"""The ``sparkle`` command: run the server, mint tokens, manage rooms.

    sparkle serve [--config FILE] [--host H] [--port P] [--data-dir D] ...
    sparkle token create --room R --identity I [--name N] [--host] [--ttl 10m]
    sparkle room create [NAME] | list | delete NAME   [--url http://127.0.0.1:8080]
    sparkle key create --name N [--origin O ...] [--webhook URL] | list | revoke KEY
    sparkle transcribe FILE [--format vtt|srt|json|txt] [--out F] [--model M] ...
    sparkle config-doc

Exit codes: 0 success, 1 a runtime failure (server unreachable, API error, port taken),
2 bad configuration or usage (argparse uses 2 as well).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import sqlite3
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from signaling.config import Config, ConfigError, ensure_credentials, load

DEFAULT_URL = "http://127.0.0.1:8080"
_DURATION = re.compile(r"([0-9]+)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class CliError(Exception):
    """A failure to report in one line; ``exit_code`` is what the process returns."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def parse_duration(text: str) -> int:
    """Seconds in ``30s``, ``10m``, ``2h``, ``1d`` or a bare number of seconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use a positive number with s, m, h or d (e.g. 10m)"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparkle", description="Self-hosted video meetings.")
    commands = parser.add_subparsers(dest="command", required=True)

    def config_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", metavar="FILE", help="TOML configuration file")
        p.add_argument("--data-dir", metavar="DIR", help="where the database and keys live")

    serve = commands.add_parser("serve", help="run the server")
    config_flags(serve)
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8080)")
    serve.add_argument("--public-url", help="base URL for links shown to users")
    serve.add_argument("--web-dir", help="directory of the browser client")
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    serve.add_argument("--log-format", choices=("text", "json"))

    token = commands.add_parser("token", help="join tokens").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", help="print a join token")
    config_flags(create)
    create.add_argument("--room", required=True)
    create.add_argument("--identity", required=True)
    create.add_argument("--name", default="", help="display name")
    create.add_argument("--host", action="store_true", help="host (moderator) grants")
    create.add_argument("--ttl", type=parse_duration, default=None, help="e.g. 30s, 10m, 2h, 1d")

    room = commands.add_parser("room", help="rooms, through the HTTP API").add_subparsers(
        dest="action", required=True
    )
    for action in ("create", "list", "delete"):
        p = room.add_parser(action, help=f"{action} rooms")
        config_flags(p)
        p.add_argument("--url", default=os.environ.get("SPARKLE_URL", DEFAULT_URL))
        if action == "create":
            p.add_argument("name", nargs="?", help="room name (random if omitted)")
            p.add_argument("--max-participants", type=int)
        elif action == "delete":
            p.add_argument("name")

    key = commands.add_parser(
        "key", help="API keys for integrators (embed origins, webhooks), through the HTTP API"
    ).add_subparsers(dest="action", required=True)
    key_create = key.add_parser("create", help="a new key pair; its secrets are printed once")
    key_list = key.add_parser("list", help="the live keys, without secrets")
    key_revoke = key.add_parser("revoke", help="revoke a key: its tokens stop working")
    for p in (key_create, key_list, key_revoke):
        config_flags(p)
        p.add_argument("--url", default=os.environ.get("SPARKLE_URL", DEFAULT_URL))
    key_create.add_argument("--name", required=True)
    key_create.add_argument(
        "--origin", action="append", default=[], help="an origin that may embed (repeatable)"
    )
    key_create.add_argument("--webhook", metavar="URL", help="where events are POSTed")
    key_revoke.add_argument("key")

    recording = commands.add_parser(
        "recording", help="recordings, through the HTTP API"
    ).add_subparsers(dest="action", required=True)
    listing = recording.add_parser("list", help="a room's recordings")
    export = recording.add_parser("export", help="make one MP4 of a recording, with progress")
    for p in (listing, export):
        config_flags(p)
        p.add_argument("--url", default=os.environ.get("SPARKLE_URL", DEFAULT_URL))
    listing.add_argument("room")
    export.add_argument("recording_id")
    export.add_argument("--layout", choices=("grid", "speaker"), default="grid")
    export.add_argument("--out", metavar="FILE", help="download the MP4 here when done")

    commands.add_parser(
        "transcribe",
        help="transcribe a media file or a recording folder with Whisper (with a progress bar)",
        add_help=False,
    )
    commands.add_parser("config-doc", help="print docs/configuration.md")
    return parser


def _transcribe(argv: list[str]) -> int:
    """``sparkle transcribe``: the batch transcriber (transcribe/batch_main.py) in a process
    of its own, its options and progress bar as they are. The server never loads a speech
    model in its own process, and this command need not either."""
    import subprocess

    try:
        return subprocess.call([sys.executable, "-m", "transcribe.batch_main", *argv])
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == ["transcribe"]:
        return _transcribe(raw[1:])
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "token":
            return _token_create(args)
        if args.command == "room":
            return _room(args)
        if args.command == "recording":
            return _recording(args)
        if args.command == "key":
            return _key(args)
        from signaling.config_doc import render

        sys.stdout.write(render())
        return 0
    except ConfigError as exc:
        print(f"sparkle: configuration error: {exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"sparkle: {exc}", file=sys.stderr)
        return exc.exit_code


def _load(args: argparse.Namespace, **overrides: Any) -> Config:
    return load(file=args.config, overrides={"data_dir": args.data_dir, **overrides})


def _stored_credentials(args: argparse.Namespace) -> Config:
    """Credentials from the environment/config, else the file ``sparkle serve`` wrote;
    never generates a new pair (that would silently differ from the server's)."""
    config = _load(args)
    if not config.api_key and not (config.data_path / "credentials.toml").exists():
        raise ConfigError(
            "no API credentials: set SPARKLE_API_KEY and SPARKLE_API_SECRET, or run "
            f"`sparkle serve` once (it stores them in {config.data_path / 'credentials.toml'})"
        )
    config, _ = ensure_credentials(config)
    return config


def _serve(args: argparse.Namespace) -> int:
    config = _load(
        args,
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        web_dir=args.web_dir,
        log_level=args.log_level,
        log_format=args.log_format,
    )
    config, creds = ensure_credentials(config)
    # Imported here: `sparkle token create` should not pay for aiohttp and the media stack.
    from aiohttp import web

    from signaling import logging_setup, shutdown
    from signaling.app import create_app

    logging_setup.configure(
        config.log_level, config.log_format, (config.api_secret, config.turn_credential)
    )
    if creds.generated:
        print(
            f"Generated an API key pair.\n  API key:    {creds.api_key}\n"
            f"  API secret: stored in {config.data_path / 'credentials.toml'} (mode 0600)\n"
            "  Try: sparkle token create --room demo --identity alice"
            + (f" --data-dir {args.data_dir}" if args.data_dir else ""),
            flush=True,
        )
    try:
        app = create_app(config)
    except ConfigError as exc:
        raise CliError(f"configuration error: {exc}", exit_code=2) from None
    except (RuntimeError, sqlite3.Error) as exc:  # e.g. a database from a newer Sparkle
        raise CliError(f"cannot open the database {config.database_path}: {exc}") from None
    # Last of all cleanup (aiohttp runs on_cleanup hooks after the cleanup contexts): name
    # any task of ours still running. Only here, where the app is alone on its loop.
    app.on_cleanup.append(shutdown.report_leftovers)
    url = config.public_url or f"http://{_url_host(config.host)}:{config.port}"

    def announce(_message: str) -> None:
        print(f"Sparkle is running at {url}/ (Ctrl-C to stop)", flush=True)

    try:
        # run_app turns SIGINT/SIGTERM into a graceful shutdown: on_shutdown says goodbye to
        # clients, cleanup closes the database, then it returns normally (exit code 0).
        web.run_app(
            app,
            host=config.host,
            port=config.port,
            print=announce,
            access_log_class=logging_setup.AccessLogger,
            shutdown_timeout=5.0,
            handle_signals=True,
        )
    except OSError as exc:
        raise CliError(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from None
    return 0


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _token_create(args: argparse.Namespace) -> int:
    from signaling.errors import SparkleError
    from signaling.tokens import Grants, TokenService

    config = _stored_credentials(args)
    tokens = TokenService(
        config.api_key,
        config.api_secret,
        max_ttl_s=config.token_max_ttl_s,
        clock_skew_s=config.clock_skew_s,
    )
    grants = Grants.host() if args.host else Grants.participant()
    ttl = args.ttl if args.ttl is not None else config.host_token_ttl_s
    try:
        print(tokens.mint(args.room, args.identity, args.name, grants, ttl))
    except SparkleError as exc:
        raise CliError(exc.message, exit_code=2) from None
    return 0


def _room(args: argparse.Namespace) -> int:
    config = _stored_credentials(args)
    base = args.url.rstrip("/") + "/api/v1/rooms"
    if args.action == "create":
        body: dict[str, Any] = {}
        if args.name:
            body["name"] = args.name
        if args.max_participants is not None:
            body["max_participants"] = args.max_participants
        print(json.dumps(_request(config, "POST", base, body), indent=2))
    elif args.action == "list":
        print(json.dumps(_request(config, "GET", base)["rooms"], indent=2))
    else:
        _request(config, "DELETE", f"{base}/{urllib.parse.quote(args.name, safe='')}")
        print(f"deleted room {args.name}")
    return 0


def _key(args: argparse.Namespace) -> int:
    config = _stored_credentials(args)
    base = args.url.rstrip("/") + "/api/v1/keys"
    if args.action == "create":
        body: dict[str, Any] = {"name": args.name, "embed_origins": args.origin}
        if args.webhook:
            body["webhook_url"] = args.webhook
        print(json.dumps(_request(config, "POST", base, body), indent=2))
    elif args.action == "list":
        print(json.dumps(_request(config, "GET", base)["keys"], indent=2))
    else:
        _request(config, "DELETE", f"{base}/{urllib.parse.quote(args.key, safe='')}")
        print(f"revoked key {args.key}")
    return 0


# How often `sparkle recording export` asks for progress, and how long it waits at most.
EXPORT_POLL_S = 0.5
EXPORT_LIMIT_S = 6 * 3600


def _recording(args: argparse.Namespace) -> int:
    config = _stored_credentials(args)
    api = args.url.rstrip("/") + "/api/v1"
    if args.action == "list":
        room = urllib.parse.quote(args.room, safe="")
        print(json.dumps(_request(config, "GET", f"{api}/rooms/{room}/recordings"), indent=2))
        return 0
    base = f"{api}/recordings/{urllib.parse.quote(args.recording_id, safe='')}"
    job = _request(config, "POST", f"{base}/export", {"layout": args.layout})
    deadline = time.monotonic() + EXPORT_LIMIT_S
    while job.get("state") == "running" and time.monotonic() < deadline:
        sys.stderr.write("\r" + progress_bar(float(job.get("progress") or 0.0)))
        sys.stderr.flush()
        time.sleep(EXPORT_POLL_S)
        job = _request(config, "GET", f"{base}/export")
    sys.stderr.write("\r" + progress_bar(float(job.get("progress") or 0.0)) + "\n")
    if job.get("state") != "done":
        raise CliError(f"the export failed: {job.get('error') or job.get('state')}")
    print(f"exported {job['file']} ({job.get('duration')} s)")
    if args.out:
        _download(config, f"{base}/files/{urllib.parse.quote(str(job['file']))}", args.out)
        print(f"saved {args.out}")
    return 0


def progress_bar(fraction: float, width: int = 30) -> str:
    """``[##########--------------------]  33%`` for a fraction in 0..1 (clamped)."""
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width)
    return f"[{'#' * filled}{'-' * (width - filled)}] {fraction * 100:3.0f}%"


def _download(config: Config, url: str, path: str) -> None:
    auth = base64.b64encode(f"{config.api_key}:{config.api_secret}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {auth}"})
    partial = path + ".partial"
    try:
        with urllib.request.urlopen(request, timeout=60) as response, open(partial, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        os.replace(partial, path)  # never a half-written file under the name asked for
    except urllib.error.HTTPError as exc:
        raise CliError(_describe_error(exc)) from None
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise CliError(f"cannot save {path}: {exc}") from None


def _request(
    config: Config, method: str, url: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    auth = base64.b64encode(f"{config.api_key}:{config.api_secret}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise CliError(_describe_error(exc)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CliError(f"cannot reach {url}: {reason}") from None
    if not raw:
        return {}
    result = json.loads(raw)
    if not isinstance(result, dict):
        raise CliError(f"unexpected answer from {url}")
    return result


def _describe_error(exc: urllib.error.HTTPError) -> str:
    try:
        error = json.loads(exc.read())["error"]
        return f"{error['code']}: {error['message']} (HTTP {exc.code})"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {exc.code} {exc.reason}"
    finally:
        exc.close()


if __name__ == "__main__":
    sys.exit(main())
