"""API keys (issue 7): who may call the API and mint room tokens, and, per key, the origins
allowed to embed its rooms and the webhook its events go to.

LiveKit's model: every key is a pair (``key``, ``secret``); a room token names its key in
``iss`` and is signed with that key's secret (signaling/tokens.py). The pair in
``credentials.toml`` (or the environment) is the *primary* key: it always works, cannot be
revoked, and is the only one that manages the others. Integrators get keys of their own,
so each can have its own embed origins and webhook, and one can be revoked without
touching the others.

Origins are parsed strictly (``scheme://host[:port]``, https, or http for loopback and
``localhost`` only: a camera page must be a secure context anyway), because they end up in a
``Content-Security-Policy: frame-ancestors`` header and in postMessage origin checks.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from signaling.errors import ErrorCode, SparkleError
from signaling.store import Store

_COLUMNS = "key, secret, name, embed_origins, webhook_url, webhook_secret, created_at, revoked_at"
MAX_NAME_LENGTH = 64
MAX_ORIGINS = 20
MAX_URL_LENGTH = 2048
_LOOPBACK_HOSTS = ("localhost",)
# One DNS label (RFC 1123 section 2.1): letters, digits and inner hyphens, 1 to 63 of them.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class ApiKey:
    key: str
    secret: str
    name: str
    embed_origins: tuple[str, ...]
    webhook_url: str | None
    webhook_secret: str
    created_at: float
    revoked_at: float | None = None
    primary: bool = False

    def to_json(self, *, with_secrets: bool = False) -> dict[str, Any]:
        """The key as the API shows it; the secrets only right after creation."""
        out: dict[str, Any] = {
            "key": self.key,
            "name": self.name,
            "primary": self.primary,
            "embed_origins": list(self.embed_origins),
            "webhook_url": self.webhook_url,
            "created_at": self.created_at,
        }
        if with_secrets:
            out["secret"] = self.secret
            out["webhook_secret"] = self.webhook_secret
        return out


class ApiKeys:
    def __init__(
        self,
        store: Store,
        primary_key: str,
        primary_secret: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._clock = clock
        self._primary = primary_key
        self._cache: dict[str, ApiKey] = {}
        existing = self._load(primary_key)
        if existing is None:
            self._insert(self._new(primary_key, primary_secret, "primary", (), None))
        elif existing.secret != primary_secret:
            # The operator changed the primary pair: tokens of the old secret stop working.
            self._store.write(
                "UPDATE api_keys SET secret = ? WHERE key = ?", (primary_secret, primary_key)
            )
        self._cache.clear()

    @property
    def primary_key(self) -> str:
        return self._primary

    # --- reading ------------------------------------------------------------------------

    def get(self, key: str) -> ApiKey | None:
        """A key that is not revoked, or None."""
        cached = self._cache.get(key)
        if cached is None:
            cached = self._load(key)
            if cached is None or cached.revoked_at is not None:
                return None
            self._cache[key] = cached
        return cached

    def secret_for(self, key: str) -> str | None:
        """The signing secret of a live key (for token verification), or None."""
        found = self.get(key)
        return None if found is None else found.secret

    def authenticate(self, key: str, secret: str) -> ApiKey | None:
        """The key when ``secret`` is its secret (constant-time compare), else None."""
        found = self.get(key)
        expected = found.secret if found is not None else "x" * max(1, len(secret))
        ok = hmac.compare_digest(secret.encode(), expected.encode())
        return found if ok and found is not None else None

    def list(self) -> list[ApiKey]:
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at"
        )
        return [self._row(row) for row in rows]

    # --- writing ------------------------------------------------------------------------

    def create(
        self, name: str, embed_origins: Sequence[str] = (), webhook_url: str | None = None
    ) -> ApiKey:
        created = self._new(
            "API" + secrets.token_urlsafe(12),
            secrets.token_urlsafe(32),
            check_name(name),
            parse_origins(embed_origins),
            None if webhook_url is None else parse_webhook_url(webhook_url),
        )
        self._insert(created)
        return created

    def update(
        self,
        key: str,
        *,
        name: str | None = None,
        embed_origins: Sequence[str] | None = None,
        webhook_url: str | None = None,
        clear_webhook: bool = False,
    ) -> ApiKey:
        current = self.get(key)
        if current is None:
            raise SparkleError(ErrorCode.NOT_FOUND, f"no API key {key[:64]!r}")
        updated = replace(
            current,
            name=current.name if name is None else check_name(name),
            embed_origins=(
                current.embed_origins if embed_origins is None else parse_origins(embed_origins)
            ),
            webhook_url=(
                None
                if clear_webhook
                else current.webhook_url
                if webhook_url is None
                else parse_webhook_url(webhook_url)
            ),
        )
        self._store.write(
            "UPDATE api_keys SET name = ?, embed_origins = ?, webhook_url = ? WHERE key = ?",
            (updated.name, json.dumps(list(updated.embed_origins)), updated.webhook_url, key),
        )
        self._cache.pop(key, None)
        return updated

    def rotate_webhook_secret(self, key: str) -> ApiKey:
        """A new webhook signing secret (the old one stops at once): how a key's secret is
        (re)obtained, the primary key's included, whose secret was never shown."""
        current = self.get(key)
        if current is None:
            raise SparkleError(ErrorCode.NOT_FOUND, f"no API key {key[:64]!r}")
        updated = replace(current, webhook_secret="whsec_" + secrets.token_urlsafe(32))
        self._store.write(
            "UPDATE api_keys SET webhook_secret = ? WHERE key = ?", (updated.webhook_secret, key)
        )
        self._cache.pop(key, None)
        return updated

    def revoke(self, key: str) -> None:
        if key == self._primary:
            raise SparkleError(ErrorCode.CONFLICT, "the primary API key cannot be revoked")
        if self.get(key) is None:
            raise SparkleError(ErrorCode.NOT_FOUND, f"no API key {key[:64]!r}")
        self._store.write("UPDATE api_keys SET revoked_at = ? WHERE key = ?", (self._clock(), key))
        self._cache.pop(key, None)

    # --- rows ---------------------------------------------------------------------------

    def _new(
        self,
        key: str,
        secret: str,
        name: str,
        origins: tuple[str, ...],
        webhook_url: str | None,
    ) -> ApiKey:
        return ApiKey(
            key=key,
            secret=secret,
            name=name,
            embed_origins=origins,
            webhook_url=webhook_url,
            webhook_secret="whsec_" + secrets.token_urlsafe(32),
            created_at=self._clock(),
            primary=key == self._primary,
        )

    def _insert(self, item: ApiKey) -> None:
        self._store.write(
            f"INSERT INTO api_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.key,
                item.secret,
                item.name,
                json.dumps(list(item.embed_origins)),
                item.webhook_url,
                item.webhook_secret,
                item.created_at,
                item.revoked_at,
            ),
        )

    def _load(self, key: str) -> ApiKey | None:
        rows = self._store.query(f"SELECT {_COLUMNS} FROM api_keys WHERE key = ?", (key,))
        return self._row(rows[0]) if rows else None

    def _row(self, row: tuple[Any, ...]) -> ApiKey:
        key, secret, name, origins, url, webhook_secret, created_at, revoked_at = row
        return ApiKey(
            key=str(key),
            secret=str(secret),
            name=str(name),
            embed_origins=tuple(str(o) for o in json.loads(origins)),
            webhook_url=None if url is None else str(url),
            webhook_secret=str(webhook_secret),
            created_at=float(created_at),
            revoked_at=None if revoked_at is None else float(revoked_at),
            primary=str(key) == self._primary,
        )


