"""Share links to a recording (issue 4): a URL that opens one recording without an account,
optionally with a password, always with an expiry.

The link is ``/recordings/<id>#link=<link id>.<secret>``: the secret rides in the fragment,
which browsers never send to a server, so it stays out of access logs and Referer headers;
the page sends it in the ``X-Sparkle-Link`` header. Only a SHA-256 of the secret is stored
(it is 128 random bits: a fast hash is enough, nobody can guess it), the password as a
scrypt hash (signaling/password.py), and wrong passwords count toward the same lockout as
meeting passwords.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from signaling.errors import ErrorCode, SparkleError
from signaling.password import PasswordAttempts, hash_password, verify_password
from signaling.store import Store

HEADER = "X-Sparkle-Link"
PASSWORD_HEADER = "X-Sparkle-Link-Password"
DEFAULT_TTL_S = 7 * 86400  # a week: long enough to pass around, short enough to forget
MAX_TTL_S = 90 * 86400


@dataclass(frozen=True)
class ShareLink:
    id: str
    recording_id: str
    expires_at: float
    has_password: bool


class RecordingLinks:
    def __init__(
        self, store: Store, attempts: PasswordAttempts, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._attempts = attempts
        self._clock = clock

    async def create(
        self, recording_id: str, *, password: str | None, ttl_s: float
    ) -> tuple[ShareLink, str]:
        """A new link; returns it and the fragment value ``<id>.<secret>`` (shown once)."""
        link_id = "RL_" + secrets.token_urlsafe(9)
        secret = secrets.token_urlsafe(16)
        password_hash = None
        if password is not None:
            password_hash = await asyncio.get_running_loop().run_in_executor(
                None, hash_password, password
            )
        expires_at = self._clock() + ttl_s
        self._store.write(
            "INSERT INTO recording_links (id, recording_id, secret_sha256, password_hash,"
            " expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (link_id, recording_id, _sha256(secret), password_hash, expires_at, self._clock()),
        )
        link = ShareLink(link_id, recording_id, expires_at, password_hash is not None)
        return link, f"{link_id}.{secret}"

    async def check(
        self, recording_id: str, value: str, password: str | None, address: str
    ) -> None:
        """Raise ``invalid_token`` (unknown, expired, wrong secret or password, locked out)
        or ``password_required``; return if the link opens ``recording_id``."""
        link_id, _, secret = value.partition(".")
        rows = self._store.query(
            "SELECT recording_id, secret_sha256, password_hash, expires_at"
            " FROM recording_links WHERE id = ?",
            (link_id,),
        )
        if not rows:
            raise SparkleError(ErrorCode.INVALID_TOKEN)
        linked, secret_sha256, password_hash, expires_at = rows[0]
        if (
            linked != recording_id
            or not hmac.compare_digest(str(secret_sha256), _sha256(secret))
            or float(expires_at) <= self._clock()
        ):
            raise SparkleError(ErrorCode.INVALID_TOKEN)
        if password_hash is None:
            return
        keys = [f"link:{link_id}", f"address:{address}"]
        if self._attempts.locked_out(keys):
            raise SparkleError(ErrorCode.INVALID_TOKEN)
        if password is None:
            raise SparkleError(ErrorCode.PASSWORD_REQUIRED)
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, verify_password, password, str(password_hash)):
            self._attempts.fail(keys)
            raise SparkleError(ErrorCode.INVALID_TOKEN)

    def delete_for(self, recording_id: str) -> None:
        self._store.write("DELETE FROM recording_links WHERE recording_id = ?", (recording_id,))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
