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

Cost, and the encoder window (``LIVE_WINDOW``): faster-whisper pads every call's log-mel to
Whisper's 30 s with zeros, and on one core tiny.en's encoder then costs ~370 ms whatever the
utterance's length (``perf``: a third in the kernel, page faults on the attention's large
buffers, and of the rest two thirds in the attention's float sgemm and softmax over 1500
positions; the log-mel, over the real audio only, is <1 ms, the decoder ~35 ms). So the
recognizer calls CTranslate2 itself, repeating faster-whisper's decoding step for step (same
prompt tokens, suppressed tokens, temperature fallback and no-speech rule; with a 30 s window
it gives faster-whisper's text exactly, tests/unit/test_recognizer.py), but pads to
``max(20 s, speech + 2 s)``. Measured on the 259 labelled utterances through the live path
(benchmarks/transcribe_eval.py, one pinned core, RTF = CPU s / audio s):

==========================  ============  ============  ============  =========  =====  =========
window (zero-padded)        WER clean     WER noisy     WER reverb    p50/p95 s  RTF    fallbacks
==========================  ============  ============  ============  =========  =====  =========
30 s (faster-whisper)       4.2%          5.6%          5.7%          1.04/1.09  0.177  0
max(20 s, speech + 2 s)     4.4%          5.9%          6.3%          0.74/0.77  0.070  4
same + 6 tokens/s cap       4.5%          5.9%          6.3%          0.73/0.77  0.068  5
max(15 s, speech + 2 s)     4.7-4.8%      6.1%          7.4-7.6%      0.69/0.72  0.052  5-6
==========================  ============  ============  ============  =========  =====  =========

Shorter windows fail on the first 100 utterances (clean/noisy WER): 13 s 6.0/7.1% (all 259),
12 s 5.5/7.8%, 10 s 9.1/11.9%, 8 s 7.5/27.4%, the bare speech (whisper.cpp's
``audio_ctx``) 48.5% clean, when 20 s gives 3.6/5.0% there. The failure is the decoder
repeating the whole sentence ("Fair enough. Fair enough. Fair enough.") or falling back to
sampling. Padding with Whisper's own log-mel of silence instead of zeros did not help
(12 s: 5.1/11.6%), nor did capping new tokens at 6 a second or ``no_repeat_ngram_size=3``
(10 s: 7.8/11.0%). 20 s keeps WER within 0.2-0.6 points of the 30 s window at 40% of its
cost; the fallback decodes sample at temperature > 0, so their few captions vary run to run.
The live default (``LIVE_DECODING``) also caps new tokens at 16 + 6 per second of speech:
with the shorter window, 2 s of white noise at 0.01 fell back through every temperature to
448-token loops, 6.6 s of CPU for one call (0.46 s with the 30 s window); capped, 0.86 s.

Hallucination guard, measured on tiny.en int8 (tests/unit/test_recognizer.py pins silence and
white noise): 3 s of digital silence, pink noise at 0.3, brown noise at 0.5, white noise at
0.05, keyboard-like clicks, a 440 Hz tone, a 50 Hz hum, and -60 dBFS hiss gave no text at all,
with and without the names prompt (30 s window; the tests pin silence and white noise with
the live one): faster-whisper's rule, kept in ``_decode``, drops a window whose no-speech
probability is > 0.6 while its log-prob is < -1. What remains guarded here, because it is
cheap and each case is a known Whisper failure: a segment still over the compression-ratio
limit after every fallback (a repetition loop), a caption without a single word (". . .",
the same loop cut short by the token cap), the prompt echoed back verbatim (Whisper
copying its prompt on near-silence), and the "thanks for watching"-style closings that its
subtitle training data puts on silence, accepted only when the decoder was confident there
was speech (``no_speech_prob`` < ``SILENCE_PHRASE_MAX_NO_SPEECH``) since people do say
"Thank you." in meetings.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .encoder_window import FRAMES_PER_S, MAX_FRAMES, EncoderWindow
from .model_settings import ModelSettings, ModelUnavailable, model_directory

