"""Auto-framing evaluation (issue 6): the real pipeline on the scripted meeting-room scenes.

    taskset -c 0 .venv/bin/python -m benchmarks.framing_eval [--out docs/benchmarks.md]

Every scene of ``benchmarks/framing_scene.py`` (real face photos from scikit-image at known
positions; people sit, walk in, leave and come back, turn away, hide behind a laptop) is
rendered at 30 fps, converted to yuv420p as a decoded camera frame is, and fed to
``framing.camera_framing.CameraFraming`` exactly as the worker does: the detector runs at the
settings' cadence on the frame it is due on, its result reaches the framer at the first frame
after the detection's measured wall time (as when it runs in a thread), and every frame is
cropped and scaled to the output size. Measured against the ground truth:

- faces inside: share of the frames with at least one visible face in which every visible
  face is fully inside the crop actually rendered (after snapping to even pixels). The truth
  is ``face_truth``: a face partly outside the *camera* frame counts for its visible part (its
  box is clipped to the frame); a head turned more than half-way (the back of the head, no
  face) or a face hidden more than 40% is not a visible face, so it is not required inside
  (the framer still holds a place for it, ``zoom_out_hold_s``).
- faces' share of the picture: sum of the visible face areas inside the crop / crop area,
  against the raw camera's sum of face areas / frame area, averaged over frames with faces;
  the ratio is framed / raw.
- jitter while people sit still: mean absolute frame-to-frame movement of the crop's four
  edges, in output pixels (source px x output width / crop width), over every pair of
  consecutive frames in which no visible face moves (``FaceTruth.moving``: its scripted
  position changes by more than 2 px in 0.1 s, beyond the idle sway). This counts wanted
  reframing too (the first zoom-in from the wide shot, the zoom-in after someone left), so a
  second column, "settled", leaves out the first ``--settle`` seconds after the set of
  visible faces changed or a face moved; that is the noise a viewer sees as jitter.
- CPU per camera: process CPU time (``time.process_time``, ``cv2.setNumThreads(1)``) of
  detection (I420->BGR + tiles + decoding) and of framer + crop/scale, per second of 30 fps
  video, as % of one core. Rendering the scene and the BGR->I420 conversion stand for the
  camera and decoder and are not counted.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from benchmarks import report
from benchmarks.framing_scene import SCENE_NAMES, FaceBox, face_truth, render, scene
from framing.camera_framing import CameraFraming
from framing.face_detector import FaceDetector
from framing.framer import Detection
from framing.framing_settings import FramingSettings

BEGIN = "<!-- framing-eval:begin -->"
END = "<!-- framing-eval:end -->"
OUT_W, OUT_H = 1280, 720

TARGET_INSIDE = 0.99
TARGET_JITTER_PX = 0.5
TARGET_CPU_PCT = 20.0


@dataclass
class SceneResult:
    name: str
    frames: int = 0
    face_frames: int = 0
    inside: int = 0
    framed_share: float = 0.0  # summed over face frames
    raw_share: float = 0.0
    still_moves: list[float] = field(default_factory=list)
    settled_moves: list[float] = field(default_factory=list)
    wide_frames: int = 0  # frames whose crop is the whole camera frame
    detections: int = 0
    detect_cpu_s: float = 0.0
    render_cpu_s: float = 0.0
    detect_wall_ms: list[float] = field(default_factory=list)
    missed: list[float] = field(default_factory=list)  # times of frames with a face outside

    @property
    def video_s(self) -> float:
        return self.frames / 30.0


def _contains(crop: tuple[int, int, int, int], face: FaceBox) -> bool:
    x, y, w, h = crop
    return face.x >= x and face.y >= y and face.x + face.w <= x + w and face.y + face.h <= y + h


def _inside_area(crop: tuple[int, int, int, int], face: FaceBox) -> float:
    x, y, w, h = crop
    iw = min(x + w, face.x + face.w) - max(x, face.x)
    ih = min(y + h, face.y + face.h) - max(y, face.y)
    return float(max(0, iw) * max(0, ih))


def _edge_move(prev: tuple[int, int, int, int], cur: tuple[int, int, int, int]) -> float:
    """Mean absolute movement of the four edges, in output pixels."""
    sx, sy = OUT_W / cur[2], OUT_H / cur[3]
    left = abs(cur[0] - prev[0]) * sx
    right = abs(cur[0] + cur[2] - prev[0] - prev[2]) * sx
    top = abs(cur[1] - prev[1]) * sy
    bottom = abs(cur[1] + cur[3] - prev[1] - prev[3]) * sy
    return (left + right + top + bottom) / 4


def run_scene(
    name: str, settings: FramingSettings, detector: FaceDetector, settle_s: float
) -> SceneResult:
    sc = scene(name)
    framing = CameraFraming(sc.width, sc.height, OUT_W, OUT_H, settings, detector)
    result = SceneResult(name)
    pending: tuple[float, float, list[Detection]] | None = None  # (frame t, ready t, dets)
    prev_crop: tuple[int, int, int, int] | None = None
    prev_state: tuple[frozenset[int], bool] | None = None
    last_change = 0.0
    for t in sc.frame_times():
        bgr = render(sc, t)
        yuv = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), np.uint8)
        cpu0 = time.process_time()
        if pending is not None and t >= pending[1]:
            framing.observe(pending[0], pending[2])
            pending = None
        cpu1 = time.process_time()
        if framing.due(t):
            wall0 = time.perf_counter()
            dets = framing.detect(yuv)
            wall = time.perf_counter() - wall0
            result.detect_cpu_s += time.process_time() - cpu1
            result.detect_wall_ms.append(wall * 1000)
            result.detections += 1
            pending = (t, t + wall, dets)
        cpu2 = time.process_time()
        framing.render(yuv, t)
        result.render_cpu_s += (time.process_time() - cpu2) + (cpu1 - cpu0)
        crop = framing.last_crop
        assert crop is not None
        result.frames += 1
        truth = face_truth(sc, t)
        boxes = [f.box for f in truth]
        if crop == (0, 0, sc.width, sc.height):
            result.wide_frames += 1
        if boxes:
            result.face_frames += 1
            if all(_contains(crop, b) for b in boxes):
                result.inside += 1
            else:
                result.missed.append(t)
            area = sum(_inside_area(crop, b) for b in boxes)
            result.framed_share += area / (crop[2] * crop[3])
            result.raw_share += sum(b.w * b.h for b in boxes) / (sc.width * sc.height)
        moving = any(f.moving for f in truth)
        state = (frozenset(f.person for f in truth), moving)
        if state != prev_state or moving:
            last_change = t
        if prev_crop is not None and not moving and prev_state is not None and not prev_state[1]:
            move = _edge_move(prev_crop, crop)
            result.still_moves.append(move)
            if t - last_change >= settle_s:
                result.settled_moves.append(move)
        prev_crop, prev_state = crop, state
    return result


def _pct(num: float, den: float) -> str:
    return f"{100 * num / den:.1f}%" if den else "-"


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def table(results: Sequence[SceneResult]) -> list[str]:
    lines = [
        "| scene | frames with faces | every face inside | faces' share framed | raw | ratio "
        "| jitter still px/fr | jitter settled px/fr | wide-shot frames | detections "
        "| CPU detect | CPU framer+render | CPU total |",
        "|---" * 13 + "|",
    ]
    total = SceneResult("all")
    for r in [*results, total]:
        if r is total:
            for x in results:
                total.frames += x.frames
                total.face_frames += x.face_frames
                total.inside += x.inside
                total.framed_share += x.framed_share
                total.raw_share += x.raw_share
                total.still_moves += x.still_moves
                total.settled_moves += x.settled_moves
                total.wide_frames += x.wide_frames
                total.detections += x.detections
                total.detect_cpu_s += x.detect_cpu_s
                total.render_cpu_s += x.render_cpu_s
        framed = r.framed_share / r.face_frames if r.face_frames else 0.0
        raw = r.raw_share / r.face_frames if r.face_frames else 0.0
        ratio = f"{framed / raw:.2f}x" if raw else "-"
        det = 100 * r.detect_cpu_s / r.video_s
        ren = 100 * r.render_cpu_s / r.video_s
        name = "**all**" if r is total else r.name
        lines.append(
            f"| {name} | {r.face_frames}/{r.frames} | {_pct(r.inside, r.face_frames)} "
            f"| {100 * framed:.2f}% | {100 * raw:.2f}% | {ratio} "
            f"| {_mean(r.still_moves):.3f} ({len(r.still_moves)}) "
            f"| {_mean(r.settled_moves):.3f} ({len(r.settled_moves)}) "
            f"| {r.wide_frames} | {r.detections} | {det:.1f}% | {ren:.1f}% | {det + ren:.1f}% |"
        )
    return lines


def verdicts(results: Sequence[SceneResult]) -> list[str]:
    face_frames = sum(r.face_frames for r in results)
    inside = sum(r.inside for r in results) / max(1, face_frames)
    still = _mean([m for r in results for m in r.still_moves])
    settled = _mean([m for r in results for m in r.settled_moves])
    framed = sum(r.framed_share for r in results) / max(1, face_frames)
    raw = sum(r.raw_share for r in results) / max(1, face_frames)
    video = sum(r.video_s for r in results)
    cpu = 100 * sum(r.detect_cpu_s + r.render_cpu_s for r in results) / video

    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    return [
        f"- every face inside the output: {100 * inside:.2f}% of frames with faces "
        f"(target >= {100 * TARGET_INSIDE:.0f}%) {met(inside >= TARGET_INSIDE)}",
        f"- jitter while people sit still: {settled:.3f} px/frame settled, {still:.3f} "
        f"px/frame counting wanted reframing (target <= {TARGET_JITTER_PX}) "
        f"{met(settled <= TARGET_JITTER_PX)} settled, {met(still <= TARGET_JITTER_PX)} all",
        f"- faces' share of the picture: {100 * framed:.2f}% framed vs {100 * raw:.2f}% raw, "
        f"{framed / raw:.2f}x (target > 1x) {met(framed > raw)}",
        f"- CPU per 1280x720 30 fps camera: {cpu:.1f}% of one core "
        f"(target <= {TARGET_CPU_PCT:.0f}%) {met(cpu <= TARGET_CPU_PCT)}",
    ]


def _machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count()
    pinned = len(os.sched_getaffinity(0))
    return (
        f"{model}, {cores} cores ({pinned} usable by this run), Linux {platform.release()}, "
        f"Python {platform.python_version()}, OpenCV {cv2.__version__}, numpy {np.__version__}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, help="write the section to this markdown file")
    parser.add_argument("--scenes", default=",".join(SCENE_NAMES), help="comma-separated")
    parser.add_argument(
        "--settle", type=float, default=4.0, help="seconds left out of 'jitter settled'"
    )
    parser.add_argument("--tiles", help="detector tiling COLSxROWS (default: the settings')")
    parser.add_argument("--interval", type=float, help="seconds between detections")
    args = parser.parse_args(argv)
    overrides: dict[str, float | int] = {}
    if args.tiles:
        cols, rows = (int(v) for v in args.tiles.split("x"))
        overrides.update(detector_tile_cols=cols, detector_tile_rows=rows)
    if args.interval:
        overrides["detection_interval_s"] = args.interval
    # One thread: the worker gets a share of one core per camera, so time one core's work.
    cv2.setNumThreads(1)
    settings = FramingSettings(**overrides)  # type: ignore[arg-type]
    detector = FaceDetector(settings)
    start = time.monotonic()
    results = [run_scene(name, settings, detector, args.settle) for name in args.scenes.split(",")]
    elapsed = time.monotonic() - start
    wall = [ms for r in results for ms in r.detect_wall_ms]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "taskset -c 0 .venv/bin/python -m benchmarks.framing_eval " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    lines = [
        f"Run {when}, {elapsed:.0f} s: `{command}`",
        "",
        f"Machine: {_machine()}.",
        "",
        f"{len(results)} scenes x 20 s at 30 fps, 1280x720 yuv420p in, {OUT_W}x{OUT_H} out. "
        f"Detector: BlazeFace full-range (cv2.dnn), {settings.detector_tile_cols}x"
        f"{settings.detector_tile_rows} tiles of {settings.detector_tile_share:.2f} x frame "
        f"height, every {settings.detection_interval_s} s; wall time per detection median "
        f"{statistics.median(wall):.1f} ms, max {max(wall):.1f} ms. Jitter columns give the "
        f"frame pairs counted in brackets; 'settled' leaves out {args.settle:g} s after a face "
        "appeared, disappeared or moved.",
        "",
        *table(results),
        "",
        *verdicts(results),
    ]
    missed = [(r.name, t) for r in results for t in r.missed]
    if missed:
        lines += [
            "",
            "Frames with a face outside the output: "
            + ", ".join(f"{n} t={t:.2f}" for n, t in missed[:20])
            + (" ..." if len(missed) > 20 else ""),
        ]
    print("\n".join(lines))
    if args.out:
        report.replace_section(args.out, lines, BEGIN, END, "Auto-framing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
