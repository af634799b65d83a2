"""The BlazeFace detector on frames of the synthetic meeting room (real face photos at known
positions): it finds the faces, finds nothing in the empty room, and rejects bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.framing_detectors import match
from benchmarks.framing_scene import FaceBox, faces, render, scene
from framing.face_detector import DetectorUnavailable, FaceDetector, model_path, tile_origins
from framing.framing_settings import FramingSettings


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    cv2.setNumThreads(1)
    return FaceDetector()


def _boxes(det: FaceDetector, frame: np.ndarray) -> list[FaceBox]:
    return [
        FaceBox(round(d.box.x), round(d.box.y), round(d.box.w), round(d.box.h))
        for d in det.detect(frame)
    ]


def test_model_ships_in_the_package() -> None:
    path = model_path()
    assert path.name == "face_detection_full_range.tflite"
    assert path.stat().st_size > 100_000


def test_finds_the_faces_of_a_seated_group(detector: FaceDetector) -> None:
    s = scene("still_group")
    found = total = 0
    for t in (0.0, 1.3, 2.6, 3.9, 5.2):
        truth = faces(s, t)
        total += len(truth)
        found += len(match(truth, _boxes(detector, render(s, t))))
    assert total == 20
    assert found / total >= 0.95


def test_detections_carry_score_and_keypoints_inside_the_face(detector: FaceDetector) -> None:
    s = scene("still_group")
    dets = detector.detect(render(s, 0.0))
    assert len(dets) == 4
    for d in dets:
        assert 0.5 <= d.score <= 1.0
        assert len(d.keypoints) == 6
        # The nose tip (third keypoint) lies inside the face box.
        nx, ny = d.keypoints[2]
        assert d.box.x <= nx <= d.box.right and d.box.y <= ny <= d.box.bottom


def test_empty_room_and_black_frame_give_nothing(detector: FaceDetector) -> None:
    s = scene("empty_room")
    for t in (0.0, 5.0, 10.0):
        assert detector.detect(render(s, t)) == []
    assert detector.detect(np.zeros((720, 1280, 3), np.uint8)) == []
    assert detector.detect(np.zeros((0, 0, 3), np.uint8)) == []


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (np.zeros((720, 1280), np.uint8), "H x W x 3"),
        (np.zeros((720, 1280, 4), np.uint8), "H x W x 3"),
        (np.zeros((720, 1280, 3), np.float32), "uint8"),
        ([[0, 0, 0]], "numpy array"),
    ],
)
def test_rejects_frames_that_are_not_bgr(
    detector: FaceDetector, frame: object, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        detector.detect(frame)  # type: ignore[arg-type]


def test_small_frame_still_works(detector: FaceDetector) -> None:
    # Tiles follow the frame height; a whole-height tile is capped by the short side.
    assert tile_origins(100, 60, FramingSettings()) == [(0, 0, 40), (30, 0, 40), (60, 0, 40)]
    whole = FramingSettings(detector_tile_share=1.0, detector_tile_cols=2)
    assert tile_origins(50, 60, whole) == [(0, 0, 50)]
    assert detector.detect(np.full((60, 100, 3), 128, np.uint8)) == []


def test_tiles_cover_the_frame_with_overlap() -> None:
    tiles = tile_origins(1280, 720, FramingSettings(detector_tile_rows=2))
    assert tiles == [
        (0, 0, 480),
        (400, 0, 480),
        (800, 0, 480),
        (0, 240, 480),
        (400, 240, 480),
        (800, 240, 480),
    ]


def test_corrupt_model_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "face_detection_full_range.tflite"
    bad.write_bytes(b"not a tflite model" * 10)
    with pytest.raises(DetectorUnavailable, match="could not load the face model"):
        FaceDetector(path=bad)