RATE = 16_000
COMPRESSION_RATIO_LIMIT = 2.4  # faster-whisper's default compression_ratio_threshold
# Bare punctuation tokens (". . .") in a segment that mark it as a decoding loop, when
# they are also at least twice as many as its words.
MIN_BARE_PUNCTUATION = 4
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
# faster-whisper 1.2's transcribe() defaults, which the decoding below reproduces.
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
BEST_OF = 5  # samples per warmer retry
LOG_PROB_LIMIT = -1.0  # mean log-prob under this: retry warmer
NO_SPEECH_LIMIT = 0.6  # no-speech probability over this with a low log-prob: no speech
MAX_INITIAL_TIMESTAMP_INDEX = 50  # 1.0 s / 0.02 s
MAX_TOKENS = 448  # the decoder's context: prompt + text
PROMPT_CACHE = 64
# Too short to hold a word: Whisper pads to 30 s anyway, so a 50 ms click costs a full decode.
MIN_AUDIO_S = 0.1


class Recognizer:
    """One model, used from one thread (a CTranslate2 model is not shared across threads here:
    one process per core runs one of these, transcribe/speech_pool.py).

    ``window`` and ``decoding`` default to the measured choice (module docstring); the
    benchmark passes others to compare. ``fallbacks`` counts decodes retried warmer."""

    def __init__(
        self,
        settings: ModelSettings,
        window: EncoderWindow | None = None,
        decoding: DecoderLimits | None = None,
    ) -> None:
        self.settings = settings
        self.window = window or LIVE_WINDOW
        self.decoding = decoding or LIVE_DECODING
        self.fallbacks = 0
        path = model_directory(settings)
        try:
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer
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
        multilingual = bool(self._model.model.is_multilingual)
        # faster-whisper answers "en" for an English-only model whatever the setting.
        language = settings.language if multilingual else "en"
        self._tokenizer: Any = Tokenizer(
            self._model.hf_tokenizer, multilingual, task="transcribe", language=language
        )
        self._suppress = _suppressed_tokens(self._tokenizer)
        self._prompts: dict[str | None, list[int]] = {}

    def transcribe(self, audio: npt.NDArray[np.float32], prompt: str | None = None) -> str:
        """The text of one utterance (float32 mono 16 kHz), stripped; "" for no speech."""
        samples = _check_audio(audio)
        if len(samples) < MIN_AUDIO_S * RATE or not np.any(samples):
            return ""
        # faster-whisper's log-mel of the audio (+160 samples of padding), minus the last
        # frame, exactly what its transcribe() hands the encoder before padding to 3000.
        features = self._model.feature_extractor(samples)[:, :-1]
        if features.shape[-1] > MAX_FRAMES:
            return self._transcribe_long(samples, prompt)
        speech_s = features.shape[-1] / FRAMES_PER_S
        window = self.window.fit(features)
        decoded = self._decode(window, self._prompt_tokens(prompt), speech_s)
        return kept_text(decoded, prompt) if decoded is not None else ""

    def _transcribe_long(self, samples: npt.NDArray[np.float32], prompt: str | None) -> str:
        """Over 30 s (a segmenter set past its limits): faster-whisper's own window loop."""
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

    def _prompt_tokens(self, prompt: str | None) -> list[int]:
        """faster-whisper's ``get_prompt`` for an initial prompt without timestamps."""
        tokens = self._prompts.get(prompt)
        if tokens is None:
            tok = self._tokenizer
            tokens = []
            if prompt:
                text = tok.encode(" " + prompt.strip())
                tokens = [tok.sot_prev, *text[-(MAX_TOKENS // 2 - 1) :]]
            tokens += [*tok.sot_sequence, tok.no_timestamps]
            if len(self._prompts) >= PROMPT_CACHE:
                self._prompts.clear()  # a new meeting's roster; rebuilding costs ~0.1 ms
            self._prompts[prompt] = tokens
        return tokens

    def _decode(
        self, window: npt.NDArray[np.float32], prompt: list[int], speech_s: float
    ) -> Decoded | None:
        """faster-whisper's ``generate_with_fallback`` and no-speech skip for one window;
        None when the window holds no speech."""
        import ctranslate2

        model = self._model.model
        encoded = model.encode(ctranslate2.StorageView.from_array(window[np.newaxis]))
        max_length = min(MAX_TOKENS, len(prompt) + self.decoding.max_new_tokens(speech_s))
        tried: list[Decoded] = []
        for temperature in TEMPERATURES:
            if temperature > 0:
                self.fallbacks += 1
                search: dict[str, Any] = {
                    "beam_size": 1,
                    "num_hypotheses": BEST_OF,
                    "sampling_topk": 0,
                    "sampling_temperature": temperature,
                }
            else:
                search = {"beam_size": self.settings.beam_size, "patience": 1.0}
            result = model.generate(
                encoded,
                [prompt],
                length_penalty=1.0,
                repetition_penalty=self.decoding.repetition_penalty,
                no_repeat_ngram_size=self.decoding.no_repeat_ngram_size,
                max_length=max_length,
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=self._suppress,
                max_initial_timestamp_index=MAX_INITIAL_TIMESTAMP_INDEX,
                **search,
            )[0]
            tokens = result.sequences_ids[0]
            text = self._tokenizer.decode(tokens)
            decoded = Decoded(
                text=text,
                avg_logprob=result.scores[0] * len(tokens) / (len(tokens) + 1),
                no_speech_prob=result.no_speech_prob,
                compression_ratio=compression_ratio(text.strip()),
                temperature=temperature,
            )
            tried.append(decoded)
            if not decoded.needs_fallback:
                break
        else:
            # every temperature failed: the most probable one under the repetition limit
            below = [d for d in tried if d.compression_ratio <= COMPRESSION_RATIO_LIMIT]
            decoded = max(below or tried, key=lambda d: d.avg_logprob)
        if decoded.no_speech_prob > NO_SPEECH_LIMIT and decoded.avg_logprob <= LOG_PROB_LIMIT:
            return None
        return decoded

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


@dataclass(frozen=True)
class DecoderLimits:
    """Bounds on one decode. ``tokens_per_s`` x speech seconds + ``min_tokens`` caps the new
    tokens (English speech is ~3 tokens a second, so a runaway repetition loop stops
    early instead of running to the 448-token context); the other two are CTranslate2's
    ``generate`` options (1.0 and 0 switch them off, faster-whisper's defaults)."""

    tokens_per_s: float = 0.0  # 0: no cap beyond the context
    min_tokens: int = 16
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0

    def max_new_tokens(self, seconds: float) -> int:
        if self.tokens_per_s <= 0:
            return MAX_TOKENS
        return self.min_tokens + math.ceil(self.tokens_per_s * seconds)


@dataclass(frozen=True)
class Decoded:
    """One decode of one window: what ``kept_text`` judges."""

    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float

    @property
    def needs_fallback(self) -> bool:
        """faster-whisper's rule: too repetitive, or unsure unless it is silence."""
        if self.compression_ratio > COMPRESSION_RATIO_LIMIT:
            return True
        unsure = self.avg_logprob < LOG_PROB_LIMIT
        return unsure and not self.no_speech_prob > NO_SPEECH_LIMIT


LIVE_WINDOW = EncoderWindow(min_s=20.0, margin_s=2.0, step_s=1.0)
LIVE_DECODING = DecoderLimits(tokens_per_s=6.0, min_tokens=16)


def compression_ratio(text: str) -> float:
    """faster-whisper's repetition measure: bytes / zlib-compressed bytes."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _suppressed_tokens(tokenizer: Any) -> list[int]:
    """faster-whisper's ``get_suppressed_tokens`` for its default ``[-1]``: the non-speech
    symbols and the task/special tokens."""
    tokens = set(tokenizer.non_speech_tokens)
    tokens.update(
        (
            tokenizer.transcribe,
            tokenizer.translate,
            tokenizer.sot,
            tokenizer.sot_prev,
            tokenizer.sot_lm,
            tokenizer.no_speech,
        )
    )
    return sorted(tokens)


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
    if not words:
        return ""  # ". . . .": a loop on noise that the token cap cut short, no word in it
    tokens = text.split()
    bare = sum(1 for token in tokens if not re.search(r"[A-Za-z0-9]", token))
    if bare >= MIN_BARE_PUNCTUATION and bare >= 2 * (len(tokens) - bare):
        # "well. . . . . . .": the same loop after one word (seen on white noise in a full
        # test run, tests/unit/test_recognizer.py). Speech never has more bare punctuation
        # marks than words.
        return ""
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
