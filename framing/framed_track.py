"""One framed camera: decoded camera frames in, framed frames out to an aiortc sender.

Two objects per output:

- ``FramedOutput`` takes the target camera's decoded frames (``feed``, on the event loop, in
  the order the slot reader got them from aiortc's ``track.recv()``), drops what exceeds the
  output's ``max_fps``, converts each kept frame to a yuv420p array, runs the detector in an
  executor thread when the framer says one is due (one at a time per camera: a detection
  takes 12-50 ms, contract "Detector decision", so never on the event loop), renders the
  crop (CameraFraming.render, ~1.2 ms at 720p) and hands it to its track.
- ``FramedTrack`` is the ``MediaStreamTrack`` the output's ``sendonly`` transceiver sends:
  aiortc's sender awaits ``recv()`` and encodes what it returns. It keeps only the newest
  framed frame (an encoder slower than the camera drops frames instead of queueing them),
  and when the camera stalls it repeats the last framed frame once per
  ``repeat_interval_s`` so subscribers keep a picture (and a keyframe can still be produced
  for a late joiner). Before the first frame, and once its camera is gone (``detach``), it
  sends nothing: a black frame would replace a real camera for everyone.

``recv()`` never raises except once the track is stopped: aiortc's sender ends its RTP loop
for good on ``MediaStreamError`` (aiortc/rtcrtpsender.py ``_run_rtp``), and the transceiver
is reused for another target when the targets change.

Output timestamps follow the camera's (its pts, converted to the 90 kHz video clock), kept
strictly increasing: a camera switched to another one, or a repeat during a stall, never
makes the RTP timestamp run backwards (RFC 3550 section 5.1: timestamps are monotonic).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from fractions import Fraction
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import VIDEO_TIME_BASE, MediaStreamError, MediaStreamTrack
from av import VideoFrame

from framing.framer import Detection

logger = logging.getLogger(__name__)

Yuv = npt.NDArray[np.uint8]  # yuv420p planes stacked: shape (H * 3 // 2, W)

VIDEO_CLOCK = 90_000  # RTP clock rate of video (RFC 7741 section 4.1 for VP8)
# A frame closer than this share of 1/max_fps to the last one kept is dropped: 0.75 keeps a
# 30 fps camera at 30 fps under a 30 fps cap despite jitter, and halves a 60 fps camera.
RATE_TOLERANCE = 0.75
# The smallest camera picture framed; anything smaller is a broken source, not a camera.
MIN_SOURCE_PX = 16
MAX_SOURCE_PX = 8192


class Framing(Protocol):
    """What an output needs of the framing engine (framing/camera_framing.py's
    CameraFraming; contract "Engine-side interfaces")."""

    def due(self, t: float) -> bool: ...  # True claims the detection slot

    def cancel(self) -> None: ...  # the claimed detection failed: free the slot

    def detect(self, yuv: Yuv) -> list[Detection]: ...

    def observe(self, t: float, detections: Sequence[Detection]) -> None: ...

    def render(self, yuv: Yuv, t: float) -> Yuv: ...

    def resize_source(self, width: int, height: int) -> None: ...


# Makes the framing for a camera of (width, height) pixels.
NewFraming = Callable[[int, int], Framing]


class FramedTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, repeat_interval_s: float = 1.0) -> None:
        super().__init__()
        if not repeat_interval_s > 0:
            raise ValueError(f"repeat_interval_s must be > 0, got {repeat_interval_s}")
        self.repeat_interval_s = repeat_interval_s
        self.frames_sent = 0
        self.repeats_sent = 0
        self._pending: tuple[Yuv, int] | None = None  # newest framed frame and its pts
        self._last: Yuv | None = None  # what a stall repeats; None: send nothing
        self._last_pts: int | None = None
        self._offset = 0  # added to the camera's pts to keep ours increasing
        self._wake = asyncio.Event()

    def push(self, yuv: Yuv, t: float) -> None:
        """A framed frame for camera time ``t`` (seconds); replaces one not yet sent."""
        if self.readyState != "live":
            return
        pts = round(t * VIDEO_CLOCK) + self._offset
        floor = self._pending[1] if self._pending is not None else self._last_pts
        if floor is not None and pts <= floor:
            # The camera's clock went back (another camera, or a restart): continue ours.
            self._offset += floor + 1 - pts
            pts = floor + 1
        self._pending = (yuv, pts)
        self._wake.set()

    def detach(self) -> None:
        """The camera is gone: send nothing until a frame is pushed again."""
        self._pending = None
        self._last = None
        self._wake.set()

    def stop(self) -> None:
        super().stop()
        self._wake.set()

    async def recv(self) -> VideoFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self._pending is not None:
                yuv, pts = self._pending
                self._pending = None
                self._last, self._last_pts = yuv, pts
                self.frames_sent += 1
                return _video_frame(yuv, pts)
            self._wake.clear()
            stalled = self._last is not None
            try:
                async with asyncio.timeout(self.repeat_interval_s if stalled else None):
                    await self._wake.wait()
            except TimeoutError:
                if self._last is None or self._last_pts is None:
                    continue
                self._last_pts += round(self.repeat_interval_s * VIDEO_CLOCK)
                self.repeats_sent += 1
                return _video_frame(self._last, self._last_pts)


def _video_frame(yuv: Yuv, pts: int) -> VideoFrame:
    # A fresh frame each time: the encoder runs in an executor thread while we carry on.
    frame = VideoFrame.from_ndarray(yuv, format="yuv420p")
    frame.pts = pts
    frame.time_base = VIDEO_TIME_BASE
    return frame


class FramedOutput:
    """Frames one camera into one FramedTrack (see the module docstring)."""

    def __init__(
        self,
        track: FramedTrack,
        new_framing: NewFraming,
        max_fps: float,
        executor: Executor | None = None,
    ) -> None:
        self.track = track
        self.frames_in = 0
        self.frames_framed = 0
        self.detections = 0
        self.failed: str | None = None  # why this output ended, if it failed
        self._executor = executor
        self._new_framing = new_framing
        self._max_fps = max_fps
        self._framing: Framing | None = None
        self._size: tuple[int, int] | None = None
        self._generation = 0  # bumped when the source size changes: older results are stale
        self._last_t: float | None = None
        self._detecting: asyncio.Future[list[Detection]] | None = None
        self._detector_failures = 0
        self.reconfigure(new_framing, max_fps)

    def reconfigure(self, new_framing: NewFraming, max_fps: float) -> None:
        """A new output size or rate: the framing is made afresh at the next frame."""
        if not max_fps > 0:
            raise ValueError(f"max_fps must be > 0, got {max_fps}")
        self._new_framing, self._max_fps = new_framing, max_fps
        self._framing, self._size = None, None

    def feed(self, frame: VideoFrame) -> None:
        """One decoded camera frame. A frame that cannot be framed ends this output only
        (``failed`` says why): the other outputs and the session go on."""
        if self.failed is not None:
            return
        self.frames_in += 1
        t = _frame_time(frame)
        if t is None or not self._take(t):
            return
        try:
            self._frame(frame, t)
        except Exception as exc:
            logger.exception("framing a camera frame failed: this output stops")
            self.fail(f"{type(exc).__name__}: {exc}")

    def fail(self, reason: str) -> None:
        self.failed = reason
        self._framing = None
        self.track.detach()

    def retire(self) -> None:
        """No longer a target: frames are ignored, the track is left to its next owner."""
        self.failed = "no longer a target"
        self._framing = None

    def end(self) -> None:
        """The camera stopped (or moved to another slot): nothing to repeat any more."""
        self._framing, self._size, self._last_t = None, None, None
        self.track.detach()

    async def close(self, timeout_s: float = 2.0) -> None:
        """Stop the track; wait (bounded) for a detection still running in its thread."""
        self.track.stop()
        await self.detection_over(timeout_s)

    async def detection_over(self, timeout_s: float) -> None:
        """Until the detection under way (if any) has been taken, at most ``timeout_s``."""
        detecting = self._detecting
        if detecting is None:
            return
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(detecting)
        except Exception:
            pass  # TimeoutError, or the detection failed: either way, it is over for us
        await asyncio.sleep(0)  # its done callback runs before we return

    def _take(self, t: float) -> bool:
        """Whether the frame at ``t`` is within the rate cap (the rest are dropped)."""
        last = self._last_t
        if last is not None and last <= t < last + RATE_TOLERANCE / self._max_fps:
            return False
        self._last_t = t
        return True

    def _frame(self, frame: VideoFrame, t: float) -> None:
        yuv = _yuv420p(frame)
        size = (yuv.shape[1], yuv.shape[0] * 2 // 3)
        framing = self._framing
        if framing is None:
            framing = self._framing = self._new_framing(*size)
        elif size != self._size:
            framing.resize_source(*size)  # the camera switched: back to the wide shot
            self._generation += 1
        self._size = size
        if self._detecting is None and framing.due(t):
            self._start_detection(framing, yuv, t)
        self.track.push(framing.render(yuv, t), t)
        self.frames_framed += 1

    def _start_detection(self, framing: Framing, yuv: Yuv, t: float) -> None:
        loop = asyncio.get_running_loop()
        # ``yuv`` is this frame's own array (to_ndarray copies), never written again: the
        # thread may read it while the loop renders the next frames.
        future = loop.run_in_executor(self._executor, framing.detect, yuv)
        self._detecting = future
        generation = self._generation
        future.add_done_callback(lambda done: self._detected(framing, generation, t, done))

    def _detected(
        self,
        framing: Framing,
        generation: int,
        t: float,
        done: asyncio.Future[list[Detection]],
    ) -> None:
        self._detecting = None
        exc = done.exception() if not done.cancelled() else None
        if done.cancelled() or exc is not None:
            self._detector_failures += 1
            if self._detector_failures == 1 or self._detector_failures % 100 == 0:
                logger.warning("face detection failed (%d times): %r", self._detector_failures, exc)
        if framing is not self._framing:
            return  # a result for a framing since replaced (output resized or ended)
        try:
            if done.cancelled() or exc is not None:
                # The framing keeps its last picture; the next due frame tries again. A
                # detector that keeps failing thus leaves the shot where it was.
                framing.cancel()
            elif generation != self._generation:
                framing.observe(t, [])  # boxes in the old camera's pixels: only "it is over"
            else:
                self.detections += 1
                framing.observe(t, done.result())
        except Exception as exc:
            logger.exception("the framer refused a detection: this output stops")
            self.fail(f"{type(exc).__name__}: {exc}")


def _frame_time(frame: VideoFrame) -> float | None:
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * Fraction(frame.time_base.numerator, frame.time_base.denominator))


def _yuv420p(frame: VideoFrame) -> Yuv:
    """The frame as stacked yuv420p planes, at an even size (4:2:0 chroma is per 2x2)."""
    width, height = frame.width & ~1, frame.height & ~1
    if not (MIN_SOURCE_PX <= width <= MAX_SOURCE_PX and MIN_SOURCE_PX <= height <= MAX_SOURCE_PX):
        raise ValueError(f"a camera frame of {frame.width}x{frame.height} cannot be framed")
    if (width, height) != (frame.width, frame.height) or frame.format.name != "yuv420p":
        frame = frame.reformat(width=width, height=height, format="yuv420p")
    array: Any = frame.to_ndarray(format="yuv420p")
    return np.ascontiguousarray(array, dtype=np.uint8)
