"""RecordingManifest: append-only, fsync'd JSON lines; read_manifest survives a torn line."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import pytest

from recorder.manifest import ManifestError, RecordingManifest, read_manifest

TRACK = {
    "file": "PA_1-camera.webm",
    "track_sid": "TR_1",
    "participant_sid": "PA_1",
    "identity": "alice",
    "name": "Alice",
    "source": "camera",
    "kind": "video",
    "codec": "vp8",
    "clock_rate": 90000,
    "first_rtp": 12345,
    "first_wall": 1700000000.25,
}


def test_events_round_trip_in_order(tmp_path: Path) -> None:
    path = tmp_path / "rec" / "manifest.jsonl"
    with RecordingManifest(path) as manifest:
        manifest.track(**TRACK)
        manifest.pause(at=10.0)
        manifest.resume(at=12.5)
        manifest.track_end(file="PA_1-camera.webm", at=20.0)
        manifest.end()
    events = read_manifest(path)
    assert events[:4] == [
        {"event": "track", **TRACK},
        {"event": "pause", "at": 10.0},
        {"event": "resume", "at": 12.5},
        {"event": "track_end", "file": "PA_1-camera.webm", "at": 20.0},
    ]
    assert events[4]["event"] == "end" and isinstance(events[4]["at"], float)
    # One JSON object per line, nothing else.
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(isinstance(json.loads(x), dict) for x in lines[:-1])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_each_line_is_on_disk_when_append_returns(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    manifest = RecordingManifest(path)
    manifest.pause(at=1.0)
    # Read through a separate descriptor while the writer is still open.
    assert read_manifest(path) == [{"event": "pause", "at": 1.0}]
    manifest.close()


def test_a_torn_last_line_is_ignored_and_a_reopened_manifest_starts_a_fresh_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "manifest.jsonl"
    with RecordingManifest(path) as manifest:
        manifest.track(**TRACK)
    # SIGKILL in the middle of the next write(2).
    with path.open("ab") as file:
        file.write(b'{"event":"pause","a')
    assert read_manifest(path) == [{"event": "track", **TRACK}]
    with RecordingManifest(path) as manifest:
        manifest.resume(at=3.0)
    assert read_manifest(path) == [{"event": "track", **TRACK}, {"event": "resume", "at": 3.0}]


def test_reader_skips_garbage_lines_but_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(
        b'{"event":"pause","at":1}\n\xff\xfe\n[1,2]\n{"event":"nope"}\n\n{"event":"end","at":2}'
    )
    assert read_manifest(path) == [{"event": "pause", "at": 1}, {"event": "end", "at": 2}]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"event": "start"}, "unknown manifest event"),
        ({"at": 1.0}, "unknown manifest event"),
        ({"event": "track_end", "at": 1.0}, "lacks"),
        ({"event": "pause", "at": math.nan}, "not JSON"),
        ({"event": "pause", "at": object()}, "not JSON"),
        ({"event": "pause", "at": 1.0, "note": "x" * 70000}, "bytes long"),
    ],
)
def test_bad_records_are_refused_and_nothing_is_written(
    tmp_path: Path, record: dict[str, object], message: str
) -> None:
    path = tmp_path / "manifest.jsonl"
    with RecordingManifest(path) as manifest:
        with pytest.raises(ManifestError, match=message):
            manifest.append(record)
        with pytest.raises(ManifestError, match="finite"):
            manifest.pause(at=math.inf)
    assert path.read_bytes() == b""


def test_close_is_idempotent_and_appending_afterwards_is_a_clear_error(tmp_path: Path) -> None:
    manifest = RecordingManifest(tmp_path / "manifest.jsonl")
    manifest.close()
    manifest.close()
    assert manifest.closed
    with pytest.raises(ManifestError, match="closed"):
        manifest.end(at=1.0)


def test_a_full_disk_raises_instead_of_losing_lines_silently(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    path = tmp_path / "manifest.jsonl"
    path.symlink_to("/dev/full")
    with RecordingManifest(path) as manifest, pytest.raises(OSError):
        manifest.end(at=1.0)
