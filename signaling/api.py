"""The HTTP API under /api/v1 (docs/api.md; the reference is ``GET /api/v1/openapi.json``).

Room management needs the API key pair as HTTP Basic credentials (RFC 7617). Two endpoints
need none, because the home page uses them: ``POST /api/v1/meetings`` ("New meeting") and
``POST /api/v1/rooms/{name}/guest-token`` (joining through a meeting link); both are
quota-limited per client IP. Tokens travel in JSON bodies and URL fragments, never in query
strings, so they never reach an access log or a ``Referer`` header.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from signaling import chat_files, client_address
from signaling.appkeys import API_KEYS, CONFIG, ROOMS, STORE, TOKENS
from signaling.authorization import require_api_key
from signaling.client_address import parse_networks
from signaling.commands import MAX_PASSWORD_LENGTH
from signaling.errors import ErrorCode, SparkleError
from signaling.ip_quota import IpQuota
from signaling.password import verify_password
from signaling.request_body import read_object
from signaling.room_name import is_valid_room_name, random_room_name
from signaling.store import RoomRecord
from signaling.tokens import MAX_NAME_LENGTH, Grants

log = logging.getLogger("sparkle.api")

PREFIX = "/api/v1"
MAX_METADATA_BYTES = 4096
MEETING_QUOTA: web.AppKey[IpQuota] = web.AppKey("meeting_quota", IpQuota)
GUEST_QUOTA: web.AppKey[IpQuota] = web.AppKey("guest_quota", IpQuota)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup(app: web.Application) -> None:
    """Add the API routes and the error middleware to ``app`` (CONFIG etc. already set)."""
    config = app[CONFIG]
    app[MEETING_QUOTA] = IpQuota(config.meetings_per_minute, 60.0)
    app[GUEST_QUOTA] = IpQuota(config.guest_tokens_per_minute, 60.0)
    # First: every later step (limits, logs) sees the client behind a trusted proxy.
    proxies = parse_networks(config.trusted_proxies.split(","))
    if proxies:
        app.middlewares.append(client_address.middleware(proxies))
    app.middlewares.append(error_middleware)
    app.router.add_get("/healthz", healthz)
    app.router.add_post(f"{PREFIX}/rooms", create_room)
    app.router.add_get(f"{PREFIX}/rooms", list_rooms)
    app.router.add_get(f"{PREFIX}/rooms/{{name}}", get_room)
    app.router.add_delete(f"{PREFIX}/rooms/{{name}}", delete_room)
    app.router.add_post(f"{PREFIX}/rooms/{{name}}/tokens", create_token)
    app.router.add_get(f"{PREFIX}/rooms/{{name}}/audit", room_audit)
    app.router.add_post(f"{PREFIX}/rooms/{{name}}/guest-token", create_guest_token)
    app.router.add_post(f"{PREFIX}/meetings", create_meeting)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every API error becomes ``{"error": {"code", "message"}}`` from the catalogue."""
    try:
        return await handler(request)
    except SparkleError as exc:
        return _error_response(exc)
    except web.HTTPException as exc:
        if not _is_api(request.path) or exc.status < 400:
            raise
        code = {
            401: ErrorCode.UNAUTHORIZED,
            404: ErrorCode.NOT_FOUND,
            413: ErrorCode.MESSAGE_TOO_LARGE,
        }.get(exc.status)
        if code is None:
            body = {"error": {"code": ErrorCode.BAD_MESSAGE.value, "message": exc.reason}}
            return web.json_response(body, status=exc.status, headers=_allow_header(exc))
        return _error_response(SparkleError(code))
    except Exception:
        # A bug: the client gets a reference to quote, the log gets the traceback.
        ref = secrets.token_hex(4)
        log.exception("unhandled error in %s %s (ref %s)", request.method, request.path, ref)
        return _error_response(
            SparkleError(ErrorCode.INTERNAL_ERROR, f"internal error (ref {ref})")
        )


def _is_api(path: str) -> bool:
    return path.startswith(PREFIX + "/") or path in ("/healthz", "/readyz", "/metrics")


def _allow_header(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}


def _error_response(exc: SparkleError) -> web.Response:
    headers = {}
    if exc.code is ErrorCode.UNAUTHORIZED:
        headers["WWW-Authenticate"] = 'Basic realm="sparkle", charset="UTF-8"'
    return web.json_response(exc.to_http(), status=exc.spec.http_status, headers=headers)


def _room_name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not is_valid_room_name(name):
        raise SparkleError(ErrorCode.NOT_FOUND, "no such room")
    return name


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


def base_url(request: web.Request) -> str:
    """Where users reach us: ``public_url`` if configured, else what the request says."""
    configured = request.app[CONFIG].public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


def room_url(request: web.Request, room: str, token: str | None = None) -> str:
    url = f"{base_url(request)}/r/{room}"
    return f"{url}#token={token}" if token else url


