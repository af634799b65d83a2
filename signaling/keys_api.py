"""The API keys API (issue 7; signaling/api_keys.py).

- ``GET /api/v1/keys``: every live key (primary key only). Secrets are never listed.
- ``POST /api/v1/keys {name, embed_origins?, webhook_url?}``: a new key (primary key only);
  201 with its ``secret`` and ``webhook_secret``, shown this once.
- ``GET /api/v1/keys/{key}``, ``PATCH /api/v1/keys/{key} {name?, embed_origins?,
  webhook_url?}`` (``webhook_url: null`` removes it): the primary key, or the key itself (an
  integrator manages its own embed origins and webhook).
- ``POST /api/v1/keys/{key}/webhook-secret``: a new webhook signing secret, shown once (the
  primary key, or the key itself); the old one stops signing at once.
- ``DELETE /api/v1/keys/{key}``: revoke (primary key only; the primary key itself cannot
  be). Its room tokens stop working at once.
"""

from __future__ import annotations

from aiohttp import web

from signaling.api import PREFIX
from signaling.api_keys import ApiKey, parse_origins
from signaling.appkeys import API_KEYS
from signaling.authorization import require_api_key, require_primary_key
from signaling.errors import ErrorCode, SparkleError
from signaling.request_body import read_object

KEYS = f"{PREFIX}/keys"
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "embed_origins": list,
    "webhook_url": (str, type(None)),
}


def setup(app: web.Application) -> None:
    app.router.add_get(KEYS, list_keys)
    app.router.add_post(KEYS, create_key)
    app.router.add_get(f"{KEYS}/{{key}}", get_key)
    app.router.add_patch(f"{KEYS}/{{key}}", update_key)
    app.router.add_delete(f"{KEYS}/{{key}}", revoke_key)
    app.router.add_post(f"{KEYS}/{{key}}/webhook-secret", rotate_webhook_secret)


async def list_keys(request: web.Request) -> web.Response:
    require_primary_key(request)
    keys = request.app[API_KEYS].list()
    return web.json_response({"keys": [key.to_json() for key in keys]})


async def create_key(request: web.Request) -> web.Response:
    require_primary_key(request)
    body = await read_object(request, _FIELDS)
    if "name" not in body:
        raise SparkleError(ErrorCode.BAD_MESSAGE, "missing field 'name'")
    created = request.app[API_KEYS].create(
        body["name"],
        parse_origins(body.get("embed_origins", [])),
        body.get("webhook_url"),
    )
    return web.json_response(created.to_json(with_secrets=True), status=201)


def _own_or_primary(request: web.Request) -> ApiKey:
    caller = require_api_key(request)
    wanted = request.match_info["key"]
    if not caller.primary and caller.key != wanted:
        raise SparkleError(ErrorCode.FORBIDDEN, "a key may only manage itself")
    found = request.app[API_KEYS].get(wanted)
    if found is None:
        raise SparkleError(ErrorCode.NOT_FOUND, "no such API key")
    return found


async def get_key(request: web.Request) -> web.Response:
    return web.json_response(_own_or_primary(request).to_json())


async def update_key(request: web.Request) -> web.Response:
    found = _own_or_primary(request)
    body = await read_object(request, _FIELDS)
    if not body:
        raise SparkleError(ErrorCode.BAD_MESSAGE, "nothing to change")
    origins = body.get("embed_origins")
    url = body.get("webhook_url")
    updated = request.app[API_KEYS].update(
        found.key,
        name=body.get("name"),
        embed_origins=None if origins is None else parse_origins(origins),
        webhook_url=url,
        clear_webhook="webhook_url" in body and url is None,
    )
    return web.json_response(updated.to_json())


async def rotate_webhook_secret(request: web.Request) -> web.Response:
    found = _own_or_primary(request)
    rotated = request.app[API_KEYS].rotate_webhook_secret(found.key)
    return web.json_response({"key": rotated.key, "webhook_secret": rotated.webhook_secret})


async def revoke_key(request: web.Request) -> web.Response:
    require_primary_key(request)
    request.app[API_KEYS].revoke(request.match_info["key"])
    return web.Response(status=204)
