"""A child process for the crash test: TrackWriters fed in real time until killed.

``python -m tests.support.track_writer_child OUT_DIR SECONDS`` writes VP8 to
``OUT_DIR/video.webm``, H.264 to ``OUT_DIR/video.mkv`` and Opus to ``OUT_DIR/audio.ogg``,
each frame at its media time on the wall clock, and after every frame prints
``<file> <seconds of media written>`` (flushed) so the parent knows what reached the writer
before it sends SIGKILL. It never closes the writers unless it runs out of frames.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from recorder.track_writer import TrackWriter
from tests.support.encoded_frames import AUDIO_CLOCK, FPS, VIDEO_CLOCK, encoded_frames


def main(out_dir: Path, seconds: float) -> None:
    tracks = [
        ("video.webm", "vp8", VIDEO_CLOCK, encoded_frames("vp8", int(seconds * FPS))),
        ("video.mkv", "h264", VIDEO_CLOCK, encoded_frames("h264", int(seconds * FPS))),
        ("audio.ogg", "opus", AUDIO_CLOCK, encoded_frames("opus", int(seconds * 50))),
    ]
    schedule = sorted(
        (
            (frame.timestamp - frames[0].timestamp) / clock,
            name,
            frame,
        )
        for name, _, clock, frames in tracks
        for frame in frames
    )
    writers = {name: TrackWriter(out_dir / name, codec, clock) for name, codec, clock, _ in tracks}
    print("ready", flush=True)
    start = time.monotonic()
    for media_time, name, frame in schedule:
        delay = start + media_time - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        writers[name].write(frame.data, frame.timestamp)
        print(name, f"{media_time:.3f}", flush=True)
    for writer in writers.values():
        writer.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]))
