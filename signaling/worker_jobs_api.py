"""The job API worker pools claim rooms through, API key only (HTTP Basic, RFC 7617).

One shape for every kind of worker that joins rooms over the public protocol
(transcribers, issue 5; framing workers, issue 6), each under its own path:

- ``POST {jobs}/claim[?wait=S]``: 204 when no room waits for such a worker (after waiting
  up to ``S`` seconds, at most 30: long polling, so an idle worker costs one request per
  half minute and a new job is picked up at once), else 200 with the job's fields
  (``job_id``, ``room``, ...) and ``token``, a fresh, short-lived join token carrying the
  worker's grant.
- ``POST {jobs}/{id}/done {exit_code, error?}``: the worker left the room (0: as asked;
  anything else: what went wrong). A job still wanted is offered again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web

from signaling.authorization import require_primary_key
from signaling.errors import ErrorCode, SparkleError
from signaling.request_body import read_object

MAX_ERROR_CHARS = 500


class ClaimedJob(Protocol):
    def to_claim(self) -> dict[str, Any]: ...


class JobService(Protocol):
    async def claim_waiting(self, wait_s: float) -> tuple[ClaimedJob, str] | None: ...

    def job_done(self, job_id: str, exit_code: int, error: str | None) -> bool: ...


def setup(
    app: web.Application, jobs_path: str, service: Callable[[web.Application], JobService]
) -> None:
    async def claim_job(request: web.Request) -> web.Response:
        require_primary_key(request)
        raw = request.query.get("wait", "0")
        try:
            wait = float(raw)
        except ValueError:
            wait = -1.0
        if not 0 <= wait <= 3600:  # also refuses nan
            raise SparkleError(
                ErrorCode.BAD_MESSAGE, "query parameter 'wait' must be 0 to 30 seconds"
            )
        claimed = await service(request.app).claim_waiting(wait)
        if claimed is None:
            return web.Response(status=204)
        job, token = claimed
        return web.json_response({**job.to_claim(), "token": token})

    async def job_done(request: web.Request) -> web.Response:
        require_primary_key(request)
        body = await read_object(request, {"exit_code": int, "error": str})
        code = body.get("exit_code")
        if code is None or not 0 <= code <= 255:
            raise SparkleError(ErrorCode.BAD_MESSAGE, "'exit_code' must be an integer 0 to 255")
        error = body.get("error")
        error = None if error is None else error[:MAX_ERROR_CHARS]
        if not service(request.app).job_done(request.match_info["id"], code, error):
            raise SparkleError(ErrorCode.NOT_FOUND, "no such job (it may have ended)")
        return web.Response(status=204)

    app.router.add_post(f"{jobs_path}/claim", claim_job)
    app.router.add_post(f"{jobs_path}/{{id}}/done", job_done)
