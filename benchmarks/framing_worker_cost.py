"""What one framed camera costs the framing worker, stage by stage, next to the engine alone.

The issue's CPU target (at most 20% of one core per 1280x720 30 fps camera) is about the
framing engine: detection a few times a second, the framer, crop and scale every frame.
A worker that publishes the framed video also decodes the camera (VP8, aiortc's decoder)
and encodes its output (VP8, aiortc's encoder: libvpx realtime, cpu-used -6, one thread
below 3 cores). This prints all three in one run, per second of 30 fps video, so the
engine's share of the whole is plain::

    taskset -c 0 .venv/bin/python -m benchmarks.framing_worker_cost [--out docs/benchmarks.md]

Method: 5 s of benchmarks/framing_scene.py's still group (1280x720) are encoded once with
aiortc's Vp8Encoder at 1.5 Mbit/s (what a browser sends for 720p; setup, not measured).
Then, measured with ``time.process_time`` (every thread of this process; run it pinned so
it is one core's work), per output size: decode every frame, run CameraFraming (detector
on its cadence, framer, render) and encode the framed frames with a fresh Vp8Encoder.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import re
import time
from collections.abc import Sequence
from pathlib import Path

import av
import cv2
import numpy as np
from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import VIDEO_TIME_BASE

from benchmarks import framing_scene
from framing.camera_framing import CameraFraming

FPS = 30
SECONDS = 5.0
CAMERA = (1280, 720)
OUTPUTS = ((1280, 720), (960, 540), (640, 360))
CAMERA_BITRATE = 1_500_000
BEGIN, END = "<!-- framing-cost:begin -->", "<!-- framing-cost:end -->"


def camera_stream(seconds: float = SECONDS) -> list[bytes]:
    """The synthetic camera as VP8 frames (one bytes object per frame)."""
    scene = framing_scene.scene("still_group")
    encoder = Vp8Encoder()
    encoder.target_bitrate = CAMERA_BITRATE
    frames: list[bytes] = []
    for i in range(round(seconds * FPS)):
        picture = framing_scene.render(scene, i / FPS)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="bgr24")
        frame.pts = i * (90_000 // FPS)
        frame.time_base = VIDEO_TIME_BASE
        payloads, _ = encoder.encode(frame, force_keyframe=i == 0)
        frames.append(b"".join(vp8_depayload(p) for p in payloads))
    return frames


def run(stream: Sequence[bytes], out: tuple[int, int]) -> dict[str, float]:
    """Core-seconds spent per stage over ``stream``."""
    decoder = Vp8Decoder()
    encoder = Vp8Encoder()
    framing: CameraFraming | None = None
    spent = {"decode": 0.0, "framing": 0.0, "encode": 0.0}
    for i, data in enumerate(stream):
        t0 = time.process_time()
        decoded = decoder.decode(JitterFrame(data, i * (90_000 // FPS)))
        t1 = time.process_time()
        spent["decode"] += t1 - t0
        for frame in decoded:
            assert isinstance(frame, av.VideoFrame)
            t = i / FPS
            t1 = time.process_time()
            yuv = np.asarray(frame.to_ndarray(format="yuv420p"), np.uint8)
            if framing is None:
                framing = CameraFraming(frame.width, frame.height, *out)
            if framing.due(t):
                framing.observe(t, framing.detect(yuv))
            framed = av.VideoFrame.from_ndarray(framing.render(yuv, t), format="yuv420p")
            framed.pts = i * (90_000 // FPS)
            framed.time_base = VIDEO_TIME_BASE
            t2 = time.process_time()
            encoder.encode(framed, force_keyframe=i == 0)
            t3 = time.process_time()
            spent["framing"] += t2 - t1
            spent["encode"] += t3 - t2
    return spent


def report(rows: list[tuple[tuple[int, int], dict[str, float]]], seconds: float) -> str:
    lines = [
        "| output | decode 720p | framing engine | VP8 encode | worker total | engine share |",
        "|---|---|---|---|---|---|",
    ]
    for out, spent in rows:
        pct = {k: 100 * v / seconds for k, v in spent.items()}
        total = sum(pct.values())
        lines.append(
            f"| {out[0]}x{out[1]} | {pct['decode']:.1f}% | {pct['framing']:.1f}% "
            f"| {pct['encode']:.1f}% | {total:.1f}% | {pct['framing'] / total:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, help="write the section into this markdown file")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="video length")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    started = datetime.datetime.now(datetime.UTC)
    stream = camera_stream(args.seconds)
    rows = [(out, run(stream, out)) for out in OUTPUTS]
    table = report(rows, args.seconds)
    header = (
        f"Run {started:%Y-%m-%d %H:%M} UTC: `taskset -c 0 .venv/bin/python -m "
        f"benchmarks.framing_worker_cost --out docs/benchmarks.md`\n\n"
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"PyAV {av.__version__}, OpenCV {cv2.__version__}. One 1280x720 {FPS} fps camera "
        f"(VP8 at {CAMERA_BITRATE // 1000} kbit/s), {args.seconds:g} s; % of one core per "
        "second of video."
    )
    print(header)
    print()
    print(table)
    if args.out is not None:
        text = args.out.read_text()
        section = f"{BEGIN}\n{header}\n\n{table}\n{END}"
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _m: section, text)
        else:
            text = text.rstrip("\n") + "\n\n### The framing worker's whole cost per camera\n\n"
            text += section + "\n"
        args.out.write_text(text)


if __name__ == "__main__":
    main()
