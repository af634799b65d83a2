"""``python -m transcribe.batch_main FILE``: transcribe a media file or a recording folder.

Writes the transcript (``--format vtt|srt|json|txt``) to ``--out`` or stdout; progress goes
to stderr, as a bar on a terminal and as JSON lines (``{"progress": 0.42, "done_s": ...,
"total_s": ...}``) otherwise, so a supervising process can parse it. Exit status: 0 done,
2 bad input or unavailable model (one line on stderr says why).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from minutes.transcript_formats import to_json, to_srt, to_text, to_webvtt

from .batch import BatchError, BatchTranscript, transcribe_path
from .model_settings import ModelSettings, ModelUnavailable
from .recognizer import Recognizer

FORMATS = {
    "vtt": to_webvtt,
    "srt": to_srt,
    "json": to_json,
    "txt": to_text,
}
BAR_WIDTH = 30
# JSON progress lines at most this often: a supervisor needs a heartbeat, not a flood.
PROGRESS_INTERVAL_S = 0.5


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sparkle transcribe",
        description="Transcribe a media file or a Sparkle recording folder with Whisper.",
    )
    parser.add_argument("file", type=Path, help="a media file or a recording folder")
    parser.add_argument("--format", choices=sorted(FORMATS), default="txt")
    parser.add_argument("--out", type=Path, help="output file (default: stdout)")
    parser.add_argument("--model", default=ModelSettings.model, help="size name or directory")
    parser.add_argument("--device", default=ModelSettings.device)
    parser.add_argument("--compute-type", default=ModelSettings.compute_type)
    parser.add_argument("--beam-size", type=int, default=ModelSettings.beam_size)
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="CPU threads for the model"
    )
    parser.add_argument(
        "--names", default="", help="comma-separated speaker names to spell right (media files)"
    )
    return parser.parse_args(argv)


class ProgressReporter:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last = 0.0

    def __call__(self, done: float, total: float) -> None:
        fraction = min(1.0, done / total) if total > 0 else 1.0
        now = time.monotonic()
        if fraction < 1.0 and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        if self._tty:
            filled = round(fraction * BAR_WIDTH)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            end = "\n" if fraction >= 1.0 else ""
            self._stream.write(f"\r[{bar}] {fraction:4.0%} {_clock(done)}/{_clock(total)}{end}")
        else:
            line = {"progress": round(fraction, 4), "done_s": round(done, 2)}
            self._stream.write(json.dumps({**line, "total_s": round(total, 2)}) + "\n")
        self._stream.flush()


def render(transcript: BatchTranscript, output_format: str) -> str:
    return FORMATS[output_format](transcript.segments, transcript.meeting_start)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = ModelSettings(
            model=args.model,
            device=args.device,
            compute_type=args.compute_type,
            cpu_threads=max(1, args.threads),
            beam_size=args.beam_size,
        )
        recognizer = Recognizer(settings)
        names = [name for name in args.names.split(",") if name.strip()]
        transcript = transcribe_path(args.file, recognizer, ProgressReporter(sys.stderr), names)
    except (BatchError, ModelUnavailable, ValueError) as exc:
        print(f"sparkle transcribe: {exc}", file=sys.stderr)
        return 2
    text = render(transcript, args.format)
    if args.out is None:
        sys.stdout.write(text)
    else:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"sparkle transcribe: cannot write {args.out}: {exc}", file=sys.stderr)
            return 2
    return 0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


if __name__ == "__main__":
    sys.exit(main())
