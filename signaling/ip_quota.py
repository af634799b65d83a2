"""Per-client-IP request quotas for the HTTP endpoints that need no API key.

A sliding window of timestamps per address gives exact counts ("the 11th request within a
minute is refused"), which is what the tests assert (security checklist item 11). Memory is
bounded: at most ``limit`` timestamps per address and at most ``max_clients`` addresses; when
full, addresses whose window has passed are forgotten first, then the stalest ones.

The address is the TCP peer (``request.remote``). Behind a reverse proxy every request comes
from the proxy, so the quota becomes global; trusting ``X-Forwarded-For`` without knowing the
proxy would let anyone pick their own address.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class IpQuota:
    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit <= 0 or window_s <= 0:
            raise ValueError("limit and window_s must be positive")
        self._limit = limit
        self._window_s = window_s
        self._max_clients = max_clients
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    @property
    def tracked_clients(self) -> int:
        return len(self._hits)

    def allow(self, client: str) -> bool:
        """Count one request from ``client``; False if it is over the quota."""
        now = self._clock()
        hits = self._hits.get(client)
        if hits is None:
            if len(self._hits) >= self._max_clients:
                self._evict(now)
            hits = self._hits[client] = deque()
        while hits and hits[0] <= now - self._window_s:
            hits.popleft()
        if len(hits) >= self._limit:
            return False
        hits.append(now)
        return True

    def _evict(self, now: float) -> None:
        for client in [c for c, h in self._hits.items() if not h or h[-1] <= now - self._window_s]:
            del self._hits[client]
        while len(self._hits) >= self._max_clients:
            stalest = min(self._hits, key=lambda c: self._hits[c][-1] if self._hits[c] else 0.0)
            del self._hits[stalest]
