"""``python -m recorder.export``: export one recording folder to an MP4, in its own process.

    python -m recorder.export --folder DIR --out FILE.mp4 [--layout grid|speaker]
        [--width 1280] [--height 720] [--fps 15]

Standard output is JSON lines, one object per line, for a caller that shows progress (the
API, the CLI's progress bar)::

    {"progress": 0.42}                 about every 1 %
    {"done": true, "duration": 8.0, "frames": 120, "out": "...", "elapsed": 3.1,
     "skipped": []}
    {"error": "...", "exit": 3}        instead of "done" when it fails

Human-readable diagnostics go to standard error. Exit codes:

- 0: done, ``--out`` is a complete MP4;
- 1: failed: the output could not be written or encoded (nothing is left at ``--out``);
- 2: bad arguments;
- 3: nothing to export: not a recording folder, or no readable track in it;
- 4: cancelled by SIGTERM or SIGINT (nothing is left at ``--out``).
"""

from __future__ import annotations

import argparse
import enum
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from .export import ExportError, NotExportable, export
from .layout import LAYOUTS


class ExitCode(enum.IntEnum):
    DONE = 0
    FAILED = 1
    BAD_ARGUMENTS = 2
    NOTHING_TO_EXPORT = 3
    CANCELLED = 4


class Cancelled(BaseException):
    """SIGTERM/SIGINT: unwinds the export (a BaseException, so nothing swallows it)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recorder.export",
        description="Export a Sparkle recording folder to one MP4 (H.264 + AAC). Progress "
        "and the result are JSON lines on standard output.",
    )
    parser.add_argument("--folder", required=True, type=Path, help="the recording's folder")
    parser.add_argument("--out", required=True, type=Path, help="the MP4 to write")
    parser.add_argument("--layout", choices=LAYOUTS, default="grid")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=15)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    # The handler only records the signal; the export stops at its next progress report.
    # Raising from the handler itself can land inside a callback PyAV runs from C (its log
    # hook), where the exception is printed and dropped: the export then finished with
    # exit 0 although it was cancelled (seen in CI).
    received: list[str] = []

    def cancel(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)

    def report(fraction: float) -> None:
        if received:
            raise Cancelled(received[0])
        _emit({"progress": round(fraction, 3)})

    previous = {sig: signal.signal(sig, cancel) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        result = export(
            args.folder,
            args.out,
            layout=args.layout,
            width=args.width,
            height=args.height,
            fps=args.fps,
            progress=report,
        )
    except ValueError as exc:
        return _fail(str(exc), ExitCode.BAD_ARGUMENTS)
    except NotExportable as exc:
        return _fail(str(exc), ExitCode.NOTHING_TO_EXPORT)
    except ExportError as exc:
        return _fail(str(exc), ExitCode.FAILED)
    except Cancelled as exc:
        return _fail(f"cancelled by {exc}", ExitCode.CANCELLED)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _emit(
        {
            "done": True,
            "duration": round(result.duration_s, 3),
            "frames": result.frames,
            "out": str(result.out),
            "elapsed": round(result.elapsed_s, 3),
            "skipped": list(result.skipped),
        }
    )
    return ExitCode.DONE


def _fail(message: str, code: ExitCode) -> int:
    print(f"sparkle-export: {message}", file=sys.stderr)
    _emit({"error": message, "exit": int(code)})
    return code


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
