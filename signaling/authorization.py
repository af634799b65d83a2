"""Who is calling the HTTP API: the API key pair (HTTP Basic, RFC 7617) or a room token
(``Bearer``, RFC 6750). Shared by every module that serves API routes."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from signaling.api_keys import ApiKey
from signaling.appkeys import API_KEYS
from signaling.errors import ErrorCode, SparkleError


def require_api_key(request: web.Request) -> ApiKey:
    """Check HTTP Basic ``api_key:api_secret`` against the live API keys, in constant time
    (checklist item 7); the caller's key."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise SparkleError(ErrorCode.UNAUTHORIZED)
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SparkleError(ErrorCode.UNAUTHORIZED) from None
    key, sep, secret = decoded.partition(b":")
    try:
        key_text, secret_text = key.decode(), secret.decode()
    except UnicodeDecodeError:
        raise SparkleError(ErrorCode.UNAUTHORIZED) from None
    # The secret is compared even for an unknown key, so timing does not tell which half
    # was wrong (signaling/api_keys.py).
    found = request.app[API_KEYS].authenticate(key_text, secret_text)
    if not sep or found is None:
        raise SparkleError(ErrorCode.UNAUTHORIZED)
    return found


def require_primary_key(request: web.Request) -> ApiKey:
    """The primary key pair only: managing API keys and the workers' job queues. An
    integrator's key (signaling/api_keys.py) gets ``forbidden``."""
    found = require_api_key(request)
    if not found.primary:
        raise SparkleError(ErrorCode.FORBIDDEN, "this needs the primary API key")
    return found


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 section 2.1), or
    None when the request uses another scheme or none."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None
