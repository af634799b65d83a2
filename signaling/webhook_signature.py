"""Webhook signatures, Standard Webhooks style (https://www.standardwebhooks.com/, its
"Signature scheme" section): three headers on every delivery,

- ``webhook-id``: the event's id (the same on every retry, so a receiver can drop duplicates),
- ``webhook-timestamp``: the attempt's time, integer Unix seconds,
- ``webhook-signature``: ``v1,<base64 of HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>``;
  space-separated when there are several (a receiver accepts any that matches).

The HMAC key is the API key's ``webhook_secret`` as UTF-8 bytes, the whole string with its
``whsec_`` prefix (the Standard Webhooks libraries base64-decode what follows the prefix
instead, so use ``verify`` below, or pass them the secret's bytes).

``verify`` is written to be copied into a receiver as it is: it needs only the standard
library. It refuses a timestamp more than ``tolerance_s`` away from now (a replayed delivery:
the signature covers the timestamp, so an old one cannot be refreshed), and compares in
constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
VERSION = "v1"
# Five minutes, the Standard Webhooks recommendation: longer than any clock drift between
# NTP-synchronised machines plus a delivery's timeout, short enough to make a replay useless.
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """The delivery is not authentic (or too old, or malformed); the message says why."""


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``"{id}.{timestamp}.{body}"``."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode()}"


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one delivery attempt."""
    return {
        ID_HEADER: event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, event_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    *,
    now: float | None = None,
) -> None:
    """Check a delivery: ``headers`` as received (any case), ``body`` the raw bytes, before
    any JSON parsing. Returns None when authentic; raises ``SignatureError`` otherwise."""
    lowered = {name.lower(): value for name, value in headers.items()}
    event_id = lowered.get(ID_HEADER)
    stamp = lowered.get(TIMESTAMP_HEADER)
    given = lowered.get(SIGNATURE_HEADER)
    if not event_id or not stamp or not given:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError("webhook-timestamp is too old or too new (a replay?)")
    expected = signature(secret, event_id, timestamp, body).encode()
    for candidate in given.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return
    raise SignatureError("no webhook-signature matches")
