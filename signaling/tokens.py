"""Room tokens: the only place that mints or decodes a JWT (tests/unit/test_architecture.py).

A token is an HS256 JWT (RFC 7519) in LiveKit's model: ``iss`` is the API key, ``sub`` the
participant identity, ``room`` binds it to one room, ``grants`` says what it may do. Verifying
is deliberately strict (RFC 8725, "JWT Best Current Practices"):

- the header is read before any cryptography and may hold only ``alg`` (exactly ``HS256``)
  and ``typ``: no ``none`` (RFC 8725 section 2.1), no algorithm substitution or RS256/HS256
  key confusion (section 2.1/3.1), no ``jwk``/``jku``/``x5u``/``kid`` for an attacker to
  point at their own key;
- ``exp``, ``nbf`` and ``iat`` are required and ``exp - iat`` is capped: a token without
  ``exp`` never expires (a bug LiveKit shipped);
- unknown claims and unknown grant names are refused instead of ignored, so a typo never
  silently grants or drops a permission; anything unset is denied;
- every failure is the same ``SparkleError(INVALID_TOKEN)`` with one generic message, so a
  caller learns nothing about why (no oracle). The reason goes to a debug log line, never the
  token itself.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

from sfu.events import SOURCES
from signaling.errors import ErrorCode, SparkleError
from signaling.room_name import is_valid_room_name

log = logging.getLogger("sparkle.tokens")

ALGORITHM = "HS256"
# A token with every grant and a 64-character name is ~600 bytes; 8 KiB leaves room for
# integrators' extra length while bounding the work an attacker can make us do.
MAX_TOKEN_BYTES = 8192
MAX_IDENTITY_LENGTH = 128
MAX_NAME_LENGTH = 64
_ALLOWED_HEADER = frozenset({"alg", "typ"})
_ALLOWED_CLAIMS = frozenset({"iss", "sub", "name", "room", "nbf", "iat", "exp", "grants", "jti"})
_JWS_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_BOOL_GRANTS = (
    "room_join",
    "room_admin",
    "can_subscribe",
    "can_publish_data",
    "hidden",
    "recorder",
    "transcriber",
    "framer",
)


@dataclass(frozen=True)
class Grants:
    """What a token allows. Every field defaults to "no": unset means denied."""

    room_join: bool = False
    room_admin: bool = False  # the room's host: moderation rights
    can_subscribe: bool = False
    can_publish_data: bool = False
    can_publish_sources: frozenset[str] = field(default_factory=frozenset)
    hidden: bool = False  # never listed in rosters, arrival never announced
    # A recording worker (recorder/): hidden, receives everything, publishes nothing.
    recorder: bool = False
    # A transcription worker (transcribe/): hidden, receives audio, publishes nothing, and
    # may send ``caption`` messages (the only client whose text is stored as a transcript).
    transcriber: bool = False
    # An auto-framing worker (framing/, issue 6): hidden, receives the cameras it is told
    # to frame, and publishes only stand-ins for them (declared with ``frames``).
    framer: bool = False

    @classmethod
    def participant(cls) -> Grants:
        """A full participant: join, see and hear everyone, publish every source."""
        return cls(
            room_join=True,
            can_subscribe=True,
            can_publish_data=True,
            can_publish_sources=SOURCES,
        )

    @classmethod
    def host(cls) -> Grants:
        """A participant who also moderates the room (the meeting's creator)."""
        return cls(
            room_join=True,
            room_admin=True,
            can_subscribe=True,
            can_publish_data=True,
            can_publish_sources=SOURCES,
        )

    @classmethod
    def guest(cls) -> Grants:
        """Someone who followed a meeting link: every source, but screen sharing is gated
        by the room's floor control (signaling/floor.py): nobody shares until a host allows
        it, for everyone or for this participant (the Zoom-bombing defence, issue 3)."""
        return cls(
            room_join=True,
            can_subscribe=True,
            can_publish_data=True,
            can_publish_sources=SOURCES,
        )

    @classmethod
    def recording_worker(cls) -> Grants:
        """The recorder worker the server starts for a recording (signaling/recording.py)."""
        return cls(room_join=True, can_subscribe=True, hidden=True, recorder=True)

    @classmethod
    def transcription_worker(cls) -> Grants:
        """The transcriber the server hands a transcription job (signaling/transcription.py)."""
        return cls(room_join=True, can_subscribe=True, hidden=True, transcriber=True)

    @classmethod
    def framing_worker(cls) -> Grants:
        """The framing worker the server hands a framing job (signaling/framing.py)."""
        return cls(room_join=True, can_subscribe=True, hidden=True, framer=True)

    def to_claim(self) -> dict[str, Any]:
        return {
            "room_join": self.room_join,
            "room_admin": self.room_admin,
            "can_subscribe": self.can_subscribe,
            "can_publish_data": self.can_publish_data,
            "can_publish_sources": sorted(self.can_publish_sources),
            "hidden": self.hidden,
            "recorder": self.recorder,
            "transcriber": self.transcriber,
            "framer": self.framer,
        }

    @classmethod
    def from_claim(cls, claim: object) -> Grants:
        """Parse a ``grants`` object strictly; raises ``ValueError`` with the reason."""
        if not isinstance(claim, dict):
            raise ValueError("grants is not an object")
        unknown = set(claim) - {*_BOOL_GRANTS, "can_publish_sources"}
        if unknown:
            raise ValueError(f"unknown grants {sorted(unknown)}")
        flags: dict[str, bool] = {}
        for name in _BOOL_GRANTS:
            value = claim.get(name, False)
            if not isinstance(value, bool):
                raise ValueError(f"grant {name} is not a boolean")
            flags[name] = value
        sources = claim.get("can_publish_sources", [])
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise ValueError("can_publish_sources is not a list of strings")
        if len(set(sources)) != len(sources):
            raise ValueError("can_publish_sources has duplicates")
        if not set(sources) <= SOURCES:
            raise ValueError(f"unknown sources {sorted(set(sources) - SOURCES)}")
        return cls(can_publish_sources=frozenset(sources), **flags)


@dataclass(frozen=True)
class RoomToken:
    """A verified token's content."""

    identity: str
    name: str
    room: str
    grants: Grants
    issued_at: float
    expires_at: float
    api_key: str = ""  # the key that signed it (``iss``): whose embed origins and webhook


class TokenService:
    """Mints and verifies room tokens: the primary API key pair's, and those of the other
    API keys (signaling/api_keys.py) that ``lookup`` knows (key -> secret, None if none)."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        max_ttl_s: int,
        clock_skew_s: int,
        clock: Callable[[], float] = time.time,
        lookup: Callable[[str], str | None] | None = None,
    ) -> None:
        if not api_key or not api_secret:
            raise ValueError("api_key and api_secret are required")
        self._api_key = api_key
        self._secret = api_secret
        self._lookup = lookup
        self._max_ttl_s = max_ttl_s
        self._skew_s = clock_skew_s
        self._clock = clock

    @property
    def api_key(self) -> str:
        return self._api_key

    @property
    def max_ttl_s(self) -> int:
        return self._max_ttl_s

    def mint(
        self,
        room: str,
        identity: str,
        name: str,
        grants: Grants,
        ttl_s: int,
        *,
        api_key: str | None = None,
    ) -> str:
        """A signed token (by ``api_key``, default the primary key); raises
        ``SparkleError(BAD_MESSAGE)`` with a precise message."""
        issuer, secret = self._api_key, self._secret
        if api_key is not None and api_key != self._api_key:
            found = self._lookup(api_key) if self._lookup is not None else None
            if found is None:
                raise SparkleError(ErrorCode.BAD_MESSAGE, "unknown or revoked API key")
            issuer, secret = api_key, found
        if not is_valid_room_name(room):
            raise SparkleError(ErrorCode.BAD_MESSAGE, f"invalid room name {room!r}")
        if not _valid_identity(identity):
            raise SparkleError(
                ErrorCode.BAD_MESSAGE,
                f"identity must be 1 to {MAX_IDENTITY_LENGTH} printable characters",
            )
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
            raise SparkleError(
                ErrorCode.BAD_MESSAGE, f"name must be at most {MAX_NAME_LENGTH} characters"
            )
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s <= 0:
            raise SparkleError(ErrorCode.BAD_MESSAGE, "ttl must be a positive number of seconds")
        if ttl_s > self._max_ttl_s:
            raise SparkleError(
                ErrorCode.BAD_MESSAGE,
                f"ttl {ttl_s}s exceeds the maximum of {self._max_ttl_s}s (token_max_ttl_s)",
            )
        now = int(self._clock())
        claims = {
            "iss": issuer,
            "sub": identity,
            "name": name,
            "room": room,
            "nbf": now,
            "iat": now,
            "exp": now + ttl_s,
            "grants": grants.to_claim(),
        }
        return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"typ": "JWT"})

    def verify(self, token: object) -> RoomToken:
        """The token's content, or ``SparkleError(INVALID_TOKEN)`` whatever is wrong."""
        try:
            return self._verify(token)
        except _Rejected as exc:
            # The reason helps an operator debug an integration; the token never appears.
            log.debug("token rejected: %s", exc.reason)
        raise SparkleError(ErrorCode.INVALID_TOKEN)

    def _verify(self, token: object) -> RoomToken:
        if not isinstance(token, str):
            raise _Rejected("not a string")
        if len(token) > MAX_TOKEN_BYTES:
            raise _Rejected(f"longer than {MAX_TOKEN_BYTES} bytes")
        if _JWS_COMPACT.fullmatch(token) is None:
            raise _Rejected("not a compact JWS")
        header_segment, payload_segment, _ = token.split(".")
        header = _json_segment(header_segment, "header")
        extra = set(header) - _ALLOWED_HEADER
        if extra:
            raise _Rejected(f"header parameters not allowed: {sorted(extra)}")
        if header.get("alg") != ALGORITHM:
            raise _Rejected("alg is not HS256")
        if "typ" in header and header["typ"] != "JWT":
            raise _Rejected("typ is not JWT")
        # The key is chosen by the (not yet authenticated) iss, like a JWS "kid": the
        # signature below must then verify with that key's secret, and iss is checked again.
        issuer = _json_segment(payload_segment, "payload").get("iss")
        secret = self._secret_of(issuer)
        try:
            # Signature only: every claim is checked below, against our own clock.
            jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise _Rejected(f"signature: {type(exc).__name__}") from None
        # Re-read the (now authenticated) payload ourselves: duplicate keys and NaN refused.
        claims = _json_segment(payload_segment, "payload")
        return self._check_claims(claims, str(issuer))

    def _secret_of(self, issuer: object) -> str:
        if not isinstance(issuer, str):
            raise _Rejected("iss missing")
        if hmac.compare_digest(issuer.encode("utf-8", "surrogatepass"), self._api_key.encode()):
            return self._secret
        found = self._lookup(issuer) if self._lookup is not None else None
        if found is None:
            raise _Rejected("iss is not a known API key")
        return found

    def _check_claims(self, claims: dict[str, Any], issuer: str) -> RoomToken:
        unknown = set(claims) - _ALLOWED_CLAIMS
        if unknown:
            raise _Rejected(f"unknown claims {sorted(unknown)}")
        iss = claims.get("iss")
        if not isinstance(iss, str) or not hmac.compare_digest(
            iss.encode("utf-8", "surrogatepass"), issuer.encode("utf-8", "surrogatepass")
        ):
            raise _Rejected("iss is not the key that signed the token")
        identity = claims.get("sub")
        if not _valid_identity(identity):
            raise _Rejected("sub missing or invalid")
        assert isinstance(identity, str)
        name = claims.get("name", "")
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
            raise _Rejected("name invalid")
        room = claims.get("room")
        if not is_valid_room_name(room):
            raise _Rejected("room missing or invalid")
        assert isinstance(room, str)
        if "jti" in claims and not isinstance(claims["jti"], str):
            raise _Rejected("jti is not a string")
        nbf = _numeric_date(claims, "nbf")
        iat = _numeric_date(claims, "iat")
        exp = _numeric_date(claims, "exp")
        now = self._clock()
        if exp <= iat:
            raise _Rejected("exp is not after iat")
        if exp - iat > self._max_ttl_s:
            raise _Rejected(f"lifetime {exp - iat:.0f}s exceeds {self._max_ttl_s}s")
        if now >= exp + self._skew_s:
            raise _Rejected("expired")
        if nbf > now + self._skew_s:
            raise _Rejected("not yet valid (nbf)")
        if iat > now + self._skew_s:
            raise _Rejected("issued in the future (iat)")
        try:
            grants = Grants.from_claim(claims.get("grants", {}))
        except ValueError as exc:
            raise _Rejected(str(exc)) from None
        return RoomToken(
            identity=identity,
            name=name,
            room=room,
            grants=grants,
            issued_at=iat,
            expires_at=exp,
            api_key=iss,
        )


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _valid_identity(identity: object) -> bool:
    return (
        isinstance(identity, str)
        and 0 < len(identity) <= MAX_IDENTITY_LENGTH
        and identity.isprintable()
        and identity.strip() == identity
    )


def _numeric_date(claims: dict[str, Any], name: str) -> float:
    # RFC 7519 section 2: NumericDate is a JSON number; booleans are not numbers here.
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Rejected(f"{name} missing or not a number")
    if not math.isfinite(value):
        raise _Rejected(f"{name} not finite")
    return float(value)


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _json_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
        )
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise _Rejected(f"{what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise _Rejected(f"{what} is not a JSON object")
    return value
