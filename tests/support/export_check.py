"""Reading an exported MP4 back with PyAV: its streams, pictures and sound, for export tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Mp4:
    codecs: dict[str, str]  # stream type -> codec name
    duration: float  # seconds: the container's
    video_frames: int
    width: int
    height: int


def probe(path: Path) -> Mp4:
    with av.open(str(path)) as container:
        codecs = {s.type: s.codec_context.name for s in container.streams}
        video = container.streams.video[0]
        frames = sum(1 for p in container.demux(video) if p.size)
        assert container.duration is not None
        return Mp4(
            codecs,
            container.duration / 1_000_000,
            frames,
            video.codec_context.width,
            video.codec_context.height,
        )


def frames_at(path: Path, times: list[float]) -> list[Image]:
    """RGB pictures of the frames showing at ``times`` (seconds), decoding from the start."""
    wanted = sorted(times)
    pictures: list[Image] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if not wanted:
                break
            if frame.time is not None and frame.time >= wanted[0] - 1e-6:
                pictures.append(frame.to_ndarray(format="rgb24"))
                wanted.pop(0)
    return pictures


def share_of(picture: Image, colour: tuple[int, int, int], tolerance: int = 45) -> float:
    """The fraction of the picture's pixels within ``tolerance`` of ``colour`` (each channel)."""
    difference = np.abs(picture.astype(np.int16) - np.array(colour, dtype=np.int16))
    return float(np.mean(np.all(difference <= tolerance, axis=-1)))


def audio(path: Path, start: float = 0.0, end: float | None = None) -> tuple[np.ndarray, int]:
    """The first audio stream as mono float samples in [start, end) seconds, and its rate."""
    chunks: list[np.ndarray] = []
    rate = 0
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            rate = frame.sample_rate
            samples = frame.to_ndarray()
            chunks.append(samples.mean(axis=0) if samples.ndim == 2 else samples)
    signal = np.concatenate(chunks).astype(np.float64)
    first = int(start * rate)
    last = len(signal) if end is None else int(end * rate)
    return signal[first:last], rate


def tone_strength(signal: np.ndarray, rate: int, frequency: float) -> float:
    """How far the spectrum's peak near ``frequency`` (±8 Hz) stands above its median."""
    window = np.hanning(len(signal))
    spectrum = np.abs(np.fft.rfft(signal * window))
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    near = spectrum[(freqs > frequency - 8) & (freqs < frequency + 8)]
    return float(near.max() / (np.median(spectrum) + 1e-12))
