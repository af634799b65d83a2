"""How many log-mel frames Whisper's encoder sees for one utterance.

Whisper was trained on 30 s windows (3000 mel frames, 1500 encoder positions), and
faster-whisper pads every call to that: the utterance's log-mel, then zeros. On one core
the tiny.en encoder's cost is dominated by self-attention over the 1500 positions (float
sgemm + softmax, and page faults on their buffers), so it grows faster than linearly with
the window: 3000 frames 370 ms, 2000 117 ms, 1600 75 ms, 1000 38 ms (int8, one thread). A window
shorter than 30 s but longer than the speech keeps the silence after the last word that the
decoder relies on to end its sentence; the bare speech (whisper.cpp's ``audio_ctx``) does
not, and made the decoder repeat itself (recognizer.py's docstring has the measurements).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FRAMES_PER_S = 100  # 10 ms hop at 16 kHz
MAX_FRAMES = 3000  # Whisper's 30 s window
Features = npt.NDArray[np.float32]


@dataclass(frozen=True)
class EncoderWindow:
    """``max(min_s, speech + margin_s)`` seconds, rounded up to ``step_s``, at most 30 s.

    ``step_s`` buckets the window so that CTranslate2 sees a few input shapes, not one per
    utterance length. ``pad`` is what fills the frames after the speech: ``"zero"`` is
    faster-whisper's choice (a normalised log-mel of 0), ``"silence"`` is what Whisper's
    own ``log_mel_spectrogram`` gives digital silence (the utterance's maximum - 8 in log10
    units, floored at -10, then ``(x + 4) / 4``): the input it was trained on."""

    min_s: float = 30.0
    margin_s: float = 0.0
    step_s: float = 1.0
    pad: str = "zero"

    def __post_init__(self) -> None:
        if not 0.0 < self.min_s <= MAX_FRAMES / FRAMES_PER_S:
            raise ValueError(f"min_s must be in (0, 30], got {self.min_s}")
        if self.margin_s < 0 or self.step_s <= 0:
            raise ValueError("margin_s must be >= 0 and step_s > 0")
        if self.pad not in ("zero", "silence"):
            raise ValueError(f"pad must be 'zero' or 'silence', got {self.pad!r}")

    def frames(self, speech_frames: int) -> int:
        """The window for ``speech_frames`` frames of speech: even (the encoder's second
        convolution has stride 2), within [speech, 3000]."""
        wanted = max(self.min_s, speech_frames / FRAMES_PER_S + self.margin_s)
        seconds = math.ceil(wanted / self.step_s - 1e-9) * self.step_s
        frames = min(MAX_FRAMES, max(speech_frames, round(seconds * FRAMES_PER_S)))
        return min(MAX_FRAMES, frames + frames % 2)

    def fit(self, features: Features) -> Features:
        """``features`` (80 x n, n <= 3000) padded to this window's frames, C-contiguous."""
        n = features.shape[-1]
        if n > MAX_FRAMES:
            raise ValueError(f"{n} frames do not fit Whisper's {MAX_FRAMES}-frame window")
        fill = 0.0
        if self.pad == "silence" and n:
            fill = silence_level(features)
        window = np.full((features.shape[0], self.frames(n)), fill, dtype=np.float32)
        window[:, :n] = features
        return window


def silence_level(features: Features) -> float:
    """The normalised log-mel of digital silence next to ``features``.

    Whisper's normalisation: ``log_spec = max(log_spec, log_spec.max() - 8)`` then
    ``(log_spec + 4) / 4``; silence is log10(1e-10) = -10 before the clamp. In normalised
    units the clamp is ``features.max() - 2`` and the floor (-10 + 4) / 4 = -1.5."""
    return max(float(features.max()) - 2.0, -1.5)
