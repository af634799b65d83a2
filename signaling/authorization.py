"""Who is calling the HTTP API: the API key pair (HTTP Basic, RFC 7617) or a room token
(``Bearer``, RFC 6750). Shared by every module that serves API routes."""

from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web

from signaling.appkeys import CONFIG
from signaling.errors import ErrorCode, SparkleError


def require_api_key(request: web.Request) -> None:
    """Check HTTP Basic ``api_key:api_secret`` in constant time (checklist item 7)."""
    config = request.app[CONFIG]
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise SparkleError(ErrorCode.UNAUTHORIZED)
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SparkleError(ErrorCode.UNAUTHORIZED) from None
    key, sep, secret = decoded.partition(b":")
    # Both comparisons always run, so timing does not tell which half was wrong.
    key_ok = hmac.compare_digest(key, config.api_key.encode())
    secret_ok = hmac.compare_digest(secret, config.api_secret.encode())
    if not (sep and key_ok and secret_ok):
        raise SparkleError(ErrorCode.UNAUTHORIZED)


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 section 2.1), or
    None when the request uses another scheme or none."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None
