"""A token bucket: ``rate`` messages per second sustained, ``burst`` at once.

One bucket per WebSocket connection (docs/protocol.md, "Limits"). The clock is injectable so
tests can assert exact counts without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        # A new connection starts full: a client's join plus its first trickle-ICE burst
        # must never be refused.
        self._tokens = float(burst)
        self._last = clock()

    def try_take(self) -> bool:
        """Take one token if there is one; False means the message must be dropped."""
        now = self._clock()
        # max(): a clock that goes backwards (a test's fake, a broken source) never
        # removes tokens.
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    @property
    def available(self) -> float:
        return self._tokens
