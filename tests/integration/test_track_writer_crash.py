"""SIGKILL a process that is writing tracks in real time: every file it leaves plays.

The child (tests/support/track_writer_child.py) writes VP8/WebM, H.264/Matroska and
Opus/Ogg at real-time pace and reports each frame it handed to its TrackWriter; the test
kills it with SIGKILL (no trailer, no cleanup) after about two seconds and then opens,
demuxes and decodes every file with PyAV.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.media_file import read_track

REPO = Path(__file__).resolve().parents[2]
KILL_AFTER = 2.0  # seconds of media written before the kill
# The writer keeps its newest frame in libav (one Matroska cluster, one Ogg page); anything
# beyond a frame or two lost would mean the crash-safety options are not working.
MAX_LOST = 0.1


def test_sigkill_mid_stream_leaves_files_that_decode_up_to_the_kill(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.track_writer_child", str(tmp_path), "8"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    written: dict[str, float] = {}
    try:
        assert child.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(child.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 20
        while min(written.values(), default=0.0) < KILL_AFTER or len(written) < 3:
            assert time.monotonic() < deadline, f"child too slow: {written}"
            if not selector.select(timeout=1.0):
                continue
            line = child.stdout.readline().decode()
            assert line, (
                f"child exited early: {child.stderr.read().decode() if child.stderr else ''}"
            )
            name, _, seconds = line.strip().partition(" ")
            if seconds:
                written[name] = float(seconds)
        child.send_signal(signal.SIGKILL)
        # Frames written between our last read and the kill count as written too.
        for line in child.communicate(timeout=10)[0].decode().splitlines():
            name, _, seconds = line.partition(" ")
            if seconds:
                written[name] = float(seconds)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    for name, codec in (("video.webm", "vp8"), ("video.mkv", "h264"), ("audio.ogg", "opus")):
        track = read_track(tmp_path / name)  # raises on any demux or decode error
        assert track.codec == codec
        assert track.pts[0] == 0.0
        assert track.decoded == len(track.pts) > 0
        assert written[name] - MAX_LOST <= track.pts[-1] <= written[name] + 0.001, name
