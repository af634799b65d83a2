"""Retention (issues 4 and 5): every hour, what is older than ``recording_retention_days``
goes: meetings with their transcripts, action items and recordings, then recordings made
outside any meeting the sweep knew of. A failed sweep is logged and tried again next hour;
the server never stops over it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

SWEEP_S = 3600.0


class Retention:
    def __init__(self, sweeps: Sequence[tuple[str, Callable[[], int]]]) -> None:
        """``sweeps``: (what, delete the old ones and say how many), run in this order."""
        self._sweeps = tuple(sweeps)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sweep now and hourly, until ``close``."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    def sweep(self) -> None:
        for what, sweep in self._sweeps:
            try:
                removed = sweep()
            except Exception:
                log.exception("retention: the %s sweep failed", what)
                continue
            if removed:
                log.info("retention: deleted %d %s(s)", removed, what)

    async def _run(self) -> None:
        while True:
            self.sweep()
            await asyncio.sleep(SWEEP_S)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
