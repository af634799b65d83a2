"""The per-connection token bucket, with a fake clock: exact counts, no sleeping."""

from __future__ import annotations

import pytest

from signaling.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def take_all(bucket: TokenBucket, attempts: int) -> int:
    return sum(bucket.try_take() for _ in range(attempts))


def test_a_new_bucket_allows_exactly_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(20.0, 60, clock=clock)
    assert take_all(bucket, 100) == 60
    assert bucket.try_take() is False


def test_tokens_refill_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(20.0, 60, clock=clock)
    assert take_all(bucket, 60) == 60
    clock.now += 0.5  # 20/s * 0.5 s = 10 tokens
    assert take_all(bucket, 100) == 10
    clock.now += 0.25
    assert take_all(bucket, 100) == 5


def test_refill_never_exceeds_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(20.0, 60, clock=clock)
    assert take_all(bucket, 60) == 60
    clock.now += 3600.0
    assert take_all(bucket, 1000) == 60


def test_partial_tokens_accumulate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4.0, 1, clock=clock)
    assert bucket.try_take() is True
    clock.now += 0.125  # half a token
    assert bucket.try_take() is False
    clock.now += 0.125  # the other half
    assert bucket.try_take() is True
    assert bucket.try_take() is False


def test_sustained_rate_is_exact() -> None:
    clock = FakeClock()
    bucket = TokenBucket(16.0, 60, clock=clock)
    allowed = take_all(bucket, 60)
    # 100 attempts every 1/8 s for 12.5 s: 2 tokens per step (binary-exact steps).
    for _ in range(100):
        clock.now += 0.125
        allowed += take_all(bucket, 100)
    assert allowed == 60 + 200


def test_a_clock_going_backwards_removes_nothing_and_adds_nothing() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, 5, clock=clock)
    assert take_all(bucket, 3) == 3
    clock.now -= 100.0
    assert take_all(bucket, 10) == 2


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 5), (-1.0, 5), (1.0, 0)])
def test_nonsense_parameters_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBucket(rate, burst)
