"""Typed application state (aiohttp AppKey): no module globals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from signaling.api_keys import ApiKeys
    from signaling.config import Config
    from signaling.metrics import Metrics
    from signaling.registry import RoomRegistry
    from signaling.store import Store
    from signaling.tokens import TokenService
    from signaling.ws_admission import WsAdmission

CONFIG: web.AppKey[Config] = web.AppKey("config")
STORE: web.AppKey[Store] = web.AppKey("store")
TOKENS: web.AppKey[TokenService] = web.AppKey("tokens")
ROOMS: web.AppKey[RoomRegistry] = web.AppKey("rooms")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
WS_ADMISSION: web.AppKey[WsAdmission] = web.AppKey("ws_admission")
API_KEYS: web.AppKey[ApiKeys] = web.AppKey("api_keys")
