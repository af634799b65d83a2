"""Readiness: whether this process should be sent new users right now (``GET /readyz``).

``/healthz`` (signaling/api.py) is liveness only: the event loop answers, so a supervisor
that restarts on its failure restarts a hung process and nothing else. Readiness is what a
load balancer or ``docker compose``'s healthcheck routes by: a server whose database does not
answer, or that is shutting down (its rooms are saying goodbye), answers 503 so no new
meeting is sent to it, while the liveness check keeps it from being killed mid-shutdown.
"""

from __future__ import annotations

import logging
import sqlite3

from aiohttp import web

from signaling.appkeys import ROOMS, STORE

log = logging.getLogger(__name__)

PATH = "/readyz"


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, readyz)


async def readyz(request: web.Request) -> web.Response:
    rooms = request.app[ROOMS]
    if rooms.closing:
        return web.json_response({"status": "shutting_down"}, status=503)
    try:
        # A read of the rooms table on the connection every request uses: it fails when the
        # connection was closed, the file is locked past the busy timeout or is corrupt.
        request.app[STORE].query("SELECT 1 FROM rooms LIMIT 1")
    except sqlite3.Error as exc:
        log.warning("readiness: the database does not answer: %s", exc)
        reason = f"database: {exc}"
        return web.json_response({"status": "unavailable", "reason": reason}, status=503)
    return web.json_response({"status": "ready"})
