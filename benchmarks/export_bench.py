"""Export benchmark: how fast ``recorder.export`` turns a meeting into an MP4, vs real time.

    python -m benchmarks.export_bench [--seconds 8] [--people 3] [--layout grid]

Writes a synthetic recording folder the way the recorder does (tests/support/
recording_folder.py: each participant a 640x480@30 VP8 camera with moving content and an
Opus tone, through the recorder's TrackWriter and manifest), exports it at 1280x720, 15 fps
and prints the wall time, the CPU time and the speed as a multiple of real time.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from recorder.export import export
from tests.support.recording_folder import Person, make_recording

PEOPLE = [
    Person("ann", (230, 30, 30), 440.0),
    Person("bob", (40, 60, 230), 550.0),
    Person("cid", (40, 200, 60), 660.0),
    Person("dan", (230, 200, 40), 770.0),
    Person("eve", (200, 40, 200), 880.0),
    Person("fay", (40, 200, 200), 990.0),
]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export_bench")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--people", type=int, default=3, choices=range(1, len(PEOPLE) + 1))
    parser.add_argument("--layout", choices=("grid", "speaker"), default="grid")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_recording(
            Path(tmp) / "rec",
            PEOPLE[: args.people],
            duration=args.seconds,
            fps=30,
            size=(640, 480),
            moving=True,
        )
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        result = export(folder, Path(tmp) / "out.mp4", layout=args.layout)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        peak_mb = after.ru_maxrss / 1024
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(
        f"export of {result.duration_s:.1f} s, {args.people} x 640x480@30 VP8 + Opus -> "
        f"1280x720@15 H.264 + AAC ({args.layout}): wall {wall:.2f} s "
        f"({result.duration_s / wall:.1f}x real time), CPU {cpu:.2f} s "
        f"({cpu / result.duration_s * 100:.0f}% of one core per second of meeting), "
        f"peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
