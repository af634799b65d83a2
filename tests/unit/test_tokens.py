"""Room tokens: strict verification (security checklist item 2) and default-deny grants."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from signaling.errors import CATALOGUE, ErrorCode, SparkleError
from signaling.tokens import Grants, RoomToken, TokenService

KEY = "APIunit0001"
SECRET = "k3Jv9-QpX2mT7wLz_8RbN4sYc6HdFgA1eUoVi5"
OTHER_SECRET = "Zq8-xW3vB7nM2kL9pR4tY6uI1oA5sD0fG_hJc"
NOW = 1_900_000_000
MAX_TTL = 6 * 3600
GENERIC = CATALOGUE[ErrorCode.INVALID_TOKEN].default_message


def service(now: float = NOW) -> TokenService:
    return TokenService(KEY, SECRET, max_ttl_s=MAX_TTL, clock_skew_s=30, clock=lambda: now)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(
    header: dict[str, Any] | str,
    payload: dict[str, Any] | str,
    *,
    secret: str = SECRET,
    digest: Callable[..., Any] = hashlib.sha256,
) -> str:
    """A JWS built by hand, so any header or payload (even invalid JSON) can be signed."""
    h = header if isinstance(header, str) else json.dumps(header)
    p = payload if isinstance(payload, str) else json.dumps(payload)
    signing_input = f"{b64(h.encode())}.{b64(p.encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": KEY,
        "sub": "alice",
        "name": "Alice",
        "room": "standup",
        "nbf": NOW,
        "iat": NOW,
        "exp": NOW + 600,
        "grants": {"room_join": True, "can_subscribe": True},
    }
    for key, value in changes.items():
        if value is _DELETE:
            base.pop(key, None)
        else:
            base[key] = value
    return base


_DELETE = object()
HS256 = {"alg": "HS256", "typ": "JWT"}


def test_the_hand_built_token_is_accepted() -> None:
    # The baseline every bad variant below differs from in exactly one way.
    token = service().verify(raw_token(HS256, claims()))
    assert token == RoomToken(
        identity="alice",
        name="Alice",
        room="standup",
        grants=Grants(room_join=True, can_subscribe=True),
        issued_at=NOW,
        expires_at=NOW + 600,
        api_key=KEY,
    )


def _tampered() -> str:
    token = raw_token(HS256, claims())
    header, _payload, signature = token.split(".")
    forged = b64(json.dumps(claims(grants={"room_join": True, "room_admin": True})).encode())
    return f"{header}.{forged}.{signature}"


def _stripped() -> str:
    header, payload, _ = raw_token(HS256, claims()).split(".")
    return f"{header}.{payload}."


def _none_alg() -> str:
    return f"{b64(json.dumps({'alg': 'none'}).encode())}.{b64(json.dumps(claims()).encode())}."


BAD_TOKENS: dict[str, Callable[[], object]] = {
    "alg none": _none_alg,
    "alg None with signature": lambda: raw_token({"alg": "None"}, claims()),
    "alg HS384": lambda: raw_token({"alg": "HS384"}, claims(), digest=hashlib.sha384),
    "alg HS512": lambda: raw_token({"alg": "HS512"}, claims(), digest=hashlib.sha512),
    # Key confusion: an RS256 header, HMAC-signed with the secret as if it were a public key.
    "RS256 key confusion": lambda: raw_token({"alg": "RS256", "typ": "JWT"}, claims()),
    "ES256 header": lambda: raw_token({"alg": "ES256"}, claims()),
    "no alg": lambda: raw_token({"typ": "JWT"}, claims()),
    "typ not JWT": lambda: raw_token({"alg": "HS256", "typ": "JWE"}, claims()),
    "jwk header": lambda: raw_token(
        {**HS256, "jwk": {"kty": "oct", "k": b64(b"x" * 32)}}, claims()
    ),
    "jku header": lambda: raw_token({**HS256, "jku": "https://evil.example/keys"}, claims()),
    "x5u header": lambda: raw_token({**HS256, "x5u": "https://evil.example/cert"}, claims()),
    "kid injection": lambda: raw_token({**HS256, "kid": "../../dev/null"}, claims()),
    "crit header": lambda: raw_token({**HS256, "crit": ["exp"]}, claims()),
    "no exp": lambda: raw_token(HS256, claims(exp=_DELETE)),
    "expired": lambda: raw_token(HS256, claims(iat=NOW - 700, nbf=NOW - 700, exp=NOW - 60)),
    "future nbf": lambda: raw_token(HS256, claims(nbf=NOW + 120)),
    "future iat": lambda: raw_token(HS256, claims(iat=NOW + 120, exp=NOW + 700)),
    "no iat": lambda: raw_token(HS256, claims(iat=_DELETE)),
    "no nbf": lambda: raw_token(HS256, claims(nbf=_DELETE)),
    "exp as string": lambda: raw_token(HS256, claims(exp=str(NOW + 600))),
    "exp as boolean": lambda: raw_token(HS256, claims(exp=True)),
    "exp before iat": lambda: raw_token(HS256, claims(exp=NOW - 1)),
    "TTL over max": lambda: raw_token(HS256, claims(exp=NOW + MAX_TTL + 1)),
    "backdated iat to stretch TTL": lambda: raw_token(
        HS256, claims(iat=NOW - MAX_TTL, nbf=NOW - MAX_TTL, exp=NOW + 600)
    ),
    "wrong iss": lambda: raw_token(HS256, claims(iss="APIother")),
    "no iss": lambda: raw_token(HS256, claims(iss=_DELETE)),
    "missing room": lambda: raw_token(HS256, claims(room=_DELETE)),
    "room wildcard": lambda: raw_token(HS256, claims(room="*")),
    "room with slash": lambda: raw_token(HS256, claims(room="a/b")),
    "room not a string": lambda: raw_token(HS256, claims(room=["standup"])),
    "no sub": lambda: raw_token(HS256, claims(sub=_DELETE)),
    "sub not a string": lambda: raw_token(HS256, claims(sub=42)),
    "empty sub": lambda: raw_token(HS256, claims(sub="")),
    "sub with control characters": lambda: raw_token(HS256, claims(sub="ali\nce")),
    "name too long": lambda: raw_token(HS256, claims(name="x" * 65)),
    "unknown claim": lambda: raw_token(HS256, claims(admin=True)),
    "grants not an object": lambda: raw_token(HS256, claims(grants=["room_join"])),
    "grant as string": lambda: raw_token(HS256, claims(grants={"room_join": "true"})),
    "grant as integer": lambda: raw_token(HS256, claims(grants={"room_admin": 1})),
    "unknown grant": lambda: raw_token(HS256, claims(grants={"room_create": True})),
    "sources not a list": lambda: raw_token(
        HS256, claims(grants={"can_publish_sources": "camera"})
    ),
    "unknown source": lambda: raw_token(
        HS256, claims(grants={"can_publish_sources": ["camera", "hologram"]})
    ),
    "duplicate source": lambda: raw_token(
        HS256, claims(grants={"can_publish_sources": ["camera", "camera"]})
    ),
    "duplicate claim key": lambda: raw_token(
        HS256, json.dumps(claims())[:-1] + ', "room": "other"}'
    ),
    "NaN exp": lambda: raw_token(HS256, json.dumps(claims()).replace(str(NOW + 600), "NaN")),
    "payload not an object": lambda: raw_token(HS256, "[1, 2, 3]"),
    "payload not JSON": lambda: raw_token(HS256, "not json"),
    "header not JSON": lambda: raw_token("{alg: HS256}", claims()),
    "tampered payload": _tampered,
    "stripped signature": _stripped,
    "wrong secret": lambda: raw_token(HS256, claims(), secret=OTHER_SECRET),
    "16 KiB token": lambda: raw_token(HS256, claims(name="x" * 16384)),
    "not a JWT": lambda: "hello world",
    "two segments": lambda: ".".join(raw_token(HS256, claims()).split(".")[:2]),
    "padding characters": lambda: raw_token(HS256, claims()) + "==",
    "whitespace around": lambda: " " + raw_token(HS256, claims()),
    "empty string": lambda: "",
    "not a string": lambda: 12345,
    "None": lambda: None,
}


@pytest.mark.parametrize("variant", sorted(BAD_TOKENS))
def test_bad_token_is_rejected_with_the_one_generic_error(variant: str) -> None:
    with pytest.raises(SparkleError) as caught:
        service().verify(BAD_TOKENS[variant]())
    assert caught.value.code is ErrorCode.INVALID_TOKEN
    assert caught.value.message == GENERIC
    assert str(caught.value) == f"invalid_token: {GENERIC}"


def test_there_are_at_least_25_bad_variants() -> None:
    assert len(BAD_TOKENS) >= 25


def test_rejection_reason_is_logged_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    token = raw_token(HS256, claims(room="*"))
    with caplog.at_level(logging.DEBUG, logger="sparkle.tokens"), pytest.raises(SparkleError):
        service().verify(token)
    assert "room missing or invalid" in caplog.text
    for part in token.split("."):
        assert part not in caplog.text


def test_clock_skew_leeway_applies_both_ways() -> None:
    token = raw_token(HS256, claims(nbf=NOW + 20, iat=NOW + 20, exp=NOW + 620))
    assert service().verify(token).identity == "alice"  # 20 s early: within the 30 s leeway
    expired = raw_token(HS256, claims(exp=NOW + 600))
    assert service(now=NOW + 620).verify(expired).room == "standup"  # 20 s late: still ok
    with pytest.raises(SparkleError):
        service(now=NOW + 631).verify(expired)


def test_ttl_exactly_at_the_maximum_is_accepted() -> None:
    token = raw_token(HS256, claims(exp=NOW + MAX_TTL))
    assert service().verify(token).expires_at == NOW + MAX_TTL


def test_missing_grants_deny_everything() -> None:
    token = service().verify(raw_token(HS256, claims(grants=_DELETE)))
    assert token.grants == Grants()
    assert not token.grants.room_join
    assert token.grants.can_publish_sources == frozenset()


def test_mint_then_verify_round_trips_every_grant() -> None:
    tokens = service()
    grants = Grants(
        room_join=True,
        room_admin=True,
        can_subscribe=False,
        can_publish_data=True,
        can_publish_sources=frozenset({"microphone", "screen_share"}),
        hidden=True,
    )
    verified = tokens.verify(tokens.mint("standup", "bob", "Bob", grants, ttl_s=300))
    assert verified == RoomToken("bob", "Bob", "standup", grants, NOW, NOW + 300, KEY)


def test_minted_token_has_only_alg_and_typ_and_required_claims() -> None:
    token = service().mint("standup", "bob", "", Grants.guest(), ttl_s=60)
    header_b64, payload_b64, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=="))
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert payload["iss"] == KEY
    assert payload["exp"] - payload["iat"] == 60
    assert payload["nbf"] == payload["iat"] == NOW


def test_a_token_from_another_key_pair_is_rejected() -> None:
    other = TokenService("APIother", OTHER_SECRET, max_ttl_s=MAX_TTL, clock_skew_s=30)
    token = other.mint("standup", "eve", "", Grants.host(), ttl_s=60)
    with pytest.raises(SparkleError) as caught:
        service().verify(token)
    assert caught.value.message == GENERIC


@pytest.mark.parametrize(
    ("room", "identity", "name", "ttl", "message"),
    [
        ("*", "a", "", 60, "invalid room name '*'"),
        ("standup", "", "", 60, "identity must be 1 to 128 printable characters"),
        ("standup", "a", "x" * 65, 60, "name must be at most 64 characters"),
        ("standup", "a", "", 0, "ttl must be a positive number of seconds"),
        ("standup", "a", "", MAX_TTL + 1, "exceeds the maximum of 21600s"),
    ],
)
def test_mint_refuses_bad_input_precisely(
    room: str, identity: str, name: str, ttl: int, message: str
) -> None:
    with pytest.raises(SparkleError) as caught:
        service().mint(room, identity, name, Grants.participant(), ttl_s=ttl)
    assert caught.value.code is ErrorCode.BAD_MESSAGE
    assert message in caught.value.message


def test_presets() -> None:
    everything = frozenset({"camera", "microphone", "screen_share", "screen_share_audio"})
    assert Grants() == Grants(False, False, False, False, frozenset(), False)
    participant = Grants.participant()
    assert participant.room_join and participant.can_subscribe and participant.can_publish_data
    assert participant.can_publish_sources == everything
    assert not participant.room_admin and not participant.hidden
    host = Grants.host()
    assert host.room_admin and host.can_publish_sources == everything and not host.hidden
    guest = Grants.guest()
    assert guest.room_join and guest.can_subscribe and not guest.room_admin
    # Screen sharing is in the grant; the room's floor control decides (tests/integration/
    # test_floor.py: nobody shares until a host allows it).
    assert guest.can_publish_sources == everything and not guest.hidden


def test_grants_claim_round_trip_and_strictness() -> None:
    for grants in (Grants(), Grants.participant(), Grants.host(), Grants.guest()):
        assert Grants.from_claim(grants.to_claim()) == grants
    with pytest.raises(ValueError, match="unknown grants"):
        Grants.from_claim({"canPublish": True})


def test_tokens_of_other_api_keys_verify_with_their_own_secret_only() -> None:
    """Issue 7: integrators' keys (signaling/api_keys.py). A token names its key in iss and
    must be signed with that key's secret; an unknown or revoked key opens nothing."""
    keys = {"APIintegrator": OTHER_SECRET}
    service = TokenService(
        KEY, SECRET, max_ttl_s=MAX_TTL, clock_skew_s=30, clock=lambda: NOW, lookup=keys.get
    )
    token = service.mint("standup", "ann", "Ann", Grants.participant(), 60, api_key="APIintegrator")
    verified = service.verify(token)
    assert verified.api_key == "APIintegrator" and verified.identity == "ann"
    # Signed with the primary secret but claiming the integrator's key: refused.
    forged = raw_token({"alg": "HS256", "typ": "JWT"}, claims(iss="APIintegrator"), secret=SECRET)
    with pytest.raises(SparkleError) as info:
        service.verify(forged)
    assert info.value.code is ErrorCode.INVALID_TOKEN
    # The key revoked (the lookup no longer knows it): its tokens stop working.
    del keys["APIintegrator"]
    with pytest.raises(SparkleError):
        service.verify(token)
    with pytest.raises(SparkleError, match="unknown or revoked API key"):
        service.mint("standup", "ann", "Ann", Grants.participant(), 60, api_key="APIintegrator")
