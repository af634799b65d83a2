"""The recorder pool's API (issue 4, ``recorder_workers = "remote"``), API key only.

- ``POST /api/v1/recorder/jobs/claim``: 204 when nothing waits, else 200
  ``{recording_id, room, token}`` with a freshly minted recorder token (signaling/recorder_pool.py
  decides who gets a job).
- ``PUT /api/v1/recordings/{id}/files/{file}``: one file the worker wrote, streamed to a
  hidden temporary file in the recording's folder and renamed into place when complete, so a
  broken upload never leaves half a file under a listed name (rename is atomic within a
  directory, POSIX ``rename(2)``). At most ``recorder_upload_max_bytes``; only while a worker
  holds the job; names as the download accepts them (signaling/recording_files.py).
- ``POST /api/v1/recorder/jobs/{id}/done {exit_code, error?}``: the worker has finished and
  uploaded; the recording is closed (signaling/recording.py ``_watch_remote``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import IO

from aiohttp import web

from signaling.api import PREFIX
from signaling.appkeys import CONFIG, ROOMS
from signaling.authorization import require_primary_key
from signaling.errors import ErrorCode, SparkleError
from signaling.recording_files import is_recording_file
from signaling.request_body import read_object

JOBS = f"{PREFIX}/recorder/jobs"
# Read from the socket and written to disk in pieces of this size (one thread hop each).
CHUNK_BYTES = 256 * 1024
MAX_ERROR_CHARS = 500


def setup(app: web.Application) -> None:
    app.router.add_post(f"{JOBS}/claim", claim_job)
    app.router.add_post(f"{JOBS}/{{id}}/done", job_done)
    app.router.add_put(f"{PREFIX}/recordings/{{id}}/files/{{file}}", upload_file)


async def claim_job(request: web.Request) -> web.Response:
    require_primary_key(request)
    claimed = request.app[ROOMS].recordings.claim_remote()
    if claimed is None:
        return web.Response(status=204)
    job, token = claimed
    return web.json_response({"recording_id": job.recording_id, "room": job.room, "token": token})


async def job_done(request: web.Request) -> web.Response:
    require_primary_key(request)
    body = await read_object(request, {"exit_code": int, "error": str})
    code = body.get("exit_code")
    if code is None or not 0 <= code <= 255:
        raise SparkleError(ErrorCode.BAD_MESSAGE, "'exit_code' must be an integer 0 to 255")
    error = body.get("error")
    if error is not None:
        error = error[:MAX_ERROR_CHARS]
    request.app[ROOMS].recordings.pool.end(request.match_info["id"], code, error)
    return web.Response(status=204)


async def upload_file(request: web.Request) -> web.Response:
    require_primary_key(request)
    recordings = request.app[ROOMS].recordings
    recording_id, name = request.match_info["id"], request.match_info["file"]
    if not is_recording_file(name):
        raise SparkleError(ErrorCode.BAD_MESSAGE, "not a recording file name")
    if recordings.records.get(recording_id) is None:
        raise SparkleError(ErrorCode.NOT_FOUND, "no such recording")
    job = recordings.pool.accepting_files(recording_id)
    if job is None:
        raise SparkleError(ErrorCode.CONFLICT, "no recorder worker holds this recording")
    config = request.app[CONFIG]
    limit = config.recorder_upload_max_bytes
    if request.content_length is not None and request.content_length > limit:
        raise SparkleError(ErrorCode.FILE_TOO_LARGE, f"a file may be at most {limit} bytes")
    folder = job.folder
    if shutil.disk_usage(folder).free < config.recording_min_free_bytes // 2:
        raise SparkleError(ErrorCode.STORAGE_FULL)
    size = await _receive(request, folder, name, limit)
    return web.json_response({"name": name, "size": size}, status=201)


async def _receive(request: web.Request, folder: Path, name: str, limit: int) -> int:
    """Stream the body to ``folder/.upload-*.part``, then rename it to ``folder/name``."""
    temp = folder / f".upload-{secrets.token_hex(8)}.part"
    handle = await asyncio.to_thread(_open_new, temp)
    size = 0
    try:
        with handle:
            async for chunk in request.content.iter_chunked(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise SparkleError(
                        ErrorCode.FILE_TOO_LARGE, f"a file may be at most {limit} bytes"
                    )
                try:
                    await asyncio.to_thread(handle.write, chunk)
                except OSError as exc:
                    raise SparkleError(
                        ErrorCode.STORAGE_FULL, f"the file could not be written: {exc.strerror}"
                    ) from None
        await asyncio.to_thread(os.replace, temp, folder / name)
    except BaseException:
        # A refused, broken or cancelled upload (client gone) leaves nothing behind.
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return size


def _open_new(path: Path) -> IO[bytes]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")
