"""Webhook signatures (signaling/webhook_signature.py): the Standard Webhooks scheme, a pinned
vector, and everything ``verify`` must refuse (tampering, another secret, replays)."""

from __future__ import annotations

import pytest

from signaling.webhook_signature import SignatureError, sign, signature, verify

SECRET = "whsec_test-secret"
BODY = b'{"event":"room_started"}'
STAMP = 1_700_000_000


def test_pinned_vector() -> None:
    # HMAC-SHA256(key=b"whsec_test-secret", b'WH_example.1700000000.{"event":"room_started"}'),
    # base64: computed once with the standard library and pinned, so a change to the scheme
    # (what integrators' receivers check) cannot go unnoticed.
    expected = "v1,iyRY71WuT1kfUuNZmUdXUrBY8z2BsQ+S6BPleohj4xU="
    assert signature(SECRET, "WH_example", STAMP, BODY) == expected
    assert sign(SECRET, "WH_example", STAMP, BODY) == {
        "webhook-id": "WH_example",
        "webhook-timestamp": str(STAMP),
        "webhook-signature": expected,
    }


def test_an_authentic_delivery_verifies_whatever_the_header_case() -> None:
    headers = sign(SECRET, "WH_1", STAMP, BODY)
    assert verify(SECRET, headers, BODY, now=STAMP + 10) is None
    upper = {name.upper(): value for name, value in headers.items()}
    assert verify(SECRET, upper, BODY, now=STAMP - 10) is None


def test_any_of_several_signatures_may_match() -> None:
    headers = sign(SECRET, "WH_1", STAMP, BODY)
    other = signature("whsec_old-secret", "WH_1", STAMP, BODY)
    headers["webhook-signature"] = f"{other} {headers['webhook-signature']}"
    assert verify(SECRET, headers, BODY, now=STAMP) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"body": BODY + b" "}, "no webhook-signature matches"),
        ({"secret": "whsec_other"}, "no webhook-signature matches"),
        ({"webhook-id": "WH_2"}, "no webhook-signature matches"),
        ({"webhook-timestamp": str(STAMP + 1)}, "no webhook-signature matches"),
        ({"webhook-timestamp": "soon"}, "webhook-timestamp is not an integer"),
        ({"webhook-signature": "v1,AAAA"}, "no webhook-signature matches"),
        ({"webhook-signature": ""}, "missing"),
        ({"webhook-id": ""}, "missing"),
    ],
)
def test_tampering_is_refused(change: dict[str, object], message: str) -> None:
    headers = sign(SECRET, "WH_1", STAMP, BODY)
    body = change.pop("body", BODY)
    secret = change.pop("secret", SECRET)
    headers.update({name: str(value) for name, value in change.items()})
    assert isinstance(body, bytes) and isinstance(secret, str)
    with pytest.raises(SignatureError, match=message):
        verify(secret, headers, body, now=STAMP)


def test_old_and_future_timestamps_are_refused() -> None:
    headers = sign(SECRET, "WH_1", STAMP, BODY)
    assert verify(SECRET, headers, BODY, now=STAMP + 300) is None
    for now in (STAMP + 301, STAMP - 301, STAMP + 86_400):
        with pytest.raises(SignatureError, match="too old or too new"):
            verify(SECRET, headers, BODY, now=now)
    # A tolerance of the receiver's choosing.
    with pytest.raises(SignatureError, match="too old"):
        verify(SECRET, headers, BODY, tolerance_s=5, now=STAMP + 6)


def test_missing_headers_are_refused() -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, {}, BODY, now=STAMP)
