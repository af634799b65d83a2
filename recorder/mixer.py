"""Audio of an export: every audio track decoded, placed on the timeline, and mixed.

``AudioTrackReader`` streams one file through PyAV (a frame at a time, never the whole
track), resamples to 48 kHz mono and answers "the samples of clock range [a, b)": zeros
where the track has nothing (before it starts, in its gaps, after it ends). ``Mixer`` sums
the readers, keeps a ``Limiter`` on the sum so three loud people never wrap or clip hard,
and measures each participant's level for the speaker layout (``LevelMeter``).
"""

from __future__ import annotations

import collections
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from .track_decoder import TrackDecoder

log = logging.getLogger(__name__)

RATE = 48_000  # Opus's own rate (RFC 7587 §4.1) and AAC's usual one: no resampling for Opus
# A frame that starts within this distance of where the previous one ended continues it:
# timestamps jitter by a few samples (resampler delay, Opus pre-skip) and a 1-sample gap or
# overlap would otherwise click. A larger jump is a real gap (or an overlap to drop).
CONTINUITY_SAMPLES = RATE // 100  # 10 ms
# Speaker detection window ("who spoke in the last half second") and the level below which
# nobody is speaking (-50 dBFS RMS: room noise through a gated microphone).
LEVEL_WINDOW_S = 0.5
SILENCE_RMS = 10 ** (-50 / 20)
# A new speaker takes over only when clearly louder than the current one (no flapping
# between two people talking at once).
SPEAKER_SWITCH_RATIO = 1.5
# Limiter: the sum is scaled so its peak stays under this; the gain recovers slowly (about
# 1/s) so the level does not pump between blocks.
LIMIT = 0.98
RELEASE_PER_S = 1.0

Samples = npt.NDArray[np.float32]


class AudioTrackReader:
    """One audio file as clock samples; reads must go forward (a streaming decoder)."""

    def __init__(self, path: Path, start_s: float) -> None:
        self.path = path
        self._start = round(start_s * RATE)  # clock sample of the file's pts 0
        self._decoder = TrackDecoder(path, "audio")
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        self._chunks: collections.deque[tuple[int, Samples]] = collections.deque()
        self._end = self._start  # clock sample after the last decoded one
        self._done = False

    def read(self, first: int, count: int) -> Samples:
        """Samples ``[first, first + count)`` of the clock (float32, silence where none)."""
        last = first + count
        while True:
            while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= first:
                self._chunks.popleft()  # entirely before this read: never needed again
            if self._done or self._end >= last:
                break
            self._pull()
        out = np.zeros(count, dtype=np.float32)
        for position, samples in self._chunks:
            lo, hi = max(first, position), min(last, position + len(samples))
            if lo < hi:
                out[lo - first : hi - first] = samples[lo - position : hi - position]
        return out

    @property
    def errors(self) -> int:
        """Packets the decoder refused (skipped)."""
        return self._decoder.errors

    def close(self) -> None:
        self._decoder.close()

    def _pull(self) -> None:
        frame = next(self._decoder.frames, None)
        if frame is None:
            self._done = True
            return
        if frame.pts is None or frame.time_base is None:
            position = self._end
        else:
            position = self._start + round(float(frame.pts * frame.time_base) * RATE)
        for resampled in self._resampler.resample(frame):
            samples = resampled.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            self._place(position, samples)
            position += len(samples)

    def _place(self, position: int, samples: Samples) -> None:
        if self._chunks and abs(position - self._end) <= CONTINUITY_SAMPLES:
            position = self._end  # continuous: absorb timestamp jitter
        elif self._chunks and position < self._end:
            samples = samples[self._end - position :]  # overlaps what we have: drop it
            position = self._end
        if len(samples):
            self._chunks.append((position, samples))
            self._end = position + len(samples)


class Limiter:
    """Peak limiter for a sum of voices: instant attack, slow release, then a hard clip."""

    def __init__(self) -> None:
        self.gain = 1.0

    def process(self, block: Samples) -> Samples:
        if not len(block):
            return block
        peak = float(np.max(np.abs(block)))
        target = min(1.0, LIMIT / peak) if peak > 0 else 1.0
        released = min(1.0, self.gain + RELEASE_PER_S * len(block) / RATE)
        gain = min(target, released)
        # Ramp from the last block's gain: a step would click. The ramp's start may be
        # above the target for a few samples, which the clip catches.
        ramp = np.linspace(self.gain, gain, num=len(block), dtype=np.float32)
        self.gain = gain
        limited: Samples = np.clip(block * ramp, -1.0, 1.0).astype(np.float32, copy=False)
        return limited


class LevelMeter:
    """Each participant's RMS over the last ``LEVEL_WINDOW_S``, and who is speaking."""

    def __init__(self) -> None:
        self._history: dict[str, collections.deque[tuple[float, int]]] = {}
        self._window = round(LEVEL_WINDOW_S * RATE)
        self.speaker: str | None = None

    def add(self, identity: str, block: Samples) -> None:
        history = self._history.setdefault(identity, collections.deque())
        history.append((float(np.dot(block, block)), len(block)))
        while sum(n for _, n in history) - history[0][1] >= self._window:
            history.popleft()

    def rms(self, identity: str) -> float:
        history = self._history.get(identity)
        if not history:
            return 0.0
        energy, count = sum(e for e, _ in history), sum(n for _, n in history)
        return math.sqrt(energy / count) if count else 0.0

    def loudest(self, candidates: Sequence[str]) -> str | None:
        """The current speaker among ``candidates``; keeps the last one through silence."""
        levels = {identity: self.rms(identity) for identity in candidates}
        best = max(levels, key=lambda i: levels[i], default=None)
        current = self.speaker if self.speaker in levels else None
        if best is None or levels[best] < SILENCE_RMS:
            self.speaker = current  # silence: whoever spoke last stays on
        elif current is None or levels[best] > SPEAKER_SWITCH_RATIO * levels[current]:
            self.speaker = best
        return self.speaker


class Mixer:
    """Sum of every reader; each reader is attributed to a participant for the meter."""

    def __init__(self, readers: Sequence[tuple[str, AudioTrackReader]]) -> None:
        self.readers = list(readers)
        self.limiter = Limiter()
        self.meter = LevelMeter()

    def read(self, spans: Sequence[tuple[int, int]]) -> Samples:
        """The mixed samples of clock spans (see Timeline.sample_spans), concatenated."""
        total = sum(count for _, count in spans)
        mixed = np.zeros(total, dtype=np.float32)
        per_person: dict[str, Samples] = {}
        for identity, reader in self.readers:
            parts = [reader.read(first, count) for first, count in spans]
            block = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
            mixed += block
            if identity in per_person:
                per_person[identity] = per_person[identity] + block
            else:
                per_person[identity] = block
        for identity, block in per_person.items():
            self.meter.add(identity, block)
        return self.limiter.process(mixed)

    def close(self) -> None:
        for _, reader in self.readers:
            try:
                reader.close()
            except av.FFmpegError:
                log.warning("closing %s failed", reader.path)
