"""Per-IP quotas: exact counts over a sliding window, bounded memory."""

from __future__ import annotations

import pytest

from signaling.ip_quota import IpQuota
from signaling.room_name import is_valid_room_name, random_room_name


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_exact_count_then_sliding_window() -> None:
    clock = Clock()
    quota = IpQuota(3, 60.0, clock=clock)
    assert [quota.allow("10.0.0.1") for _ in range(5)] == [True, True, True, False, False]
    assert quota.allow("10.0.0.2")  # another client has its own quota
    clock.now += 59.9
    assert not quota.allow("10.0.0.1")
    clock.now += 0.1  # the first three requests leave the window together
    assert [quota.allow("10.0.0.1") for _ in range(4)] == [True, True, True, False]


def test_refused_requests_do_not_extend_the_window() -> None:
    clock = Clock()
    quota = IpQuota(1, 10.0, clock=clock)
    assert quota.allow("a")
    for _ in range(100):
        clock.now += 0.05
        assert not quota.allow("a")
    clock.now = 1010.0
    assert quota.allow("a")


def test_memory_is_bounded() -> None:
    clock = Clock()
    quota = IpQuota(2, 60.0, max_clients=100, clock=clock)
    for i in range(1000):
        clock.now += 0.001
        assert quota.allow(f"10.0.{i // 256}.{i % 256}")
    assert quota.tracked_clients <= 100
    # The most recent client is still tracked: its second request passes, its third not.
    assert quota.allow("10.0.3.231")
    assert not quota.allow("10.0.3.231")


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        IpQuota(0, 60.0)


def test_random_room_names_are_valid_and_distinct() -> None:
    names = {random_room_name() for _ in range(200)}
    assert len(names) == 200
    assert all(is_valid_room_name(n) and len(n) == 12 for n in names)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("abc-defg-hij", True),
        ("Team_42", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("*", False),
        ("a.b", False),
        ("a/b", False),
        ("ä", False),
        (None, False),
        (42, False),
    ],
)
def test_room_name_rule(name: object, valid: bool) -> None:
    assert is_valid_room_name(name) is valid
