"""Fake camera and microphone files for Chromium's file-backed capture devices.

Chromium's ``--use-file-for-fake-video-capture`` plays a YUV4MPEG2 file in a loop and
``--use-file-for-fake-audio-capture`` a WAV file. Each browser participant gets its own
solid colour (so a test can tell whose picture arrived by sampling pixels) with a small white
marker that moves every frame (so frames really change and the encoder keeps sending), and
its own tone.

The marker stays inside the top band of ``MARKER_BAND`` rows; pixel samples for the colour
check should be taken below it.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WIDTH = 320
HEIGHT = 240
FPS = 15
SECONDS = 2
MARKER_SIZE = 24
MARKER_BAND = MARKER_SIZE + 8  # rows from the top that the marker may cover
AUDIO_RATE = 48_000
# About -10 dBFS: loud enough for Chromium's RFC 6464 audio level (~10 -dBov) to count as
# speech for the server's active-speaker detector (sfu/speaker.py: louder than 60 -dBov).
TONE_AMPLITUDE = 0.3


@dataclass(frozen=True)
class FakeMedia:
    """The two files for one participant, and what they contain."""

    rgb: tuple[int, int, int]
    tone_hz: int
    y4m: Path
    wav: Path


# Far apart in RGB so VP8 artefacts and colour-range conversions cannot make one look like
# another; the tones are whole-cycle per loop so the looped WAV has no click.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (220, 50, 50),
    (40, 190, 70),
    (50, 90, 230),
    (230, 200, 40),
)
TONES: tuple[int, ...] = (440, 660, 880, 550)


def rgb_to_ycbcr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """ITU-R BT.601 limited range, what Chromium assumes for a capture file and VP8."""
    r, g, b = (c / 255.0 for c in rgb)
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    cb = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    cr = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    return round(y), round(cb), round(cr)


def write_y4m(path: Path, rgb: tuple[int, int, int]) -> None:
    """A ``SECONDS`` long loop of a solid colour with a marker sliding left to right."""
    y, cb, cr = rgb_to_ycbcr(rgb)
    frames = FPS * SECONDS
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode()
    u_plane = np.full((HEIGHT // 2, WIDTH // 2), cb, dtype=np.uint8).tobytes()
    v_plane = np.full((HEIGHT // 2, WIDTH // 2), cr, dtype=np.uint8).tobytes()
    with open(path, "wb") as out:
        out.write(header)
        for index in range(frames):
            luma = np.full((HEIGHT, WIDTH), y, dtype=np.uint8)
            left = (index * (WIDTH - MARKER_SIZE)) // max(frames - 1, 1)
            luma[4 : 4 + MARKER_SIZE, left : left + MARKER_SIZE] = 235
            out.write(b"FRAME\n")
            out.write(luma.tobytes())
            out.write(u_plane)
            out.write(v_plane)


def write_wav(path: Path, tone_hz: int, amplitude: float = TONE_AMPLITUDE) -> None:
    """``SECONDS`` of a sine tone, 48 kHz mono signed 16-bit.

    ``amplitude`` is a fraction of full scale (0.3 is about -10 dBFS); 0.0 writes digital
    silence, which Chromium reports as audio level 127 -dBov (RFC 6464 section 3).
    """
    if not 0.0 <= amplitude <= 1.0:
        raise ValueError(f"amplitude must be within 0.0-1.0, not {amplitude}")
    t = np.arange(AUDIO_RATE * SECONDS) / AUDIO_RATE
    samples = (amplitude * 32767 * np.sin(2 * np.pi * tone_hz * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(AUDIO_RATE)
        out.writeframes(samples.tobytes())


def make_fake_media(
    directory: Path, index: int, *, tone_amplitude: float = TONE_AMPLITUDE
) -> FakeMedia:
    """Write participant ``index``'s camera and microphone files into ``directory``.

    ``tone_amplitude=0.0`` gives a silent microphone (see ``write_wav``).
    """
    rgb = PALETTE[index % len(PALETTE)]
    tone = TONES[index % len(TONES)]
    directory.mkdir(parents=True, exist_ok=True)
    media = FakeMedia(
        rgb=rgb,
        tone_hz=tone,
        y4m=directory / f"camera-{index}.y4m",
        wav=directory / f"microphone-{index}.wav",
    )
    write_y4m(media.y4m, rgb)
    write_wav(media.wav, tone, tone_amplitude)
    return media


def nearest_colour(
    rgb: tuple[int, int, int], palette: tuple[tuple[int, int, int], ...] = PALETTE
) -> tuple[tuple[int, int, int], float]:
    """The palette colour closest to ``rgb`` and its Euclidean distance."""
    best = min(palette, key=lambda c: sum((a - b) ** 2 for a, b in zip(c, rgb, strict=True)))
    distance = float(sum((a - b) ** 2 for a, b in zip(best, rgb, strict=True)) ** 0.5)
    return best, distance
