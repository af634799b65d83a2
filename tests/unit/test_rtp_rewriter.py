"""Sequence numbers stay contiguous and timestamps move forward across source switches."""

from __future__ import annotations

from sfu.rtp_rewriter import StreamRewriter


def test_first_source_is_mapped_with_fixed_offsets():
    rw = StreamRewriter(90000, first_sequence=1000, first_timestamp=5000)
    assert rw.rewrite(40000, 123456, now=0.0) == (1000, 5000)
    assert rw.rewrite(40001, 123456, now=0.0) == (1001, 5000)
    assert rw.rewrite(40002, 126456, now=0.033) == (1002, 8000)
    assert rw.rewrite(40001, 123456, now=0.04) == (1001, 5000)  # a retransmission: same numbers


def test_sequence_wraps_on_both_sides():
    rw = StreamRewriter(48000, first_sequence=65535, first_timestamp=0xFFFFFFFF)
    assert rw.rewrite(10, 100, now=0.0) == (65535, 0xFFFFFFFF)
    assert rw.rewrite(11, 1060, now=0.02) == (0, 959)


def test_switch_keeps_sequence_contiguous_and_time_moving_forward():
    rw = StreamRewriter(90000, first_sequence=500, first_timestamp=1_000_000)
    for i in range(10):
        rw.rewrite(100 + i, 9000 + i * 3000, now=i / 30)
    last = rw.rewrite(109, 9000 + 9 * 3000, now=9 / 30)
    assert last == (509, 1_000_000 + 27000)
    rw.switch()  # another publisher's track now feeds this slot, 0.5 s later
    seq, ts = rw.rewrite(7, 777, now=9 / 30 + 0.5)  # type: ignore[misc]
    assert seq == 510
    assert ts == (1_027_000 + 45000) & 0xFFFFFFFF
    assert rw.rewrite(8, 777 + 3000, now=1.0) == (511, ts + 3000)
    # Packets of the new source from before the switch point would reuse numbers: dropped.
    assert rw.rewrite(6, 777 - 3000, now=1.0) is None
    assert rw.rewrite(65000, 0, now=1.0) is None


def test_long_runs_never_look_old():
    rw = StreamRewriter(48000, first_sequence=0, first_timestamp=0)
    out = [rw.rewrite(seq & 0xFFFF, seq * 960, now=seq * 0.02) for seq in range(70000)]
    assert all(o is not None for o in out)
    assert [o[0] for o in out[:3]] == [0, 1, 2]  # type: ignore[index]
    assert out[-1][0] == 69999 & 0xFFFF  # type: ignore[index]


def test_switch_without_elapsed_time_still_advances_the_timestamp():
    rw = StreamRewriter(90000, first_sequence=1, first_timestamp=10)
    rw.rewrite(50, 999, now=1.0)
    rw.switch()
    assert rw.rewrite(3, 5, now=1.0) == (2, 11)