def check_name(name: object) -> str:
    if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME_LENGTH:
        raise SparkleError(
            ErrorCode.BAD_MESSAGE, f"'name' must be 1 to {MAX_NAME_LENGTH} characters"
        )
    return name.strip()


def parse_origins(values: Sequence[object]) -> tuple[str, ...]:
    """Origins in their serialised form (RFC 6454 section 6.2), deduplicated, in order."""
    if isinstance(values, str) or len(values) > MAX_ORIGINS:
        raise SparkleError(
            ErrorCode.BAD_MESSAGE, f"'embed_origins' must be a list of at most {MAX_ORIGINS}"
        )
    return tuple(dict.fromkeys(parse_origin(value) for value in values))


def parse_origin(value: object) -> str:
    """``scheme://host[:port]`` with nothing else; https, or http for loopback only."""
    where = f"embed origin {str(value)[:80]!r}"
    if not isinstance(value, str) or len(value) > 255:
        raise SparkleError(ErrorCode.BAD_MESSAGE, f"{where} must be a string of origin form")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise SparkleError(ErrorCode.BAD_MESSAGE, f"{where} is not a URL origin") from None
    host = parts.hostname or ""
    if (
        parts.scheme not in ("https", "http")
        or not host
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
        or parts.password is not None
        or "*" in value
    ):
        raise SparkleError(
            ErrorCode.BAD_MESSAGE,
            f"{where} must be scheme://host[:port] (no path, wildcard or credentials)",
        )
    host = _checked_host(host, where)
    if parts.scheme == "http" and not _is_loopback(host):
        raise SparkleError(
            ErrorCode.BAD_MESSAGE, f"{where}: http is only allowed for localhost and loopback"
        )
    default = 443 if parts.scheme == "https" else 80
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + ("" if port in (None, default) else f":{port}")


def _checked_host(host: str, where: str) -> str:
    """A DNS name (IDNA-encoded, RFC 5890) or an IP literal, nothing else: an origin ends up
    in a CSP header, where a space, quote, comma or semicolon would add sources or whole
    directives (``https://a.example https://evil.example`` would let evil frame the room)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise SparkleError(
            ErrorCode.BAD_MESSAGE, f"{where}: the host is not a valid name"
        ) from None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise SparkleError(ErrorCode.BAD_MESSAGE, f"{where}: the host is not a valid name")
    return ascii_host


def parse_webhook_url(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URL_LENGTH:
        raise SparkleError(ErrorCode.BAD_MESSAGE, "'webhook_url' must be an http(s) URL")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise SparkleError(ErrorCode.BAD_MESSAGE, "'webhook_url' is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment:
        raise SparkleError(
            ErrorCode.BAD_MESSAGE, "'webhook_url' must be an http(s) URL without a fragment"
        )
    if parts.username is not None or parts.password is not None:
        raise SparkleError(ErrorCode.BAD_MESSAGE, "'webhook_url' must not carry credentials")
    return value


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
