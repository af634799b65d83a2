"""One camera's framing loop: detection cadence, the framed output, a camera size change."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.framing_scene import render, scene
from framing.camera_framing import CameraFraming
from framing.face_detector import FaceDetector
from framing.framer import Detection
from framing.framing_settings import FramingSettings
from framing.geometry import Box


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    cv2.setNumThreads(1)
    return FaceDetector()


def _yuv(bgr: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), np.uint8)


def test_detection_cadence_and_one_at_a_time(detector: FaceDetector) -> None:
    cf = CameraFraming(1280, 720, 640, 360, FramingSettings(), detector)
    times = [i / 30 for i in range(31)]
    due = []
    for t in times:
        if cf.due(t):
            due.append(round(t, 3))
            cf.observe(t, [])
    # Every 0.2 s at 30 fps: frames 0, 6, 12, 18, 24, 30, despite float frame times.
    assert due == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert cf.due(1.2)
    # While that detection runs, no other is due, however late it gets.
    assert not cf.due(1.4) and not cf.due(5.0)
    cf.cancel()
    assert cf.due(5.0)


def test_pipeline_frames_the_group(detector: FaceDetector) -> None:
    s = scene("still_group")
    cf = CameraFraming(1280, 720, 1280, 720, FramingSettings(), detector)
    out = None
    for i in range(0, 150):  # 5 s; detections on every 6th frame
        t = i / 30
        yuv = _yuv(render(s, t))
        if cf.due(t):
            cf.observe(t, cf.detect(yuv))
        out = cf.render(yuv, t)
    assert out is not None and out.shape == (1080, 1280) and out.dtype == np.uint8
    x, y, w, h = cf.last_crop or (0, 0, 0, 0)
    # Zoomed in (narrower than the room) and holding all four seated faces (x 240..1040).
    assert w < 1100 and w % 2 == 0 and h % 2 == 0 and x % 2 == 0 and y % 2 == 0
    assert x <= 240 and x + w >= 1040
    assert abs(w / h - 16 / 9) < 0.02


def test_source_size_change_resets_to_the_wide_shot(detector: FaceDetector) -> None:
    cf = CameraFraming(1280, 720, 640, 360, FramingSettings(), detector)
    face = Detection(Box(600, 300, 60, 70), 0.9)
    for k in range(20):
        cf.observe(k * 0.2, [face])
    assert cf.crop_box(4.0).w < 1000
    assert cf.due(4.0)  # a detection on a 1280x720 frame is now in flight
    cf.resize_source(640, 480)
    assert cf.source_size == (640, 480)
    # Its result, in the old frame's pixels, is dropped when it arrives.
    cf.observe(4.1, [face])
    box = cf.crop_box(4.1)
    assert box.w == 640 and box.x == 0
    out = cf.render(np.zeros((720, 640), np.uint8), 4.2)
    assert out.shape == (540, 640)
    assert cf.last_crop == (0, 60, 640, 360)  # widest 16:9 crop of a 4:3 frame
    with pytest.raises(ValueError, match="resize_source"):
        cf.render(np.zeros((1080, 1280), np.uint8), 4.3)


def test_detect_rejects_a_frame_that_is_not_yuv420p(detector: FaceDetector) -> None:
    cf = CameraFraming(1280, 720, 640, 360, FramingSettings(), detector)
    with pytest.raises(ValueError, match="yuv420p"):
        cf.detect(np.zeros((720, 1280, 3), np.uint8))
    assert cf.detect(np.zeros((1080, 1280), np.uint8)) == []  # black: nobody


def test_output_size_must_be_even(detector: FaceDetector) -> None:
    with pytest.raises(ValueError, match="even"):
        CameraFraming(1280, 720, 639, 360, FramingSettings(), detector)
