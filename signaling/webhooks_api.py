"""The webhook delivery log (issue 7; signaling/webhooks.py).

``GET /api/v1/webhooks/deliveries[?event_id=&limit=]``: the caller key's events (the primary
key sees every key's), newest first, each with its payload and its attempts (number, time,
URL, HTTP status or error, duration). ``limit``: 1 to 500, default 50.
"""

from __future__ import annotations

from aiohttp import web

from signaling.api import PREFIX
from signaling.appkeys import ROOMS
from signaling.authorization import require_api_key
from signaling.errors import ErrorCode, SparkleError
from signaling.webhooks import MAX_LOG_LIMIT

DELIVERIES = f"{PREFIX}/webhooks/deliveries"
DEFAULT_LIMIT = 50
MAX_EVENT_ID_LENGTH = 64


def setup(app: web.Application) -> None:
    app.router.add_get(DELIVERIES, list_deliveries)


async def list_deliveries(request: web.Request) -> web.Response:
    caller = require_api_key(request)
    unknown = set(request.query) - {"event_id", "limit"}
    if unknown:
        raise SparkleError(ErrorCode.BAD_MESSAGE, f"unknown parameter {sorted(unknown)[0]!r}")
    event_id = request.query.get("event_id")
    if event_id is not None and not 0 < len(event_id) <= MAX_EVENT_ID_LENGTH:
        raise SparkleError(ErrorCode.BAD_MESSAGE, "'event_id' must be an event's id")
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LOG_LIMIT:
        raise SparkleError(ErrorCode.BAD_MESSAGE, f"'limit' must be 1 to {MAX_LOG_LIMIT}")
    events = request.app[ROOMS].webhooks.deliveries(
        api_key=None if caller.primary else caller.key, event_id=event_id, limit=int(raw)
    )
    return web.json_response({"events": events})
