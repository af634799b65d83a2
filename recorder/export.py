"""The export job: a recording folder -> one MP4 (H.264 + AAC) for people to watch.

Runs in a worker process (``python -m recorder.export``, recorder/export_main.py), never in
the SFU's: it decodes and encodes, which is what the recorder itself avoids.

Streaming throughout: each track file is read a packet at a time with PyAV, one decoded
video frame ahead and about one audio frame ahead per track, so memory does not grow with
the meeting's length. The output frame loop advances one clock: for output frame ``i`` it
mixes the audio of that frame's 1/fps seconds (recorder/mixer.py), asks the level meter who
speaks, lays out who is present (recorder/layout.py), draws (recorder/compositor.py) and
encodes. The MP4 is written next to ``out`` under a hidden ``.partial`` name and renamed
into place only when complete: a failed or cancelled export leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import fractions
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from .compositor import Compositor, VideoTrackReader
from .layout import LAYOUTS, arrange
from .mixer import RATE, AudioTrackReader, Mixer
from .timeline import ExportError, NotExportable, PlacedTrack, Timeline, load_timeline

log = logging.getLogger(__name__)

MAX_WIDTH, MAX_HEIGHT, MAX_FPS = 3840, 2160, 60
# x264: "veryfast" keeps a 720p composite well ahead of real time on one core; CRF 23 is
# x264's default quality. A keyframe every 2 s lets players seek in a long meeting.
X264_OPTIONS = {"preset": "veryfast", "crf": "23"}
KEYFRAME_INTERVAL_S = 2
AUDIO_BIT_RATE = 96_000
# +faststart: the index (moov) goes first, so a browser plays the download while it loads.
MP4_OPTIONS = {"movflags": "+faststart"}
PROGRESS_STEP = 0.01

__all__ = ["ExportError", "ExportResult", "NotExportable", "export"]


@dataclass(frozen=True)
class ExportResult:
    out: Path
    duration_s: float  # of the MP4 (frames / fps)
    frames: int
    audio_tracks: int
    video_tracks: int
    participants: int
    elapsed_s: float  # wall-clock time the export took
    skipped: tuple[str, ...]  # files of the manifest not exported, with the reason
    decode_errors: int  # packets the decoders refused (skipped, not fatal)


def export(
    folder: Path,
    out: Path,
    *,
    layout: str = "grid",
    width: int = 1280,
    height: int = 720,
    fps: int = 15,
    progress: Callable[[float], None] | None = None,
) -> ExportResult:
    """Export ``folder`` (a recording: manifest.jsonl and its track files) to ``out``.

    Raises ValueError for bad arguments, NotExportable when the folder holds nothing to
    export, ExportError when the output cannot be written. ``progress`` gets fractions in
    [0, 1], about every 1 %, and 1.0 at the end."""
    _check_arguments(layout, width, height, fps)
    began = time.monotonic()
    timeline = load_timeline(Path(folder))
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    readers = _Readers(timeline)
    try:
        frames = _encode(timeline, readers, partial, layout, width, height, fps, progress)
        os.replace(partial, out)
    except (av.FFmpegError, OSError) as exc:
        raise ExportError(f"exporting {folder} to {out} failed: {exc}") from exc
    finally:
        readers.close()
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()  # only still there if something failed
    return ExportResult(
        out=out,
        duration_s=frames / fps,
        frames=frames,
        audio_tracks=len(readers.mixer.readers),
        video_tracks=len(readers.video),
        participants=len(timeline.participants),
        elapsed_s=time.monotonic() - began,
        skipped=timeline.skipped + tuple(readers.skipped),
        decode_errors=readers.errors(),
    )


class _Readers:
    """Every track's streaming reader; a file that fails to open is skipped, not fatal."""

    def __init__(self, timeline: Timeline) -> None:
        self.skipped: list[str] = []
        self.video: list[tuple[PlacedTrack, VideoTrackReader]] = []
        audio: list[tuple[str, AudioTrackReader]] = []
        try:
            for track in timeline.tracks:
                try:
                    if track.kind == "audio":
                        audio.append((track.identity, AudioTrackReader(track.path, track.start)))
                    else:
                        reader = VideoTrackReader(track.path, track.start, track.source)
                        self.video.append((track, reader))
                except (av.FFmpegError, OSError, ValueError) as exc:
                    self.skipped.append(f"{track.path.name!r}: {exc}")
        finally:
            self.mixer = Mixer(audio)

    def camera(self, identity: str, t: float) -> VideoTrackReader | None:
        """The participant's camera at clock time ``t`` (the newest file if several)."""
        live = [
            (track.start, reader)
            for track, reader in self.video
            if track.identity == identity and track.source == "camera" and track.covers(t)
        ]
        return max(live, key=lambda item: item[0])[1] if live else None

    def share(self, t: float) -> tuple[str, VideoTrackReader] | None:
        """The screen share on screen at ``t``: the newest one showing a picture."""
        showing = [
            (track.start, track.identity, reader)
            for track, reader in self.video
            if track.source == "screen_share" and track.covers(t) and reader.frame_at(t)
        ]
        if not showing:
            return None
        _, identity, reader = max(showing, key=lambda item: item[0])
        return identity, reader

    def errors(self) -> int:
        return sum(r.errors for _, r in self.video) + sum(r.errors for _, r in self.mixer.readers)

    def close(self) -> None:
        self.mixer.close()
        for _, reader in self.video:
            with contextlib.suppress(av.FFmpegError):
                reader.close()


