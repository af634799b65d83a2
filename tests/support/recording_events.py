"""Waiting on a recording in integration tests: its ``recording`` messages and the server's
side of it (signaling/recording.py), each wait bounded."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.support.ws_client import WsClient


async def recording_state(client: WsClient, state: str, within: float = 5.0) -> dict[str, Any]:
    """The next ``recording`` message in ``state``; its recording object."""
    message = await client.wait_for("recording", within, lambda m: m["recording"]["state"] == state)
    return dict(message["recording"])


async def until(check: Any, within: float, what: str) -> Any:
    """Poll ``check()`` every 0.1 s until it returns something true, which is returned."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
