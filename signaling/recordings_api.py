"""The recordings API (issue 4): list a room's recordings, fetch one, download its files
with HTTP range requests, delete it.

Access: the API key (HTTP Basic), or the room token of one of the room's hosts (``Bearer``;
``room_admin`` or a stored promotion). Downloads are served by aiohttp's ``FileResponse``,
which answers ``Range`` requests (RFC 9110 section 14) itself, so a player can seek in a
recording without fetching all of it. File names come from a fixed pattern and are
resolved inside the recording's folder only; anything else is ``not_found``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web

from signaling.api import PREFIX, require_api_key
from signaling.appkeys import ROOMS
from signaling.errors import ErrorCode, SparkleError
from signaling.recording_store import RecordingRecord
from signaling.registry import RoomRegistry

# What the recorder writes (recorder/): track files, its manifest and its log.
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_SUFFIXES = {".webm", ".mkv", ".ogg", ".jsonl", ".log", ".mp4"}
_CONTENT_TYPES = {
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".ogg": "audio/ogg",
    ".mp4": "video/mp4",
    ".jsonl": "application/x-ndjson",
    ".log": "text/plain; charset=utf-8",
}


def setup(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/rooms/{{name}}/recordings", list_recordings)
    app.router.add_get(f"{PREFIX}/recordings/{{id}}", get_recording)
    app.router.add_delete(f"{PREFIX}/recordings/{{id}}", delete_recording)
    app.router.add_get(f"{PREFIX}/recordings/{{id}}/files/{{file}}", download_file)


def _authorize(request: web.Request, room: str) -> None:
    """The API key, or a bearer room token of a host of ``room``; else 401/403."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        require_api_key(request)
        return
    registry = request.app[ROOMS]
    token = registry.tokens.verify(value.strip())
    host = registry.store.host_override(room, token.identity)
    if token.room != room or not (token.grants.room_admin if host is None else host):
        raise SparkleError(ErrorCode.FORBIDDEN, "only the room's hosts may see its recordings")


def _recording(request: web.Request) -> tuple[RoomRegistry, RecordingRecord]:
    registry = request.app[ROOMS]
    record = registry.recordings.records.get(request.match_info["id"])
    if record is None:
        # Authorised below against the recording's room; an unknown id needs the API key
        # (or a valid token) to learn even that it is unknown.
        scheme = request.headers.get("Authorization", "").partition(" ")[0]
        if scheme.lower() != "bearer":
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
        if path.is_file() and _FILE_NAME.fullmatch(path.name) and path.suffix in _SUFFIXES:
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
    _registry, record = _recording(request)
    return web.json_response(_json(record))


async def delete_recording(request: web.Request) -> web.Response:
    registry, record = _recording(request)
    live = registry.recordings.current(record.room)
    if live is not None and live.id == record.id:
        raise SparkleError(ErrorCode.CONFLICT, "stop the recording before deleting it")
    registry.recordings.delete(record)
    return web.Response(status=204)


async def download_file(request: web.Request) -> web.StreamResponse:
    _registry, record = _recording(request)
    name = request.match_info["file"]
    path = Path(record.folder) / name
    if not (_FILE_NAME.fullmatch(name) and path.suffix in _SUFFIXES and path.is_file()):
        raise SparkleError(ErrorCode.NOT_FOUND, "no such file in this recording")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": _CONTENT_TYPES[path.suffix],
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
