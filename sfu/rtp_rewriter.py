"""Sequence number and timestamp rewriting for one outgoing stream (one subscriber slot).

A subscriber's slot keeps one SSRC for its whole life, while the source behind it can
change (a track unpublished and another assigned, a mute/unmute, a keyframe gate). RFC 3550
section 5.1 and 8.2: the receiver must see contiguous sequence numbers and timestamps that
move forward with real time, so at every source switch the offsets are re-based:

- the first packet after a switch gets the sequence number right after the last one sent;
- its timestamp is the last one sent plus the wall-clock time elapsed (at least one tick);
- packets of the new source older than the switch point are dropped (their numbers would
  collide with numbers already used).
"""

from __future__ import annotations

import random

_SEQ_MASK = 0xFFFF
_TS_MASK = 0xFFFFFFFF
# How far behind the newest packet a reordered packet is still forwarded.
_REORDER_WINDOW = 0x1000


class StreamRewriter:
    """Maps (source seq, source ts) to (out seq, out ts) for one outgoing RTP stream."""

    __slots__ = (
        "_base_pending",
        "_clock_rate",
        "_highest_out",
        "_last_time",
        "_last_ts",
        "_seq_offset",
        "_start_seq",
        "ts_offset",
    )

    def __init__(
        self,
        clock_rate: int,
        *,
        first_sequence: int | None = None,
        first_timestamp: int | None = None,
    ) -> None:
        self._clock_rate = clock_rate
        # Below 2^15, like aiortc (a wrap early in a stream trips SRTP replay protection in
        # some receivers: chromium commit 13b327b).
        seq = random.randrange(1 << 15) if first_sequence is None else first_sequence
        self._highest_out = (seq - 1) & _SEQ_MASK
        self._last_ts: int | None = None if first_timestamp is None else first_timestamp
        self._last_time: float | None = None
        self._seq_offset = 0
        self.ts_offset = 0
        self._start_seq = 0
        self._base_pending = True

    @property
    def clock_rate(self) -> int:
        return self._clock_rate

    def switch(self, clock_rate: int | None = None) -> None:
        """The next packet handed to ``rewrite`` starts a new source (or a new run)."""
        if clock_rate is not None:
            self._clock_rate = clock_rate
        self._base_pending = True

    def rewrite(self, sequence_number: int, timestamp: int, now: float) -> tuple[int, int] | None:
        """Return (out seq, out ts), or None for a packet older than the switch point."""
        if self._base_pending:
            self._rebase(sequence_number, timestamp, now)
        else:
            ahead = (sequence_number - self._start_seq) & _SEQ_MASK
            if ahead >= 0x8000:
                return None
            if ahead > _REORDER_WINDOW:
                # Slide the switch point along so a long run never looks "older" after
                # 2^15 packets; anything this far behind the newest packet is useless anyway.
                self._start_seq = (sequence_number - _REORDER_WINDOW) & _SEQ_MASK
        out_seq = (sequence_number + self._seq_offset) & _SEQ_MASK
        out_ts = (timestamp + self.ts_offset) & _TS_MASK
        if (out_seq - self._highest_out) & _SEQ_MASK < 0x8000:
            self._highest_out = out_seq
            self._last_ts = out_ts
            self._last_time = now
        return out_seq, out_ts

    def _rebase(self, sequence_number: int, timestamp: int, now: float) -> None:
        self._base_pending = False
        self._start_seq = sequence_number
        next_seq = (self._highest_out + 1) & _SEQ_MASK
        self._seq_offset = (next_seq - sequence_number) & _SEQ_MASK
        if self._last_ts is None:
            first_ts = random.randrange(1 << 32)
        elif self._last_time is None:
            first_ts = self._last_ts
        else:
            elapsed = max(1, int((now - self._last_time) * self._clock_rate))
            first_ts = (self._last_ts + elapsed) & _TS_MASK
        self.ts_offset = (first_ts - timestamp) & _TS_MASK
