"""The transcriber's job API (issue 5), API key only (HTTP Basic).

- ``POST /api/v1/transcriber/jobs/claim[?wait=S]``: 204 when no room waits for a
  transcriber (after waiting up to ``S`` seconds, at most 30: long polling, so an idle
  transcriber costs one request per half minute and a new job is picked up at once), else
  200 ``{job_id, room, meeting_id, token}`` with a fresh, short-lived join token carrying the
  ``transcriber`` grant.
- ``POST /api/v1/transcriber/jobs/{id}/done {exit_code, error?}``: the worker left the room
  (0: as asked; anything else: what went wrong). A job still on is offered again.
"""

from __future__ import annotations

from aiohttp import web

from signaling.api import PREFIX
from signaling.appkeys import ROOMS
from signaling.authorization import require_api_key
from signaling.errors import ErrorCode, SparkleError
from signaling.request_body import read_object

JOBS = f"{PREFIX}/transcriber/jobs"
MAX_ERROR_CHARS = 500


def setup(app: web.Application) -> None:
    app.router.add_post(f"{JOBS}/claim", claim_job)
    app.router.add_post(f"{JOBS}/{{id}}/done", job_done)


async def claim_job(request: web.Request) -> web.Response:
    require_api_key(request)
    raw = request.query.get("wait", "0")
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= 3600:  # also refuses nan
        raise SparkleError(ErrorCode.BAD_MESSAGE, "query parameter 'wait' must be 0 to 30 seconds")
    claimed = await request.app[ROOMS].transcription.claim_waiting(wait)
    if claimed is None:
        return web.Response(status=204)
    job, token = claimed
    return web.json_response(
        {"job_id": job.id, "room": job.room, "meeting_id": job.meeting_id, "token": token}
    )


async def job_done(request: web.Request) -> web.Response:
    require_api_key(request)
    body = await read_object(request, {"exit_code": int, "error": str})
    code = body.get("exit_code")
    if code is None or not 0 <= code <= 255:
        raise SparkleError(ErrorCode.BAD_MESSAGE, "'exit_code' must be an integer 0 to 255")
    error = body.get("error")
    error = None if error is None else error[:MAX_ERROR_CHARS]
    if not request.app[ROOMS].transcription.job_done(request.match_info["id"], code, error):
        raise SparkleError(ErrorCode.NOT_FOUND, "no such transcription job (it may have ended)")
    return web.Response(status=204)