def _encode(
    timeline: Timeline,
    readers: _Readers,
    path: Path,
    layout: str,
    width: int,
    height: int,
    fps: int,
    progress: Callable[[float], None] | None,
) -> int:
    frames = max(1, round(timeline.duration * fps))
    names = {p.identity: p.name for p in timeline.participants}
    compositor = Compositor(width, height)
    with av.open(str(path), "w", format="mp4", options=dict(MP4_OPTIONS)) as output:
        video = output.add_stream("libx264", rate=fps, options=dict(X264_OPTIONS))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.gop_size = fps * KEYFRAME_INTERVAL_S
        audio: Any = output.add_stream("aac", rate=RATE, layout="mono")
        audio.bit_rate = AUDIO_BIT_RATE
        reported = 0.0
        for index in range(frames):
            first, last = index * RATE // fps, (index + 1) * RATE // fps
            block = readers.mixer.read(timeline.sample_spans(first, last, RATE))
            sound = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout="mono")
            sound.sample_rate, sound.pts = RATE, first
            sound.time_base = fractions.Fraction(1, RATE)
            output.mux(audio.encode(sound))

            t = timeline.wall_time(index / fps)
            people = [p.identity for p in timeline.present(t)]
            speaker = readers.mixer.meter.loudest(people)
            shared = readers.share(t)
            arrangement = arrange(layout, people, speaker, shared is not None, width, height)
            cameras = {identity: readers.camera(identity, t) for identity in people}
            canvas = compositor.draw(t, arrangement, shared[1] if shared else None, cameras, names)
            picture = av.VideoFrame.from_ndarray(canvas, format="rgb24")  # copies the canvas
            picture.pts = index
            picture.time_base = fractions.Fraction(1, fps)
            output.mux(video.encode(picture))

            done = (index + 1) / frames
            if progress is not None and done - reported >= PROGRESS_STEP and index + 1 < frames:
                reported = done
                progress(done)
        output.mux(video.encode(None))
        output.mux(audio.encode(None))
    if progress is not None:
        progress(1.0)
    return frames


def _check_arguments(layout: str, width: int, height: int, fps: int) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    for name, value, top in (("width", width, MAX_WIDTH), ("height", height, MAX_HEIGHT)):
        # Even: yuv420p stores chroma at half resolution.
        if not isinstance(value, int) or not 16 <= value <= top or value % 2:
            raise ValueError(f"{name} must be an even integer in [16, {top}], got {value!r}")
    if not isinstance(fps, int) or not 1 <= fps <= MAX_FPS:
        raise ValueError(f"fps must be an integer in [1, {MAX_FPS}], got {fps!r}")


if __name__ == "__main__":  # python -m recorder.export
    from .export_main import main

    raise SystemExit(main())
