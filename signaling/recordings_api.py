"""The recordings API (issue 4): list a room's recordings, fetch one, download its files
with HTTP range requests, delete it, make a share link.

Access: the API key (HTTP Basic), or the room token of one of the room's hosts (``Bearer``;
``room_admin`` or a stored promotion), or, for one recording, its share link
(signaling/recording_links.py: ``X-Sparkle-Link``, and ``X-Sparkle-Link-Password``).
Downloads are served by aiohttp's ``FileResponse``, which answers ``Range`` requests
(RFC 9110 section 14) itself, so a player can seek in a recording without fetching all of
it. File names come from a fixed pattern and are resolved inside the recording's folder
only; anything else is ``not_found``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from signaling import recorder_jobs_api, recording_links
from signaling.api import PREFIX, base_url
from signaling.appkeys import ROOMS
from signaling.authorization import bearer_token, require_api_key
from signaling.commands import MAX_PASSWORD_LENGTH
from signaling.errors import ErrorCode, SparkleError
from signaling.recording_export import LAYOUTS
from signaling.recording_files import CONTENT_TYPES, FILE_NAME, SUFFIXES
from signaling.recording_store import RecordingRecord
from signaling.registry import RoomRegistry
from signaling.request_body import read_object


def setup(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/rooms/{{name}}/recordings", list_recordings)
    app.router.add_get(f"{PREFIX}/recordings/{{id}}", get_recording)
    app.router.add_delete(f"{PREFIX}/recordings/{{id}}", delete_recording)
    app.router.add_get(f"{PREFIX}/recordings/{{id}}/files/{{file}}", download_file)
    app.router.add_post(f"{PREFIX}/recordings/{{id}}/links", create_link)
    app.router.add_post(f"{PREFIX}/rooms/{{name}}/recording", control_recording)
    app.router.add_post(f"{PREFIX}/recordings/{{id}}/export", start_export)
    app.router.add_get(f"{PREFIX}/recordings/{{id}}/export", export_status)
    recorder_jobs_api.setup(app)


def _authorize(request: web.Request, room: str) -> None:
    """The API key, or a bearer room token of a host of ``room``; else 401/403."""
    value = bearer_token(request)
    if value is None:
        require_api_key(request)
        return
    registry = request.app[ROOMS]
    token = registry.tokens.verify(value)
    if token.room != room or not registry.is_host(token):
        raise SparkleError(ErrorCode.FORBIDDEN, "only the room's hosts may see its recordings")


async def _recording(
    request: web.Request, *, links: bool = True
) -> tuple[RoomRegistry, RecordingRecord]:
    registry = request.app[ROOMS]
    record = registry.recordings.records.get(request.match_info["id"])
    link = request.headers.get(recording_links.HEADER) if links else None
    if link is not None:
        # The same answer for an unknown recording as for a bad link: no probing.
        if record is None:
            raise SparkleError(ErrorCode.INVALID_TOKEN)
        password = request.headers.get(recording_links.PASSWORD_HEADER)
        address = request.remote or "unknown"
        await registry.recordings.links.check(record.id, link, password, address)
        return registry, record
    if record is None:
        # Authorised below against the recording's room; an unknown id needs the API key
        # (or a valid token) to learn even that it is unknown.
        value = bearer_token(request)
        if value is not None:
            registry.tokens.verify(value)
        else:
            require_api_key(request)
        raise SparkleError(ErrorCode.NOT_FOUND, "no such recording")
    _authorize(request, record.room)
    return registry, record


def _files(record: RecordingRecord) -> list[dict[str, Any]]:
    folder = Path(record.folder)
    out: list[dict[str, Any]] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return out
    for path in entries:
        if path.is_file() and FILE_NAME.fullmatch(path.name) and path.suffix in SUFFIXES:
            out.append({"name": path.name, "size": path.stat().st_size})
    return out


def _json(record: RecordingRecord) -> dict[str, Any]:
    return {**record.to_json(), "files": _files(record)}


async def list_recordings(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    _authorize(request, name)
    records = request.app[ROOMS].recordings.records.for_room(name)
    return web.json_response({"room": name, "recordings": [_json(r) for r in records]})


async def get_recording(request: web.Request) -> web.Response:
    _registry, record = await _recording(request)
    return web.json_response(_json(record))


async def delete_recording(request: web.Request) -> web.Response:
    registry, record = await _recording(request, links=False)
    live = registry.recordings.current(record.room)
    if live is not None and live.id == record.id:
        raise SparkleError(ErrorCode.CONFLICT, "stop the recording before deleting it")
    registry.recordings.delete(record)
    return web.Response(status=204)


async def download_file(request: web.Request) -> web.StreamResponse:
    _registry, record = await _recording(request)
    name = request.match_info["file"]
    path = Path(record.folder) / name
    if not (FILE_NAME.fullmatch(name) and path.suffix in SUFFIXES and path.is_file()):
        raise SparkleError(ErrorCode.NOT_FOUND, "no such file in this recording")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": CONTENT_TYPES[path.suffix],
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


async def create_link(request: web.Request) -> web.Response:
    """``{password?, expires_in_s?}`` -> 201 ``{id, url, expires_at, password}``; the URL
    carries the secret in its fragment and is shown only here."""
    registry, record = await _recording(request, links=False)
    body = await read_object(request, {"password": str, "expires_in_s": int})
    password = body.get("password")
    if password is not None and not 1 <= len(password) <= MAX_PASSWORD_LENGTH:
        raise SparkleError(
            ErrorCode.BAD_MESSAGE, f"'password' must be 1 to {MAX_PASSWORD_LENGTH} characters"
        )
    ttl = body.get("expires_in_s", recording_links.DEFAULT_TTL_S)
    if not 60 <= ttl <= recording_links.MAX_TTL_S:
        raise SparkleError(
            ErrorCode.BAD_MESSAGE,
            f"'expires_in_s' must be 60 to {recording_links.MAX_TTL_S} seconds",
        )
    link, fragment = await registry.recordings.links.create(record.id, password=password, ttl_s=ttl)
    url = f"{base_url(request)}/recordings/{record.id}#link={fragment}"
    return web.json_response(
        {"id": link.id, "url": url, "expires_at": link.expires_at, "password": link.has_password},
        status=201,
    )


async def control_recording(request: web.Request) -> web.Response:
    """``{action: start|stop|pause|resume}``: the host commands of the WebSocket, for an
    integrator's backend (API key) or a host's token. The meeting must be under way."""
    name = request.match_info["name"]
    _authorize(request, name)
    body = await read_object(request, {"action": str})
    action = body.get("action")
    if action not in ("start", "stop", "pause", "resume"):
        raise SparkleError(
            ErrorCode.BAD_MESSAGE, "'action' must be one of start, stop, pause, resume"
        )
    registry = request.app[ROOMS]
    room = registry.live_room(name)
    if room is None:
        raise SparkleError(ErrorCode.CONFLICT, "nobody is in this meeting: nothing to record")
    recordings = registry.recordings
    async with room.lock:
        if action == "start":
            live = await recordings.start(room, None)
        elif action == "stop":
            current = recordings.current(name)
            if current is None or current.state not in ("recording", "paused"):
                raise SparkleError(ErrorCode.CONFLICT, "this meeting is not being recorded")
            recordings.request_stop(name)
            live = current
        else:
            live = recordings.set_paused(name, action == "pause")
        registry.store.add_audit(
            name,
            actor_identity="api",
            actor_name="API",
            action=f"recording_{action}",
            target_identity=None,
            details={"recording": live.id},
        )
    if action == "stop":
        registry.spawn(_finish(registry, name))
    return web.json_response(live.to_wire())


async def _finish(registry: RoomRegistry, name: str) -> None:
    await registry.recordings.stop(name)


async def start_export(request: web.Request) -> web.Response:
    """``{layout?}`` -> 202 the export job (signaling/recording_export.py); a running one is
    returned as is."""
    registry, record = await _recording(request, links=False)
    body = await read_object(request, {"layout": str})
    layout = body.get("layout", "grid")
    if layout not in LAYOUTS:
        raise SparkleError(ErrorCode.BAD_MESSAGE, "'layout' must be grid or speaker")
    live = registry.recordings.current(record.room)
    if live is not None and live.id == record.id:
        raise SparkleError(ErrorCode.CONFLICT, "stop the recording before exporting it")
    job = await registry.recordings.exports.start(record.id, Path(record.folder), layout)
    return web.json_response(job.to_json(), status=202)


async def export_status(request: web.Request) -> web.Response:
    registry, record = await _recording(request, links=False)
    job = registry.recordings.exports.get(record.id)
    if job is None:
        raise SparkleError(ErrorCode.NOT_FOUND, "no export of this recording was started")
    return web.json_response(job.to_json())
