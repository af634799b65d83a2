"""The shutdown's last step names tasks of ours still running (signaling/shutdown.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from signaling.retention import Retention
from signaling.shutdown import leftover_tasks, report_leftovers


async def test_a_task_of_ours_left_running_is_named(caplog: pytest.LogCaptureFixture) -> None:
    retention = Retention([("nothing", lambda: 0)])
    retention.start()
    others = asyncio.create_task(asyncio.sleep(10))  # not ours: asyncio's own coroutine
    try:
        await asyncio.sleep(0)
        assert leftover_tasks() == ["signaling.retention.Retention._run"]
        with caplog.at_level(logging.INFO, logger="signaling.shutdown"):
            await report_leftovers(web.Application())
        assert caplog.messages == [
            "1 task(s) still running after shutdown: signaling.retention.Retention._run"
        ]
    finally:
        await retention.close()
        others.cancel()
        await asyncio.gather(others, return_exceptions=True)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="signaling.shutdown"):
        await report_leftovers(web.Application())
    assert caplog.messages == ["shutdown complete: no task left running"]
    assert leftover_tasks() == []
