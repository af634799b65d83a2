"""A microphone that speaks: real-time 20 ms frames of 48 kHz mono, silent until told to
``say`` a sentence (speech made offline, e.g. by benchmarks/speech_audio.py), recording the
wall time each sentence started and ended, so a test can measure captions against it."""

from __future__ import annotations

import asyncio
import fractions
import time
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamTrack

RATE_OUT = 48_000
FRAME = 960  # 20 ms at 48 kHz
Samples = npt.NDArray[np.float32]


@dataclass
class Spoken:
    text: str
    start: float  # wall time of its first sample, as sent
    end: float


class SpeechTrack(MediaStreamTrack):
    """A microphone in real-time 20 ms frames of 48 kHz mono: silence until ``say``, then
    the queued speech; records the wall time each sentence started and ended."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.spoken: list[Spoken] = []
        self._queue: list[tuple[str, npt.NDArray[np.int16]]] = []
        self._current: tuple[str, npt.NDArray[np.int16], int] | None = None
        self._sample = 0
        self._start: float | None = None
        self.quiet = asyncio.Event()  # set when everything queued was played

    def say(self, text: str, samples: Samples) -> None:
        upsampled = np.interp(
            np.arange(len(samples) * 3) / 3, np.arange(len(samples)), samples
        )  # 16 -> 48 kHz
        self._queue.append((text, (np.clip(upsampled, -1, 1) * 32767).astype(np.int16)))
        self.quiet.clear()

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.time()
        else:
            self._sample += FRAME
            await asyncio.sleep(self._start + self._sample / RATE_OUT - time.time())
        now = self._start + self._sample / RATE_OUT
        out = np.zeros(FRAME, dtype=np.int16)
        filled = 0
        while filled < FRAME:
            if self._current is None:
                if not self._queue:
                    break
                text, audio = self._queue.pop(0)
                self._current = (text, audio, 0)
                self.spoken.append(Spoken(text, now + filled / RATE_OUT, 0.0))
            text, audio, position = self._current
            take = min(FRAME - filled, len(audio) - position)
            out[filled : filled + take] = audio[position : position + take]
            filled += take
            position += take
            if position >= len(audio):
                self.spoken[-1].end = now + filled / RATE_OUT
                self._current = None
                if not self._queue:
                    self.quiet.set()
            else:
                self._current = (text, audio, position)
        frame = av.AudioFrame.from_ndarray(out.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE_OUT
        frame.pts = self._sample
        frame.time_base = fractions.Fraction(1, RATE_OUT)
        return frame
