"""One camera's framing loop: when to detect, what the detector saw, the framed frame out.

The worker drives it per received frame (time t in seconds)::

    if framing.due(t):                       # claims the detection slot for this frame
        dets = await asyncio.to_thread(framing.detect, yuv)   # heavy, off the event loop
        framing.observe(t, dets)             # back on the loop
    out = framing.render(yuv, t)             # every frame, ~1 ms

`due()` and `observe()` and `render()` belong to the worker's event loop; `detect()` touches
no state of this object, so it can run in a thread while frames keep being rendered. If the
detection fails, `cancel()` frees the slot so the next frame can try again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np

from framing.face_detector import FaceDetector
from framing.frame_cropper import FrameCropper, Yuv, snap_even, source_size
from framing.framer import Detection, Framer
from framing.framing_settings import FramingSettings
from framing.geometry import Box

# Frame times come from RTP timestamps converted to float seconds: a detection due "at"
# 0.2 s may arrive at 0.19999999. Half a millisecond of slack keeps the cadence exact.
_CADENCE_SLACK_S = 0.0005


class CameraFraming:
    """Framing state of one camera: a Framer, a cropper and the detection cadence."""

    def __init__(
        self,
        source_w: int,
        source_h: int,
        out_w: int,
        out_h: int,
        settings: FramingSettings | None = None,
        detector: FaceDetector | None = None,
    ) -> None:
        self._settings = settings if settings is not None else FramingSettings()
        self._cropper = FrameCropper(out_w, out_h)
        # The output aspect is the output size's, whatever the settings say: the crop must
        # scale to out_w x out_h without distortion.
        self._framer_settings = _with_aspect(self._settings, out_w / out_h)
        self._detector = detector if detector is not None else FaceDetector(self._settings)
        self._source = (0, 0)
        self._generation = 0
        self._pending: int | None = None  # generation of the detection in flight
        self._next_due: float | None = None
        self._last_crop: tuple[int, int, int, int] | None = None
        self.resize_source(source_w, source_h)

    @property
    def source_size(self) -> tuple[int, int]:
        return self._source

    @property
    def out_size(self) -> tuple[int, int]:
        return self._cropper.out_w, self._cropper.out_h

    @property
    def last_crop(self) -> tuple[int, int, int, int] | None:
        """(x, y, w, h) in source px of the crop the last render() used, for diagnostics."""
        return self._last_crop

    def resize_source(self, width: int, height: int) -> None:
        """The camera now sends width x height (switched camera): back to the wide shot.

        A detection still running on a frame of the old size is dropped when it arrives.
        """
        if width < 2 or height < 2 or width % 2 or height % 2:
            raise ValueError(f"source size must be even and at least 2x2, got {width}x{height}")
        self._source = (width, height)
        self._framer = Framer(width, height, self._framer_settings)
        self._generation += 1
        self._next_due = None
        self._last_crop = None

    def due(self, t: float) -> bool:
        """Whether to run the detector on the frame at time t; True claims the slot.

        Never while a detection is running (the detector gets at most one frame at a time,
        so a slow machine detects less often instead of queueing frames).
        """
        if self._pending is not None:
            return False
        if self._next_due is not None and t < self._next_due - _CADENCE_SLACK_S:
            return False
        self._pending = self._generation
        self._next_due = t + self._settings.detection_interval_s
        return True

    def cancel(self) -> None:
        """The claimed detection failed or was skipped: free the slot for the next frame."""
        self._pending = None

    def detect(self, yuv: Yuv) -> list[Detection]:
        """Faces in a yuv420p frame (heavy; safe in a worker thread, changes no state here)."""
        source_size(yuv)  # ValueError with the reason when it is not a yuv420p frame
        bgr = cv2.cvtColor(np.ascontiguousarray(yuv), cv2.COLOR_YUV2BGR_I420)
        return self._detector.detect(np.asarray(bgr, np.uint8))

    def observe(self, t: float, detections: Sequence[Detection]) -> None:
        """Feed the detections of the frame at time t to the framer; frees the slot."""
        pending, self._pending = self._pending, None
        if pending is not None and pending != self._generation:
            return  # detected on a frame from before resize_source(): wrong coordinates
        self._framer.observe(t, detections)

    def crop_box(self, t: float) -> Box:
        """The framer's crop for time t, in source px (before snapping to even pixels)."""
        return self._framer.crop(t)

    def render(self, yuv: Yuv, t: float) -> Yuv:
        """The framed frame at time t: yuv420p at the output size."""
        width, height = source_size(yuv)
        if (width, height) != self._source:
            raise ValueError(
                f"frame is {width}x{height} but the source is {self._source[0]}x"
                f"{self._source[1]}: call resize_source() when the camera changes size"
            )
        box = self._framer.crop(t)
        self._last_crop = snap_even(box, width, height)
        return self._cropper.crop(yuv, box)


def _with_aspect(settings: FramingSettings, aspect: float) -> FramingSettings:
    if abs(settings.output_aspect - aspect) < 1e-9:
        return settings
    return replace(settings, output_aspect=aspect)
