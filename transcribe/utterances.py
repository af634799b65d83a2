"""Cutting one speaker's audio stream into utterances as it arrives, for live captions.

A caption is sent when its utterance ends, so the end-of-utterance rule sets the caption
latency: an utterance ends after ``min_silence_s`` of silence, and the caption follows one
recognition later (~0.15-0.2 s of one core for tiny.en with the 20 s encoder window of
transcribe/recognizer.py; ~0.45 s with Whisper's 30 s window, when the sweep below ran, so
its latencies are ~0.3 s higher than today's). Too short a silence splits sentences at
commas and breaths (Whisper then loses context and words at the cut); too long delays every
caption. Figures (benchmarks/transcribe_eval.py, docs/benchmarks.md, Piper speech with
natural pauses between sentences) are in ``SegmenterSettings``' docstring.

The rules follow faster-whisper's ``get_speech_timestamps`` (silero-vad's): speech starts at
a window scoring >= ``threshold``; it only counts as silence below ``threshold - 0.15``
(hysteresis, so a soft syllable does not end the utterance); an utterance longer than
``max_utterance_s`` is cut at its latest pause of >= 98 ms, or hard if it has none.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .vad import RATE, WINDOW, StreamingVad

Samples = npt.NDArray[np.float32]
# A pause this long inside a long utterance is a place to cut it (faster-whisper's value).
MIN_CUT_PAUSE_S = 0.098


@dataclass(frozen=True)
class SegmenterSettings:
    """End-of-utterance rules.

    ``min_silence_s`` = 0.5, from the sweep in benchmarks/transcribe_eval.py ``--silences``
    (259 labelled meeting utterances, Piper clean, tiny.en int8, 1 thread, 2-core machine
    shared with other jobs):

    ============  =====  =============  ======================  ==============================
    min_silence   WER    caption p50/95  sentences cut in two+  note
    ============  =====  =============  ======================  ==============================
    0.3 s         4.3%   0.83 / 0.89 s  31 of 259               fragments at commas
    0.5 s         4.2%   1.16 / 2.01 s  2 of 259                p95 1.06-1.20 s when the
                                                                machine was not contended
    0.8 s         4.2%   1.33 / 1.37 s  0                       +0.3 s on every caption
    ============  =====  =============  ======================  ==============================

    Whole meetings decoded as one file (no cutting at all) also gave 4.2%: cutting at 0.5 s
    costs no words, and 0.3 s would split one sentence in eight into separate captions.
    ``min_speech_s`` = 0.2 drops coughs and clicks but keeps "Yes." (0.35 s of Piper speech).
    ``speech_pad_s`` = 0.2 keeps word onsets/offsets the VAD scores late (Silero lags one or
    two 32 ms windows). ``max_utterance_s`` = 15 bounds a caption's delay for a speaker who
    never pauses, and keeps the audio under Whisper's 30 s window.
    """

    threshold: float = 0.5
    min_silence_s: float = 0.5
    max_utterance_s: float = 15.0
    min_speech_s: float = 0.2
    speech_pad_s: float = 0.2

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.min_silence_s < WINDOW / RATE:
            raise ValueError(f"min_silence_s must be >= {WINDOW / RATE} s (one VAD window)")
        if not 1.0 <= self.max_utterance_s <= 29.0:
            raise ValueError("max_utterance_s must be within [1, 29] s (Whisper's window is 30)")
        if self.min_speech_s < 0 or self.speech_pad_s < 0:
            raise ValueError("min_speech_s and speech_pad_s must be >= 0")
        if self.speech_pad_s > self.min_silence_s:
            raise ValueError("speech_pad_s must not exceed min_silence_s")


@dataclass(frozen=True)
class Utterance:
    audio: Samples = field(repr=False)  # float32 mono 16 kHz, with speech_pad_s each side
    start: float  # seconds on the stream's own clock (samples / 16000) where speech began
    end: float  # where speech ended (before the trailing silence)


class UtteranceSegmenter:
    """One per speaker: ``push`` audio as it arrives, get the utterances that ended."""

    def __init__(
        self, settings: SegmenterSettings = SegmenterSettings(), session: Any = None
    ) -> None:
        self.settings = settings
        self._vad = StreamingVad(session)
        self._chunks: deque[tuple[int, Samples]] = deque()  # (first sample, samples)
        self._received = 0  # samples pushed so far
        self._scored = 0  # first sample of the next window the VAD will score
        self._pad = round(settings.speech_pad_s * RATE)
        self._neg_threshold = max(settings.threshold - 0.15, 0.01)
        self._speech_start: int | None = None  # sample where the current utterance began
        self._silence_start = 0  # sample where the current run of silence began (0 = none)
        self._cut = 0  # latest pause (its midpoint) usable to split a long utterance

    @property
    def position(self) -> float:
        """Seconds of audio pushed so far (the stream clock now)."""
        return self._received / RATE

    def push(self, samples: Samples) -> list[Utterance]:
        """Feed a float32 16 kHz mono chunk (any length); returns utterances that ended."""
        chunk = np.asarray(samples, dtype=np.float32).reshape(-1)
        if not len(chunk):
            return []
        if not np.all(np.isfinite(chunk)):
            raise ValueError("audio holds NaN or infinite samples")
        self._chunks.append((self._received, chunk.copy()))
        self._received += len(chunk)
        ended: list[Utterance] = []
        for probability in self._vad.push(chunk):
            ended.extend(self._step(self._scored, probability))
            self._scored += WINDOW
        self._forget()
        return ended

    def flush(self) -> list[Utterance]:
        """At the end of the stream: the utterance in progress, if it has enough speech."""
        start = self._speech_start
        end = self._silence_start or self._received
        self._speech_start, self._silence_start, self._cut = None, 0, 0
        # The stream may go on (a track that resumes): the VAD starts afresh on the next
        # sample, and the partial window it held is dropped with the flushed audio.
        self._vad.reset()
        self._scored = self._received
        found = [] if start is None else self._utterance(start, end)
        self._chunks.clear()
        return found

    def _step(self, sample: int, probability: float) -> list[Utterance]:
        settings = self.settings
        if self._speech_start is None:
            if probability >= settings.threshold:
                self._speech_start, self._silence_start, self._cut = sample, 0, 0
            return []
        if probability >= settings.threshold:
            if self._silence_start and sample - self._silence_start >= MIN_CUT_PAUSE_S * RATE:
                self._cut = (self._silence_start + sample) // 2
            self._silence_start = 0
        elif probability < self._neg_threshold and not self._silence_start:
            self._silence_start = sample
        window_end = sample + WINDOW
        if (
            self._silence_start
            and window_end - self._silence_start >= settings.min_silence_s * RATE
        ):
            found = self._utterance(self._speech_start, self._silence_start)
            self._speech_start, self._silence_start, self._cut = None, 0, 0
            return found
        if window_end - self._speech_start >= settings.max_utterance_s * RATE:
            return self._split(window_end)
        return []

    def _split(self, now: int) -> list[Utterance]:
        """The utterance reached max_utterance_s: cut at its latest pause, else right here."""
        assert self._speech_start is not None
        start = self._speech_start
        if self._cut > start:
            cut, self._speech_start = self._cut, self._cut
        else:
            cut, self._speech_start = now, now
        self._cut = 0
        return self._utterance(start, cut, pad_end=cut != now)

    def _utterance(self, start: int, end: int, pad_end: bool = True) -> list[Utterance]:
        if end - start < self.settings.min_speech_s * RATE:
            return []
        first = max(0, start - self._pad)
        last = min(self._received, end + self._pad) if pad_end else end
        return [Utterance(audio=self._slice(first, last), start=start / RATE, end=end / RATE)]

    def _slice(self, first: int, last: int) -> Samples:
        parts = [
            samples[max(first - position, 0) : max(last - position, 0)]
            for position, samples in self._chunks
            if position < last and position + len(samples) > first
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def _forget(self) -> None:
        """Drop audio no utterance can need: before the utterance (or, idle, the pad)."""
        keep_from = self._received - self._pad - 2 * WINDOW
        if self._speech_start is not None:
            keep_from = self._speech_start - self._pad
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) < keep_from:
            self._chunks.popleft()
