"""A meeting-room camera for media tests: benchmarks/framing_scene.py's synthetic room
(real face photos from scikit-image at known places), sent in real time as an aiortc video
track. The pictures are rendered once, up front, and played in a loop."""

from __future__ import annotations

import asyncio
import time

import cv2
import numpy as np
from aiortc.mediastreams import VIDEO_TIME_BASE, MediaStreamError, MediaStreamTrack
from av import VideoFrame

from benchmarks import framing_scene


class SceneCamera(MediaStreamTrack):
    """A meeting-room camera: framing_scene's still group, downscaled, in real time."""

    kind = "video"

    def __init__(
        self, fps: float = 15.0, frames: int = 12, size: tuple[int, int] = (640, 360)
    ) -> None:
        super().__init__()
        scene = framing_scene.scene("still_group")
        self.scene = scene
        self._pictures = [
            np.asarray(
                cv2.resize(
                    framing_scene.render(scene, i / scene.fps), size, None, 0, 0, cv2.INTER_AREA
                ),
                np.uint8,
            )
            for i in range(frames)
        ]
        self._interval = 1 / fps
        self._index = 0
        self._started: float | None = None
        self.running = asyncio.Event()
        self.running.set()

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self.running.wait()
        now = time.monotonic()
        if self._started is None:
            self._started = now
        due = self._started + self._index * self._interval
        await asyncio.sleep(max(0.0, due - now))
        frame = VideoFrame.from_ndarray(
            self._pictures[self._index % len(self._pictures)], format="bgr24"
        )
        frame.pts = round(self._index * self._interval * 90_000)
        frame.time_base = VIDEO_TIME_BASE
        self._index += 1
        return frame

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        # Carry on in real time from now, as a camera that stalled would.
        assert self._started is not None
        self._started = time.monotonic() - self._index * self._interval
        self.running.set()
