"""The framer session's reading of the server's messages (framing/worker.py), with the test
playing the server through ``handle_message``: one output per target, a malformed
``framing_targets`` ignored (the previous targets stay), a target that leaves frees its
transceiver for the next one, and a new output size reaches every output."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np
import pytest
from aiortc.mediastreams import VIDEO_TIME_BASE
from av import VideoFrame

from framing.framed_track import Framing, Yuv
from framing.framer import Detection
from framing.worker import FramerSession, SessionOptions

TARGETS: dict[str, Any] = {
    "type": "framing_targets",
    "targets": [
        {"track_sid": "TR_a", "participant_sid": "PA_a"},
        {"track_sid": "TR_b", "participant_sid": "PA_b"},
    ],
    "output": {"width": 640, "height": 360, "max_fps": 30},
    "speaker_focus": False,
}


def camera_frame(t: float) -> VideoFrame:
    frame = VideoFrame(160, 90, "yuv420p")
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.pts, frame.time_base = round(t * 90_000), VIDEO_TIME_BASE
    return frame


class StillFraming:
    def __init__(self, size: tuple[int, int, int, int]) -> None:
        self.size = size

    def due(self, t: float) -> bool:
        return False

    def cancel(self) -> None:
        pass

    def detect(self, yuv: Yuv) -> list[Detection]:
        return []

    def observe(self, t: float, detections: Sequence[Detection]) -> None:
        pass

    def render(self, yuv: Yuv, t: float) -> Yuv:
        return np.zeros((self.size[3] * 3 // 2, self.size[2]), np.uint8)

    def resize_source(self, width: int, height: int) -> None:
        pass


Made = list[tuple[int, int, int, int]]  # (source w, h, output w, h) of each framing made


@pytest.fixture
def made() -> Made:
    return []


@pytest.fixture
async def session(made: Made) -> AsyncIterator[FramerSession]:

    def new_framing(source_w: int, source_h: int, out_w: int, out_h: int) -> Framing:
        made.append((source_w, source_h, out_w, out_h))
        return StillFraming(made[-1])

    options = SessionOptions(
        url="http://127.0.0.1:9", room="r", token="t", rtc_addresses=("127.0.0.1",)
    )
    framer = FramerSession(options, new_framing)
    try:
        yield framer
    finally:
        # Offers went nowhere (no socket): their failures are logged, never raised.
        await framer.peer.cancel_tasks()
        await framer.peer.close()


async def test_one_output_per_target_declared_as_its_stand_in(session: FramerSession) -> None:
    session.handle_message(TARGETS)
    assert set(session.outputs) == {"TR_a", "TR_b"}
    assert [o.frames for o in session.peer.outputs] == ["TR_a", "TR_b"]
    assert session.outputs["TR_a"].track is session.peer.track_for("TR_a")


@pytest.mark.parametrize(
    "bad",
    [
        {**TARGETS, "targets": "TR_a"},
        {**TARGETS, "output": {"width": 641, "height": 360, "max_fps": 30}},
        {**TARGETS, "targets": [{"track_sid": "TR_z"}]},
        {"type": "framing_targets"},
    ],
)
async def test_a_malformed_framing_targets_is_logged_and_ignored(
    session: FramerSession, bad: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    session.handle_message(TARGETS)
    before = dict(session.outputs)
    session.handle_message(bad)
    assert session.outputs == before
    assert session.targets is not None and session.targets.width == 640
    assert "framing_targets ignored" in caplog.text


async def test_a_new_target_reuses_the_transceiver_of_one_that_left(
    session: FramerSession,
) -> None:
    session.handle_message(TARGETS)
    first_a = session.outputs["TR_a"]
    session.handle_message({**TARGETS, "targets": [TARGETS["targets"][1]]})
    assert set(session.outputs) == {"TR_b"}
    assert first_a.failed == "no longer a target"
    assert session.peer.track_for("TR_a") is None
    session.handle_message(
        {
            **TARGETS,
            "targets": [*TARGETS["targets"][1:], {"track_sid": "TR_c", "participant_sid": "PA_c"}],
        }
    )
    # Two transceivers in all: TR_c is sent on the one TR_a had, re-declared.
    assert [o.frames for o in session.peer.outputs] == ["TR_c", "TR_b"]
    assert session.outputs["TR_c"].track is first_a.track


async def test_a_new_output_size_reaches_every_output(session: FramerSession, made: Made) -> None:
    session.handle_message(TARGETS)
    session.handle_message(
        {**TARGETS, "output": {"width": 320, "height": 180, "max_fps": 15}, "speaker_focus": True}
    )
    assert session.targets is not None
    assert (session.targets.width, session.targets.height, session.targets.speaker_focus) == (
        320,
        180,
        True,
    )
    # Each output makes its framing afresh, at the new size, from its next camera frame.
    for sid in ("TR_a", "TR_b"):
        session.outputs[sid].feed(camera_frame(0.0))
    assert made == [(160, 90, 320, 180), (160, 90, 320, 180)]
    session.handle_message({"type": "active_speaker", "participant_sid": "PA_a"})
    assert session.active_speaker == "PA_a"
    session.handle_message({"type": "active_speaker", "participant_sid": None})
    assert session.active_speaker is None


async def test_no_target_for_the_idle_time_ends_the_session(session: FramerSession) -> None:
    session.options = SessionOptions(
        url="http://127.0.0.1:9", room="r", token="t", idle_timeout_s=0.1
    )
    session.handle_message({**TARGETS, "targets": []})
    await asyncio.sleep(0.3)
    assert session.finish_reason == "no target to frame"
