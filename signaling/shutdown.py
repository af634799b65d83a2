"""The last step of a graceful shutdown: say so if anything of ours is still running.

``sparkle serve`` (aiohttp's ``run_app``) cancels every task left on the loop after the app's
cleanup, silently; a task of ours still alive at that point is a shutdown bug (a room, a
recording or a worker watcher that ``RoomRegistry.close`` did not end) that would otherwise
only show as a truncated file or a killed child. This hook names such tasks in the log, once,
so the shutdown test (tests/integration/test_graceful_shutdown.py) and operators see them.
``sparkle serve`` installs it, not ``create_app``: with several apps on one loop (tests) the
tasks of the others would be named too.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

log = logging.getLogger(__name__)

# Modules whose tasks must all be over once the app is cleaned up: ours and the media stack
# our rooms own. Tasks of the host (a test runner, aiohttp's own server) are not ours.
OWNED_PREFIXES = ("signaling.", "sfu.", "aiortc.", "aioice.")


def leftover_tasks() -> list[str]:
    """``module.function`` of every task still running whose coroutine is one of ours."""
    names = []
    current = asyncio.current_task()
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        module = str(frame.f_globals.get("__name__", "")) if frame is not None else ""
        if module.startswith(OWNED_PREFIXES):
            names.append(f"{module}.{getattr(coro, '__qualname__', '?')}")
    return sorted(names)


async def report_leftovers(app: web.Application) -> None:
    # Tasks cancelled by the cleanup steps before this one finish on the next loop turns.
    for _ in range(3):
        await asyncio.sleep(0)
    names = leftover_tasks()
    if names:
        log.warning("%d task(s) still running after shutdown: %s", len(names), ", ".join(names))
    else:
        log.info("shutdown complete: no task left running")
