"""One framed camera without a network (framing/framed_track.py): the rate cap, detection
off the event loop, a failing detector or frame, a camera that changes size, and what the
output track sends before, during and after its camera."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from aiortc.mediastreams import VIDEO_TIME_BASE, MediaStreamError
from av import VideoFrame

from framing.framed_track import FramedOutput, FramedTrack, Framing, Yuv
from framing.framer import Detection
from framing.geometry import Box

OUT_W, OUT_H = 64, 36


def camera_frame(t: float, width: int = 160, height: int = 90) -> VideoFrame:
    frame = VideoFrame(width, height, "yuv420p")
    for plane in frame.planes:
        plane.update(bytes([128]) * plane.buffer_size)
    frame.pts = round(t * 90_000)
    frame.time_base = VIDEO_TIME_BASE
    return frame


class Recording:
    """A framing that records what it is asked; detection and rendering may be made to fail."""

    def __init__(self, width: int, height: int) -> None:
        self.sizes = [(width, height)]
        self.pending = False
        self.next_due = 0.0
        self.observed: list[tuple[float, int]] = []
        self.cancelled = 0
        self.rendered: list[float] = []
        self.detect_error: Exception | None = None
        self.render_error: Exception | None = None
        self.detect_threads: set[str] = set()
        self.release = threading.Event()
        self.release.set()

    def due(self, t: float) -> bool:
        if self.pending or t < self.next_due:
            return False
        self.pending, self.next_due = True, t + 0.2
        return True

    def cancel(self) -> None:
        self.pending = False
        self.cancelled += 1

    def detect(self, yuv: Yuv) -> list[Detection]:
        self.detect_threads.add(threading.current_thread().name)
        assert self.release.wait(5.0)
        if self.detect_error is not None:
            raise self.detect_error
        return [Detection(Box(1, 1, 10, 10), 0.9)]

    def observe(self, t: float, detections: Sequence[Detection]) -> None:
        self.pending = False
        self.observed.append((t, len(detections)))

    def render(self, yuv: Yuv, t: float) -> Yuv:
        if self.render_error is not None:
            raise self.render_error
        width, height = self.sizes[-1]
        assert yuv.shape == (height * 3 // 2, width)
        self.rendered.append(t)
        return np.zeros((OUT_H * 3 // 2, OUT_W), np.uint8)

    def resize_source(self, width: int, height: int) -> None:
        self.sizes.append((width, height))


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1, thread_name_prefix="detector") as pool:
        yield pool


class Outputs:
    def __init__(self, release: threading.Event | None = None) -> None:
        self.framings: list[Recording] = []
        self.release = release

    def __call__(self, width: int, height: int) -> Framing:
        framing = Recording(width, height)
        if self.release is not None:
            framing.release = self.release
        self.framings.append(framing)
        return framing


async def settle(output: FramedOutput) -> None:
    """Until no detection is under way."""
    await output.detection_over(5.0)


async def test_frames_above_max_fps_are_dropped(executor: ThreadPoolExecutor) -> None:
    made = Outputs()
    capped = FramedOutput(FramedTrack(), made, max_fps=10, executor=executor)
    full = FramedOutput(FramedTrack(), made, max_fps=30, executor=executor)
    for i in range(60):  # 2 s of a 30 fps camera
        capped.feed(camera_frame(i / 30))
        full.feed(camera_frame(i / 30))
    await settle(capped)
    await settle(full)
    assert (capped.frames_in, capped.frames_framed) == (60, 20)
    assert (full.frames_in, full.frames_framed) == (60, 60)
    # A camera whose clock went back (restarted) is not starved by the cap.
    capped.feed(camera_frame(0.0))
    assert capped.frames_framed == 21


async def test_detection_runs_in_the_executor_one_at_a_time(
    executor: ThreadPoolExecutor,
) -> None:
    release = threading.Event()  # the first detection hangs until released
    made = Outputs(release)
    output = FramedOutput(FramedTrack(), made, max_fps=30, executor=executor)
    for i in range(30):  # 1 s: five detections would be due, one is running
        output.feed(camera_frame(i / 30 + 1))
    framing = made.framings[0]
    assert len(framing.rendered) == 30  # rendering never waited for the detector
    assert framing.observed == []
    release.set()
    await settle(output)
    assert framing.observed == [(1.0, 1)]  # the held one, and no other meanwhile
    output.feed(camera_frame(2.0))
    await settle(output)
    assert framing.detect_threads == {"detector_0"}  # never the event loop's thread
    assert framing.observed == [(1.0, 1), (2.0, 1)]
    assert output.detections == 2


async def test_a_failing_detector_frees_the_slot_and_framing_goes_on(
    executor: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    made = Outputs()
    output = FramedOutput(FramedTrack(), made, max_fps=30, executor=executor)
    output.feed(camera_frame(0.0))
    framing = made.framings[0]
    await settle(output)
    framing.detect_error = RuntimeError("model exploded")
    for i in range(1, 31):
        output.feed(camera_frame(i / 30))
        await settle(output)
    assert framing.cancelled >= 4
    assert output.failed is None and len(framing.rendered) == 31
    assert "face detection failed (1 times)" in caplog.text


async def test_a_frame_that_cannot_be_framed_ends_that_output_only(
    executor: ThreadPoolExecutor,
) -> None:
    made = Outputs()
    broken = FramedOutput(FramedTrack(), made, max_fps=30, executor=executor)
    healthy = FramedOutput(FramedTrack(), made, max_fps=30, executor=executor)
    broken.feed(camera_frame(0.0))
    healthy.feed(camera_frame(0.0))
    made.framings[0].render_error = ValueError("bad plane")
    broken.feed(camera_frame(1 / 30))
    healthy.feed(camera_frame(1 / 30))
    assert broken.failed == "ValueError: bad plane"
    assert healthy.failed is None and len(made.framings[1].rendered) == 2
    broken.feed(camera_frame(2 / 30))  # ignored from now on
    assert broken.frames_framed == 1
    # A camera picture too small to be one ends its output with the reason, too.
    tiny = FramedOutput(FramedTrack(), made, max_fps=30, executor=executor)
    tiny.feed(camera_frame(0.0, 8, 8))
    assert tiny.failed is not None and "8x8 cannot be framed" in tiny.failed
    for output in (broken, healthy, tiny):
        await output.close()


async def test_a_camera_that_changes_size_resets_the_framing(
    executor: ThreadPoolExecutor,
) -> None:
    made = Outputs()
    output = FramedOutput(FramedTrack(), made, max_fps=30, executor=executor)
    framing_released = threading.Event()
    output.feed(camera_frame(0.0))
    framing = made.framings[0]
    await settle(output)
    framing.release = framing_released  # the next detection waits
    output.feed(camera_frame(0.3))  # detection on a 160x90 frame, held
    output.feed(camera_frame(0.4, 321, 181))  # odd sizes are framed at the even size below
    assert framing.sizes == [(160, 90), (320, 180)]
    framing_released.set()
    await settle(output)
    # The held detection was of the old picture: its boxes are not given to the framing.
    assert framing.observed[-1] == (0.3, 0)
    assert len(made.framings) == 1


async def test_the_track_sends_nothing_before_its_camera_and_after_it() -> None:
    track = FramedTrack(repeat_interval_s=0.05)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await track.recv()
    yuv = np.full((OUT_H * 3 // 2, OUT_W), 77, np.uint8)
    track.push(yuv, 10.0)
    first = await track.recv()
    assert (first.width, first.height, first.pts) == (OUT_W, OUT_H, 900_000)
    # Stalled: the last picture again, later on the clock.
    again = await asyncio.wait_for(track.recv(), 1.0)
    assert again.pts == 900_000 + 4_500
    assert np.array_equal(again.to_ndarray(format="yuv420p"), yuv)
    track.detach()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await track.recv()
    track.stop()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(track.recv(), 1.0)


async def test_output_timestamps_never_run_backwards() -> None:
    track = FramedTrack()
    yuv = np.zeros((OUT_H * 3 // 2, OUT_W), np.uint8)
    pts = []
    for t in (5.0, 5.1, 1.0, 1.1, 1.1, 7.0):  # a camera restart, then a repeated stamp
        track.push(yuv, t)
        pts.append((await asyncio.wait_for(track.recv(), 1.0)).pts)
    assert all(b > a for a, b in itertools.pairwise(pts)), pts
    assert pts[1] - pts[0] == pts[3] - pts[2] == 9_000  # the camera's spacing is kept
    # Only the newest frame waits for the encoder: an encoder behind drops, never queues.
    track.push(yuv, 8.0)
    track.push(np.ones_like(yuv), 8.1)
    latest = await asyncio.wait_for(track.recv(), 1.0)
    assert latest.to_ndarray(format="yuv420p").max() == 1