def _room_json(request: web.Request, record: RoomRecord | None, name: str) -> dict[str, Any]:
    rooms = request.app.get(ROOMS)
    live = rooms.live_room(name) if rooms is not None else None
    if record is not None:
        body = record.to_json()
    else:
        # A room that exists only because a token for it was used (auto_create_rooms).
        assert live is not None
        body = {
            "name": name,
            "sid": live.sid,
            "created_at": None,
            "max_participants": request.app[CONFIG].max_participants,
            "metadata": {},
            "created_by": "auto",
        }
    if live is not None:
        body["lobby"] = live.settings.lobby
    body["participants"] = live.participant_count if live is not None else 0
    return body


def _display_name(value: Any, *, required: bool) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if required and not name:
        raise SparkleError(ErrorCode.NAME_REQUIRED)
    if len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise SparkleError(ErrorCode.NAME_REQUIRED)
    return name


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def create_room(request: web.Request) -> web.Response:
    # The calling key owns the room: its webhook gets the room's events (issue 7).
    owner = require_api_key(request).key
    config = request.app[CONFIG]
    body = await read_object(
        request, {"name": str, "max_participants": int, "metadata": dict, "lobby": bool}
    )
    max_participants = body.get("max_participants", config.max_participants)
    if not 1 <= max_participants <= config.max_participants:
        raise SparkleError(
            ErrorCode.BAD_MESSAGE,
            f"max_participants must be between 1 and {config.max_participants}",
        )
    metadata = body.get("metadata", {})
    if len(json.dumps(metadata, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
        raise SparkleError(
            ErrorCode.BAD_MESSAGE, f"metadata must be at most {MAX_METADATA_BYTES} bytes as JSON"
        )
    store = request.app[STORE]
    # Off by default here: an API caller builds its own flow (it can mint host tokens);
    # "New meeting" rooms have it on (create_meeting).
    lobby = body.get("lobby", False)
    if "name" in body:
        name = body["name"]
        if not is_valid_room_name(name):
            raise SparkleError(
                ErrorCode.BAD_MESSAGE,
                "name must be 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'",
            )
        record = store.create_room(
            name,
            max_participants=max_participants,
            metadata=metadata,
            lobby=lobby,
            owner_key=owner,
        )
    else:
        record = _create_random_room(
            request, max_participants, metadata, created_by="api", lobby=lobby, owner_key=owner
        )
    return web.json_response(_room_json(request, record, record.name), status=201)


def _create_random_room(
    request: web.Request,
    max_participants: int,
    metadata: dict[str, Any],
    created_by: str,
    lobby: bool,
    owner_key: str,
) -> RoomRecord:
    store = request.app[STORE]
    for _ in range(5):  # ~45 bits per name: a collision is already improbable
        try:
            return store.create_room(
                random_room_name(),
                max_participants=max_participants,
                metadata=metadata,
                created_by=created_by,
                lobby=lobby,
                owner_key=owner_key,
            )
        except SparkleError as exc:
            if exc.code is not ErrorCode.CONFLICT:
                raise
    raise SparkleError(ErrorCode.INTERNAL_ERROR, "could not pick a free room name")


async def list_rooms(request: web.Request) -> web.Response:
    require_api_key(request)
    records = {r.name: r for r in request.app[STORE].list_rooms()}
    rooms = request.app.get(ROOMS)
    names = list(records)
    if rooms is not None:
        names += sorted(live.name for live in rooms.live_rooms() if live.name not in records)
    return web.json_response(
        {"rooms": [_room_json(request, records.get(name), name) for name in names]}
    )


async def get_room(request: web.Request) -> web.Response:
    require_api_key(request)
    name = _room_name(request)
    record = request.app[STORE].get_room(name)
    rooms = request.app.get(ROOMS)
    if record is None and (rooms is None or rooms.live_room(name) is None):
        raise SparkleError(ErrorCode.NOT_FOUND, f"no room named {name!r}")
    return web.json_response(_room_json(request, record, name))


async def delete_room(request: web.Request) -> web.Response:
    require_api_key(request)
    name = _room_name(request)
    existed = request.app[STORE].delete_room(name)
    rooms = request.app.get(ROOMS)
    live = rooms.live_room(name) if rooms is not None else None
    if not existed and live is None:
        raise SparkleError(ErrorCode.NOT_FOUND, f"no room named {name!r}")
    if rooms is not None and live is not None:
        await rooms.close_room(name)
    # Files shared in its chat go with it (after the meeting closed: no upload is under way).
    chat_files.delete_room_files(request.app[STORE], request.app[CONFIG].data_path, name)
    log.info("room deleted: %s", name)
    return web.Response(status=204)


async def room_audit(request: web.Request) -> web.Response:
    """The room's moderation log (signaling/moderation.py), oldest first, newest 1000."""
    require_api_key(request)
    name = _room_name(request)
    store = request.app[STORE]
    entries = store.audit_log(name)
    rooms = request.app.get(ROOMS)
    live = rooms.live_room(name) if rooms is not None else None
    # A deleted room's log stays readable: it is the record of what happened in it.
    if not entries and store.get_room(name) is None and live is None:
        raise SparkleError(ErrorCode.NOT_FOUND, f"no room named {name!r}")
    return web.json_response({"room": name, "entries": [e.to_json() for e in entries]})


async def create_token(request: web.Request) -> web.Response:
    caller = require_api_key(request)
    config = request.app[CONFIG]
    name = _room_name(request)
    body = await read_object(
        request,
        {"identity": str, "name": str, "host": bool, "ttl_s": int, "grants": dict},
    )
    if "identity" not in body:
        raise SparkleError(ErrorCode.BAD_MESSAGE, "field 'identity' is required")
    if not config.auto_create_rooms and request.app[STORE].get_room(name) is None:
        raise SparkleError(ErrorCode.NOT_FOUND, f"no room named {name!r}")
    if body.get("host") and "grants" in body:
        raise SparkleError(ErrorCode.BAD_MESSAGE, "give either 'host' or 'grants', not both")
    if "grants" in body:
        try:
            grants = Grants.from_claim(body["grants"])
        except ValueError as exc:
            raise SparkleError(ErrorCode.BAD_MESSAGE, f"grants: {exc}") from None
    else:
        grants = Grants.host() if body.get("host") else Grants.participant()
    ttl_s = body.get("ttl_s", config.host_token_ttl_s)
    tokens = request.app[TOKENS]
    # Signed with the caller's own key: revoking that key ends its tokens too (issue 7).
    token = tokens.mint(
        name, body["identity"], body.get("name", ""), grants, ttl_s, api_key=caller.key
    )
    verified = tokens.verify(token)
    return web.json_response(
        {
            "token": token,
            "room": name,
            "identity": verified.identity,
            "expires_at": verified.expires_at,
            "url": room_url(request, name, token),
        }
    )


async def create_meeting(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    if not request.app[MEETING_QUOTA].allow(_client(request)):
        raise SparkleError(ErrorCode.RATE_LIMITED, "too many new meetings; try again in a minute")
    body = await read_object(request, {"name": str})
    display_name = _display_name(body.get("name", ""), required=False)
    # Issue 3: a meeting link can travel far, so its room has the lobby on (config
    # meeting_lobby): nobody but the host gets in unless the host lets them, and there is
    # no bypass while no host is present (unlike Jitsi's jitsi-meet#7676).
    record = _create_random_room(
        request,
        config.max_participants,
        {},
        created_by="meeting",
        lobby=config.meeting_lobby,
        owner_key=request.app[API_KEYS].primary_key,
    )
    identity = "host-" + secrets.token_hex(6)
    token = request.app[TOKENS].mint(
        record.name, identity, display_name, Grants.host(), config.host_token_ttl_s
    )
    log.info("meeting created: %s", record.name)
    return web.json_response(
        {
            "room": _room_json(request, record, record.name),
            "host_token": token,
            "host_url": room_url(request, record.name, token),
            "guest_url": room_url(request, record.name),
        },
        status=201,
    )


async def create_guest_token(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    # Counted before the room lookup, so guessing room names is quota-limited too.
    address = _client(request)
    if not request.app[GUEST_QUOTA].allow(address):
        raise SparkleError(ErrorCode.RATE_LIMITED, "too many guest tokens; try again in a minute")
    name = request.match_info["name"]
    body = await read_object(request, {"name": str, "password": str})
    display_name = _display_name(body.get("name"), required=True)
    password = body.get("password")
    if password is not None and not 1 <= len(password) <= MAX_PASSWORD_LENGTH:
        raise SparkleError(
            ErrorCode.BAD_MESSAGE, f"'password' must be 1 to {MAX_PASSWORD_LENGTH} characters"
        )
    record = request.app[STORE].get_room(name) if is_valid_room_name(name) else None
    live = request.app[ROOMS].live_room(name)
    open_room = record is not None and record.password_hash is None and not (live and live.locked)
    if not open_room:
        await _check_guest_password(request, record, live is not None and live.locked, password)
    identity = "guest-" + secrets.token_hex(6)
    tokens = request.app[TOKENS]
    token = tokens.mint(name, identity, display_name, Grants.guest(), config.guest_token_ttl_s)
    return web.json_response(
        {"token": token, "identity": identity, "expires_at": tokens.verify(token).expires_at}
    )


async def _check_guest_password(
    request: web.Request, record: RoomRecord | None, locked: bool, password: str | None
) -> None:
    """An unknown room, a locked one and one with a password answer alike (issue 3): first
    ``password_required``, then, for any password, ``invalid_token`` unless it is right."""
    if password is None:
        raise SparkleError(ErrorCode.PASSWORD_REQUIRED)
    admission = request.app[ROOMS].admission
    keys = [f"address:{_client(request)}"]
    real = record is not None and record.password_hash is not None and not locked
    stored = record.password_hash if real and record is not None else None
    # Always one scrypt, against a stand-in hash when there is nothing to check: the time
    # taken must not tell an unknown or locked room from a wrong password either.
    loop = asyncio.get_running_loop()
    target = stored or admission.stand_in_hash
    right = await loop.run_in_executor(None, verify_password, password, target)
    if not right or stored is None or admission.attempts.locked_out(keys):
        admission.attempts.fail(keys)
        raise SparkleError(ErrorCode.INVALID_TOKEN)
