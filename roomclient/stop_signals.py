"""The stop event of a worker process that runs until SIGTERM or SIGINT: either sets it, and
the worker then ends its rooms, reports its jobs and exits 0.

The handlers go through the event loop (``loop.add_signal_handler``), not ``signal.signal``:
the loop wakes at once (its wakeup fd) and ``stop.set`` runs as a loop callback, never
between two bytecodes of a coroutine under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """An event SIGTERM/SIGINT set while the block runs (in the running loop); the default
    handlers are back once it ends."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        yield stop
    finally:
        for signum in SIGNALS:
            # The loop may already be closing and have dropped them.
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
