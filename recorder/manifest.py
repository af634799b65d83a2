"""The manifest of a recording: append-only JSON lines, one event per line.

Events (the recording contract, issue 4):

- ``track``: ``file, track_sid, participant_sid, identity, name, source, kind, codec,
  clock_rate, first_rtp, first_wall`` (``first_wall``: unix time of the RTP timestamp
  ``first_rtp``, from an RTCP sender report when there is one, else the arrival time);
- ``pause`` / ``resume``: ``at``;
- ``track_end``: ``file, at``;
- ``end``: ``at``.

Each line is written with one ``write(2)`` on an ``O_APPEND`` descriptor and fsync'd before
the call returns, so a crash (SIGKILL, power cut) loses at most the line being written, and
that line is torn only at its end. ``read_manifest`` skips such a torn line; a writer that
reopens a manifest whose last line is torn starts on a fresh line, so the damage stays in
that one line.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The fields a reader (the export job, the recordings API) cannot do without, per event.
REQUIRED: dict[str, tuple[str, ...]] = {
    "track": ("file", "kind", "codec", "clock_rate", "first_rtp", "first_wall"),
    "pause": ("at",),
    "resume": ("at",),
    "track_end": ("file", "at"),
    "end": ("at",),
}
# A line longer than this is a bug (names are bounded by the protocol), not a record.
MAX_LINE_BYTES = 64 * 1024


class ManifestError(Exception):
    """The manifest refused a record (closed, unknown event, missing field, not JSON)."""


class RecordingManifest:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Recordings are private to the service: owner-only, like the database.
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if _ends_torn(self.path):
                self._write_all(b"\n")  # a SIGKILL mid-line: keep the fragment on its own
        except BaseException:
            self.close()
            raise

    @property
    def closed(self) -> bool:
        return self._fd is None

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one event line (validated), flushed and fsync'd before returning."""
        if self._fd is None:
            raise ManifestError(f"manifest {self.path} is closed")
        event = record.get("event")
        if event not in REQUIRED:
            raise ManifestError(f"unknown manifest event {event!r}: one of {list(REQUIRED)}")
        missing = [key for key in REQUIRED[event] if key not in record]
        if missing:
            raise ManifestError(f"manifest event {event!r} lacks {missing}")
        try:
            # allow_nan=False: NaN/Infinity are not JSON (RFC 8259 §6); other readers choke.
            line = json.dumps(dict(record), allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise ManifestError(f"manifest event {event!r} is not JSON: {exc}") from exc
        data = line.encode() + b"\n"
        if len(data) > MAX_LINE_BYTES:
            raise ManifestError(f"manifest event {event!r} is {len(data)} bytes long")
        self._write_all(data)
        os.fsync(self._fd)

    def track(self, **fields: Any) -> None:
        self.append({"event": "track", **fields})

    def pause(self, at: float | None = None) -> None:
        self.append({"event": "pause", "at": _now(at)})

    def resume(self, at: float | None = None) -> None:
        self.append({"event": "resume", "at": _now(at)})

    def track_end(self, file: str, at: float | None = None) -> None:
        self.append({"event": "track_end", "file": file, "at": _now(at)})

    def end(self, at: float | None = None) -> None:
        self.append({"event": "end", "at": _now(at)})

    def close(self) -> None:
        """Idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> RecordingManifest:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write_all(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """Every complete event of a manifest, in order; torn or unreadable lines are skipped."""
    events: list[dict[str, Any]] = []
    for raw in Path(path).read_bytes().split(b"\n"):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError:  # a line torn by a crash (UnicodeDecodeError is a ValueError)
            continue
        if isinstance(value, dict) and value.get("event") in REQUIRED:
            events.append(value)
    return events


def _ends_torn(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(0, os.SEEK_END)
        if file.tell() == 0:
            return False
        file.seek(-1, os.SEEK_END)
        return file.read(1) != b"\n"


def _now(at: float | None) -> float:
    if at is None:
        return round(time.time(), 6)
    if not math.isfinite(at):
        raise ManifestError(f"event time must be finite, got {at!r}")
    return at
