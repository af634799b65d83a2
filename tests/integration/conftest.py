"""Fixtures for the media-plane integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sfu import MediaRoom
from tests.support.aiortc_client import RecordingEvents, loopback_settings


@pytest.fixture
async def room_and_events() -> AsyncIterator[tuple[MediaRoom, RecordingEvents]]:
    """An in-process MediaRoom on 127.0.0.1 and the events it reported; closed afterwards."""
    events = RecordingEvents()
    room = MediaRoom(loopback_settings(), events)
    yield room, events
    await room.close()
