"""Meeting passwords (issue 3): how they are stored, checked, and guessed no faster than
``password_max_failures`` per ``password_failure_window_s``.

The hash is scrypt (RFC 7914) from the standard library, salted per password, so a copy of
the database does not hand out meeting passwords; comparison is constant-time.

Failures are counted per identity *and* per address: per identity alone, a guesser mints
fresh guest tokens; per address alone, a botnet spreads out. Either count reaching the limit
locks that key out for ``password_lockout_s``; a success clears neither (a guesser who hits
the password once must not reset its record). Memory is bounded: the table keeps at most
``MAX_TRACKED`` keys and forgets the oldest first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# scrypt cost: n=2**14, r=8 takes ~30-50 ms and 16 MiB on one core (RFC 7914 section 2
# recommends these for interactive logins); joins are rare, guessers are throttled anyway.
_N, _R, _P = 2**14, 8, 1
_PREFIX = "scrypt1"
MAX_TRACKED = 100_000


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 << 20)
    return "$".join((_PREFIX, _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str) -> bool:
    try:
        prefix, salt_text, digest_text = stored.split("$")
        salt, digest = _unb64(salt_text), _unb64(digest_text)
    except ValueError:
        return False
    if prefix != _PREFIX:
        return False
    candidate = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 << 20)
    return hmac.compare_digest(candidate, digest)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class PasswordAttempts:
    """Failure counts per key ("identity:<room>:<id>", "address:<ip>")."""

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        lockout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_failures
        self._window = window_s
        self._lockout = lockout_s
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def locked_out(self, keys: Iterable[str]) -> bool:
        now = self._clock()
        return any(
            record is not None and record.locked_until > now
            for record in (self._records.get(key) for key in keys)
        )

    def fail(self, keys: Iterable[str]) -> None:
        now = self._clock()
        for key in keys:
            record = self._records.pop(key, None) or _Record()
            record.failures = [t for t in record.failures if now - t < self._window]
            record.failures.append(now)
            if len(record.failures) >= self._max:
                record.locked_until = now + self._lockout
                record.failures.clear()
            self._records[key] = record  # most recent last
            while len(self._records) > MAX_TRACKED:
                self._records.popitem(last=False)
