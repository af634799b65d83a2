"""Batch transcription of a media file or a recording folder (``sparkle transcribe FILE``).

A media file (anything PyAV decodes) is one speaker. A recording folder (recorder/manifest.py)
has one track file per participant, so the transcript is per speaker with no diarization:
each microphone track is decoded on its own clock (pts 0 = the track's ``first_wall``, gaps
and paused stretches kept as silence so times stay aligned) and its segments are placed at
``first_wall + t``.

Whole tracks go to faster-whisper in one call with its Silero VAD on: each call costs a fixed
~0.5 s (Whisper pads to 30 s), so cutting a recording into utterances first, as the live path
must, would only add calls. Progress is the end of the last decoded segment over the audio's
duration. Memory: a track is decoded whole (16 kHz float32: 230 MB per hour of audio).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from minutes.transcript import Segment
from recorder.timeline import AUDIO_SOURCES, ExportError, load_timeline
from recorder.track_decoder import TrackDecoder

from .recognizer import Recognizer, names_prompt

RATE = 16_000
# Frames within 10 ms of where the previous one ended are continuous (timestamp jitter from
# Opus/RTP rounding), the rule recorder/mixer.py uses for the export.
CONTINUITY_SAMPLES = RATE // 100
MAX_DURATION_S = 24 * 3600.0  # recorder/timeline.py's bound: beyond it a timestamp is wrong
MEDIA_SPEAKER = "speaker"

Samples = npt.NDArray[np.float32]
# (seconds transcribed, seconds in total)
ProgressCallback = Callable[[float, float], None]


class BatchError(Exception):
    """The input cannot be transcribed (not found, no audio, not decodable)."""


@dataclass(frozen=True)
class BatchTranscript:
    meeting_start: float  # epoch seconds of the recording's clock 0; 0.0 for a media file
    segments: list[Segment]


def transcribe_path(
    path: Path,
    recognizer: Recognizer,
    progress: ProgressCallback | None = None,
    names: Sequence[str] = (),
) -> BatchTranscript:
    """A recording folder (has ``manifest.jsonl``) or a media file; see the module doc."""
    path = Path(path)
    if path.is_dir():
        return transcribe_recording(path, recognizer, progress)
    if not path.is_file():
        raise BatchError(f"{path} does not exist")
    return transcribe_media(path, recognizer, progress, names)


def transcribe_media(
    path: Path,
    recognizer: Recognizer,
    progress: ProgressCallback | None = None,
    names: Sequence[str] = (),
) -> BatchTranscript:
    """One speaker; segment times are seconds from the file's start (meeting_start 0)."""
    audio = decode_audio(path)
    total = len(audio) / RATE
    segments = [
        Segment(identity=MEDIA_SPEAKER, name=path.stem, start=start, end=end, text=text)
        for start, end, text in _recognize(
            recognizer, audio, names_prompt(names), 0.0, total, progress
        )
    ]
    if progress is not None:
        progress(total, total)
    return BatchTranscript(meeting_start=0.0, segments=segments)


def transcribe_recording(
    folder: Path, recognizer: Recognizer, progress: ProgressCallback | None = None
) -> BatchTranscript:
    """Every microphone (and shared-tab audio) track of a recording, per speaker."""
    try:
        timeline = load_timeline(folder)
    except ExportError as exc:
        raise BatchError(str(exc)) from exc
    tracks = [t for t in timeline.tracks if t.kind == "audio" and t.source in AUDIO_SOURCES]
    if not tracks:
        raise BatchError(f"{folder} has no audio track")
    prompt = names_prompt([p.name for p in timeline.participants])
    total = sum(t.end - t.start for t in tracks)
    done = 0.0
    segments: list[Segment] = []
    for track in tracks:
        audio = decode_audio(track.path)
        origin = timeline.origin + track.start
        for start, end, text in _recognize(recognizer, audio, prompt, done, total, progress):
            segments.append(
                Segment(
                    identity=track.identity,
                    name=track.name,
                    start=round(origin + start, 3),
                    end=round(origin + end, 3),
                    text=text,
                )
            )
        done += track.end - track.start
        if progress is not None:
            progress(min(done, total), total)
    segments.sort(key=lambda s: (s.start, s.identity))
    return BatchTranscript(meeting_start=timeline.origin, segments=segments)


def decode_audio(path: Path) -> Samples:
    """The first audio stream of ``path`` as float32 mono 16 kHz, placed by timestamp.

    Samples sit at their pts (a recorded track's pts 0 is its ``first_wall``), so a gap in
    the file stays a gap of silence and segment times stay on the track's clock."""
    try:
        decoder = TrackDecoder(Path(path), "audio")
    except ValueError as exc:
        raise BatchError(str(exc)) from exc
    except (av.FFmpegError, OSError) as exc:
        raise BatchError(f"{Path(path).name} cannot be decoded: {exc}") from exc
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    placed: list[tuple[int, Samples]] = []
    end = 0
    try:
        for frame in decoder.frames:
            position = end
            if frame.pts is not None and frame.time_base is not None:
                position = max(0, round(float(frame.pts * frame.time_base) * RATE))
            for resampled in resampler.resample(frame):
                samples = resampled.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                position, samples = _continue(position, samples, end)
                if len(samples):
                    placed.append((position, samples))
                    end = position + len(samples)
                    position = end
            if end > MAX_DURATION_S * RATE:
                raise BatchError(f"{Path(path).name}: timestamps span more than 24 hours")
    except (av.FFmpegError, ValueError) as exc:
        raise BatchError(f"{Path(path).name} cannot be decoded: {exc}") from exc
    finally:
        decoder.close()
    audio = np.zeros(end, dtype=np.float32)
    for position, samples in placed:
        audio[position : position + len(samples)] = samples
    return audio


def _continue(position: int, samples: Samples, end: int) -> tuple[int, Samples]:
    if end and abs(position - end) <= CONTINUITY_SAMPLES:
        return end, samples  # continuous: absorb timestamp jitter
    if position < end:
        return end, samples[end - position :]  # overlaps what we have: drop the overlap
    return position, samples


def _recognize(
    recognizer: Recognizer,
    audio: Samples,
    prompt: str | None,
    done: float,
    total: float,
    progress: ProgressCallback | None,
) -> list[tuple[float, float, str]]:
    found: list[tuple[float, float, str]] = []
    for start, end, text in recognizer.transcribe_file(audio, prompt):
        found.append((start, end, text))
        if progress is not None and total > 0:
            progress(min(done + end, total), total)
    return found
