"""One loaded Whisper model turning one utterance of audio into text.

Decoding options (faster-whisper 1.2):

- ``vad_filter=False``: the live segmenter already cut the utterance (transcribe/utterances.py);
  running Silero again would cost time and may trim a soft first word.
- ``condition_on_previous_text=False``: each utterance is decoded on its own, so one bad
  caption cannot seed the next (Whisper's repetition loops, openai/whisper#1762).
- ``without_timestamps=True``: a caption needs no word times, and timestamp tokens cost steps.
- ``initial_prompt``: the participants' names ("Alice, Bob, Carol."), which raised correct
  names from 3/5 to 5/5 on Piper speech (docs/transcription.md).
- temperature fallback (0.0 -> 1.0 in 0.2 steps) with faster-whisper's default thresholds:
  a decode that is too repetitive (compression ratio > 2.4) or unsure (mean log-prob < -1)
  is retried warmer.

Cost: every call pads the audio to Whisper's 30 s window, so a 3 s caption costs ~0.45 s of
one core (RTF 0.20 on meeting sentences) where a whole file costs RTF 0.03. Encoding only
the utterance (CTranslate2 accepts fewer mel frames, whisper.cpp's ``audio_ctx`` idea) was
tried: 0.06-0.1 s per caption, but on the 259 labelled utterances WER rose from 4.2% to 27%
(the decoder, never trained on short windows, repeats the sentence or falls back to high
temperatures) and the caption p95 to 5 s; so the window stays 30 s.

Hallucination guard, measured on tiny.en int8 (tests/unit/test_recognizer.py pins silence and
white noise): 3 s of digital silence, pink noise at 0.3, brown noise at 0.5, white noise at
0.05, keyboard-like clicks, a 440 Hz tone, a 50 Hz hum, and -60 dBFS hiss gave no text at all,
with and without the names prompt: faster-whisper already drops a segment whose no-speech
probability is > 0.6 while its log-prob is < -1. What remains guarded here, because it is
cheap and each case is a known Whisper failure: a segment still over the compression-ratio
limit after every fallback (a repetition loop), the prompt echoed back verbatim (Whisper
copying its prompt on near-silence), and the "thanks for watching"-style closings that its
subtitle training data puts on silence, accepted only when the decoder was confident there
was speech (``no_speech_prob`` < ``SILENCE_PHRASE_MAX_NO_SPEECH``) since people do say
"Thank you." in meetings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from .model_settings import ModelSettings, ModelUnavailable, model_directory

RATE = 16_000
COMPRESSION_RATIO_LIMIT = 2.4  # faster-whisper's default compression_ratio_threshold
SILENCE_PHRASE_MAX_NO_SPEECH = 0.3
# What Whisper writes on silence or noise: YouTube subtitle endings in its training data.
SILENCE_PHRASES = frozenset(
    {
        "thank you",
        "thanks for watching",
        "thank you for watching",
        "thank you so much for watching",
        "please subscribe",
        "subtitles by the amaraorg community",
        "you",
        "bye",
    }
)
# Too short to hold a word: Whisper pads to 30 s anyway, so a 50 ms click costs a full decode.
MIN_AUDIO_S = 0.1


class Recognizer:
    """One model, used from one thread (a CTranslate2 model is not shared across threads here:
    one process per core runs one of these, transcribe/speech_pool.py)."""

    def __init__(self, settings: ModelSettings) -> None:
        self.settings = settings
        path = model_directory(settings)
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise ModelUnavailable("faster-whisper is not installed") from exc
        try:
            self._model: Any = WhisperModel(
                path,
                device=settings.device,
                compute_type=settings.compute_type,
                cpu_threads=settings.cpu_threads,
                num_workers=1,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            # CTranslate2 raises RuntimeError/ValueError for a bad device, compute type or a
            # corrupt model.bin; name the model so the operator knows which setting to fix.
            raise ModelUnavailable(
                f"cannot load Whisper model {settings.model!r} from {path} on "
                f"{settings.device}/{settings.compute_type}: {exc}"
            ) from exc

    def transcribe(self, audio: npt.NDArray[np.float32], prompt: str | None = None) -> str:
        """The text of one utterance (float32 mono 16 kHz), stripped; "" for no speech."""
        samples = _check_audio(audio)
        if len(samples) < MIN_AUDIO_S * RATE or not np.any(samples):
            return ""
        segments, _info = self._model.transcribe(
            samples,
            language=self.settings.language,
            beam_size=self.settings.beam_size,
            condition_on_previous_text=False,
            vad_filter=False,
            without_timestamps=True,
            initial_prompt=prompt or None,
        )
        return " ".join(kept_texts(segments, prompt)).strip()

    def transcribe_file(
        self, audio: npt.NDArray[np.float32], prompt: str | None = None
    ) -> Iterable[tuple[float, float, str]]:
        """(start s, end s, text) for each segment of a long recording, lazily.

        Whole recordings run with faster-whisper's own Silero VAD: one call per file, since
        each call costs a fixed ~0.5 s (Whisper pads every window to 30 s)."""
        samples = _check_audio(audio)
        if not len(samples):
            return
        segments, _info = self._model.transcribe(
            samples,
            language=self.settings.language,
            beam_size=self.settings.beam_size,
            condition_on_previous_text=False,
            vad_filter=True,
            initial_prompt=prompt or None,
        )
        for segment in segments:
            text = kept_text(segment, prompt)
            if text:
                yield float(segment.start), float(segment.end), text


def names_prompt(names: Iterable[str]) -> str | None:
    """Whisper's initial prompt from the participants' names: "Alice Nguyen, Bob Martinez."

    Names in the prompt make Whisper spell them as written (3/5 -> 5/5 names right on Piper
    speech, docs/transcription.md). Whisper keeps the prompt's last 223 tokens, so a huge
    roster only loses its first names."""
    cleaned = [" ".join(name.split()) for name in names if name.strip()]
    return ", ".join(dict.fromkeys(cleaned)) + "." if cleaned else None


def kept_texts(segments: Iterable[Any], prompt: str | None) -> list[str]:
    return [text for text in (kept_text(segment, prompt) for segment in segments) if text]


def kept_text(segment: Any, prompt: str | None) -> str:
    """The segment's text, or "" when it is one of Whisper's known hallucinations."""
    text = str(segment.text).strip()
    if not text:
        return ""
    if float(segment.compression_ratio) > COMPRESSION_RATIO_LIMIT:
        return ""  # still a repetition loop after the temperature fallback
    words = normalized(text)
    if prompt and words == normalized(prompt):
        return ""
    if words in SILENCE_PHRASES and float(segment.no_speech_prob) >= SILENCE_PHRASE_MAX_NO_SPEECH:
        return ""
    return text


def normalized(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", "", text.lower()).split())


def _check_audio(audio: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    samples = np.asarray(audio)
    if samples.ndim != 1:
        raise ValueError(f"audio must be mono (1-D), got shape {samples.shape}")
    if samples.dtype != np.float32:
        raise ValueError(f"audio must be float32 samples at 16 kHz, got {samples.dtype}")
    if len(samples) and not np.all(np.isfinite(samples)):
        raise ValueError("audio holds NaN or infinite samples")
    return samples
