"""``create_app(config)``: the whole server as one aiohttp application, no globals.

Everything the app owns is built here and torn down by it: the room registry says goodbye
to clients on shutdown (before aiohttp cancels the WebSocket handlers), the database closes
on cleanup, so after ``runner.cleanup()`` nothing of ours is left running.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from signaling import (
    api,
    chat_files,
    health,
    keys_api,
    meetings_api,
    openapi,
    pages,
    recordings_api,
    webhooks_api,
    worker_jobs_api,
)
from signaling.api_keys import ApiKeys
from signaling.appkeys import API_KEYS, CONFIG, METRICS, ROOMS, STORE, TOKENS, WS_ADMISSION
from signaling.config import Config, ConfigError
from signaling.metrics import CONTENT_TYPE, Metrics
from signaling.registry import RoomRegistry
from signaling.session import websocket_handler
from signaling.store import Store
from signaling.tokens import TokenService
from signaling.ws_admission import WsAdmission

log = logging.getLogger("sparkle.app")

# API bodies are small JSON objects; aiohttp's 1 MiB default is far more than any needs.
MAX_REQUEST_BYTES = 64 * 1024


def create_app(config: Config, *, web_root: Path | None = None) -> web.Application:
    """The application; ``config`` must carry credentials (``ensure_credentials``).

    ``web_root`` overrides ``config.web_path`` (tests serve a directory of their own).
    """
    if not config.api_key or not config.api_secret:
        raise ConfigError("no API key pair: call config.ensure_credentials() first")
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[CONFIG] = config
    metrics = Metrics()
    app[METRICS] = metrics
    store = Store(config.database_path)
    app[STORE] = store
    api_keys = ApiKeys(store, config.api_key, config.api_secret)
    app[API_KEYS] = api_keys
    tokens = TokenService(
        config.api_key,
        config.api_secret,
        max_ttl_s=config.token_max_ttl_s,
        clock_skew_s=config.clock_skew_s,
        lookup=api_keys.secret_for,
    )
    app[TOKENS] = tokens
    _add_rooms(app, config, store, tokens, metrics, api_keys)
    api.setup(app)
    health.setup(app)
    chat_files.setup(app)
    recordings_api.setup(app)
    meetings_api.setup(app)
    keys_api.setup(app)
    webhooks_api.setup(app)
    # The transcriber's (issue 5) and the framing worker's (issue 6) job queues.
    worker_jobs_api.setup(app, f"{api.PREFIX}/transcriber/jobs", lambda a: a[ROOMS].transcription)
    worker_jobs_api.setup(app, f"{api.PREFIX}/framer/jobs", lambda a: a[ROOMS].framing)
    openapi.setup(app)
    app.router.add_get("/metrics", metrics_handler)
    pages.setup(app, web_root or config.web_path)
    app.on_shutdown.append(_close_rooms)
    app.on_startup.append(_start_retention)
    app.on_startup.append(_start_webhooks)
    app.cleanup_ctx.append(_store_lifetime)
    return app


def _add_rooms(
    app: web.Application,
    config: Config,
    store: Store,
    tokens: TokenService,
    metrics: Metrics,
    api_keys: ApiKeys,
) -> None:
    rooms = RoomRegistry(config, store, tokens, metrics, api_keys=api_keys)
    app[ROOMS] = rooms
    app[WS_ADMISSION] = WsAdmission(config)
    metrics.set_snapshot_provider(rooms.snapshot)
    app.router.add_get(f"{api.PREFIX}/ws", websocket_handler)


async def _close_rooms(app: web.Application) -> None:
    rooms = app.get(ROOMS)
    if rooms is not None:
        await rooms.close()


async def _start_retention(app: web.Application) -> None:
    """Meetings (with their transcripts) and recordings older than
    recording_retention_days are deleted, hourly; the room registry's close() stops it."""
    app[ROOMS].retention.start()


async def _start_webhooks(app: web.Application) -> None:
    """Webhook deliveries (issue 7), resuming what a previous run left pending; the room
    registry's close() stops them."""
    app[ROOMS].webhooks.start()


async def _store_lifetime(app: web.Application) -> AsyncIterator[None]:
    yield
    app[STORE].close()


async def metrics_handler(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
