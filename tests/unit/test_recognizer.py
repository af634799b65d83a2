"""The recognizer on real (Piper) speech, silence and noise, and its refusals."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.speech_audio import RATE, SpeechSynthesizer, silence
from transcribe.encoder_window import EncoderWindow, silence_level
from transcribe.model_settings import ModelSettings, ModelUnavailable, model_directory
from transcribe.recognizer import (
    LIVE_WINDOW,
    DecoderLimits,
    Recognizer,
    kept_text,
    names_prompt,
)

SENTENCE = "Priya will send the budget to Finance by Friday."


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer(ModelSettings())


def test_a_sentence_comes_out_with_the_names_from_the_prompt(recognizer: Recognizer) -> None:
    take = SpeechSynthesizer().synthesize(SENTENCE)
    prompt = names_prompt(["Priya Raman", "Bob Martinez"])
    assert prompt == "Priya Raman, Bob Martinez."
    text = recognizer.transcribe(take, prompt)
    assert "Priya" in text and "budget" in text and "Friday" in text, text


def test_silence_and_noise_give_no_text(recognizer: Recognizer) -> None:
    rng = np.random.default_rng(3)
    assert recognizer.transcribe(silence(2.0), "Alice, Bob.") == ""
    assert recognizer.transcribe(np.zeros(0, np.float32)) == ""
    for level in (0.01, 0.1):
        noise = (rng.standard_normal(2 * RATE) * level).astype(np.float32)
        assert recognizer.transcribe(noise, "Alice, Bob.") == ""


def test_bad_audio_is_refused(recognizer: Recognizer) -> None:
    with pytest.raises(ValueError, match="float32"):
        recognizer.transcribe(np.zeros(RATE, dtype=np.int16))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mono"):
        recognizer.transcribe(np.zeros((2, RATE), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        recognizer.transcribe(np.full(RATE, np.nan, dtype=np.float32))


def test_known_hallucinations_are_dropped() -> None:
    def segment(text: str, no_speech: float = 0.0, ratio: float = 1.0) -> SimpleNamespace:
        return SimpleNamespace(text=text, no_speech_prob=no_speech, compression_ratio=ratio)

    assert kept_text(segment(" Alice, Bob."), "Alice, Bob.") == ""  # the prompt echoed
    assert kept_text(segment(" Thank you.", no_speech=0.5), None) == ""
    assert kept_text(segment(" Thank you.", no_speech=0.05), None) == "Thank you."
    assert kept_text(segment(" so so so so so", ratio=3.1), None) == ""
    # A loop of bare full stops after one word (white noise, seen once in a full run).
    assert kept_text(segment(" well. . . . . . . . . . . . . . . ."), None) == ""
    assert kept_text(segment(" Wait... what? OK."), None) == "Wait... what? OK."
    assert kept_text(segment(" Ship it."), "Alice.") == "Ship it."
    assert kept_text(segment(" . . . . . ."), None) == ""
    assert names_prompt([" ", ""]) is None


def test_models_that_are_not_there_are_named_clearly(tmp_path: object) -> None:
    assert model_directory(ModelSettings()).endswith("model")  # the bundled tiny.en
    with pytest.raises(ModelUnavailable, match="does not exist"):
        Recognizer(ModelSettings(model="/nonexistent/whisper"))
    with pytest.raises(ModelUnavailable, match="not available offline"):
        Recognizer(ModelSettings(model="large-v3"))
    with pytest.raises(ValueError, match="cpu_threads"):
        ModelSettings(cpu_threads=0)


def test_the_30_s_window_decodes_exactly_as_faster_whisper(recognizer: Recognizer) -> None:
    """The recognizer calls CTranslate2 itself (no per-call tokenizer, prompt or options
    set-up); with faster-whisper's 30 s zero-padded window it must give faster-whisper's text."""
    from faster_whisper import WhisperModel

    reference = WhisperModel(model_directory(ModelSettings()), compute_type="int8", cpu_threads=1)
    full_window = Recognizer(ModelSettings(), window=EncoderWindow(min_s=30.0))
    prompt = "Priya Raman, Bob Martinez."
    speech = SpeechSynthesizer()
    for take in (speech.synthesize(SENTENCE), speech.synthesize(SENTENCE, variant="noisy")):
        segments, _ = reference.transcribe(
            take,
            language="en",
            beam_size=1,
            condition_on_previous_text=False,
            without_timestamps=True,
            initial_prompt=prompt,
        )
        expected = " ".join(segment.text.strip() for segment in segments)
        assert full_window.transcribe(take, prompt) == expected
    assert full_window.fallbacks == 0


def test_the_live_window_still_reads_a_long_utterance(recognizer: Recognizer) -> None:
    """14 s of speech: the window grows to speech + margin, so the last words are heard."""
    speech = SpeechSynthesizer()
    parts = [
        "Good morning everyone, the first item on the agenda is the launch checklist.",
        "Bob finished the security review yesterday and found two small issues.",
        "Carol will update the pricing page before the end of the week.",
        "Finally, the retrospective moves to Thursday afternoon.",
    ]
    take = np.concatenate([speech.synthesize(part) for part in parts])
    assert 12 * RATE < len(take) < 15 * RATE
    assert LIVE_WINDOW.frames(len(take) // 160) >= len(take) // 160 + 150
    text = recognizer.transcribe(take, "Bob, Carol.").lower()
    assert "morning" in text and "pricing" in text and "retrospective" in text, text


def test_over_30_s_goes_through_faster_whispers_window_loop(recognizer: Recognizer) -> None:
    speech = SpeechSynthesizer()
    first = speech.synthesize("The budget review starts on Monday.")
    last = speech.synthesize("Carol will book the room for Thursday.")
    take = np.concatenate([first, silence(31.0 - (len(first) + len(last)) / RATE), last])
    text = recognizer.transcribe(take, "Carol.").lower()
    assert "budget" in text and "thursday" in text, text


def test_the_padding_is_whispers_silence_or_faster_whispers_zeros() -> None:
    from faster_whisper.feature_extractor import FeatureExtractor

    extract = FeatureExtractor()
    take = SpeechSynthesizer().synthesize(SENTENCE, variant="noisy")
    speech = extract(take)[:, :-1]
    padded = extract(np.concatenate([take, np.zeros(3 * RATE, np.float32)]))
    n = speech.shape[-1]
    # Past the STFT's reach into the speech (n_fft = 400 samples = 2.5 frames), the log-mel
    # of zeros is the clamp level Whisper's normalisation gives it.
    assert np.allclose(padded[:, n + 3 : n + 250], silence_level(speech))
    assert np.allclose(padded[:, : n - 3], speech[:, : n - 3])

    silent = EncoderWindow(min_s=15.0, margin_s=2.0, pad="silence").fit(speech)
    assert silent.shape == (80, 1500) and silent.flags.c_contiguous
    assert np.array_equal(silent[:, :n], speech)
    assert np.allclose(silent[:, n:], silence_level(speech))
    zeros = EncoderWindow(min_s=15.0, margin_s=2.0).fit(speech)
    assert not zeros[:, n:].any()


def test_window_sizes() -> None:
    window = EncoderWindow(min_s=15.0, margin_s=2.0, step_s=1.0)
    assert window.frames(300) == 1500  # 3 s of speech: the 15 s floor
    assert window.frames(1350) == 1600  # 13.5 s + 2 s margin, rounded up to 16 s
    assert window.frames(2950) == 3000  # never past Whisper's 30 s
    assert all(window.frames(n) % 2 == 0 for n in range(1, 3001, 7))
    assert EncoderWindow(min_s=0.01, margin_s=0.0, step_s=0.01).frames(301) == 302
    with pytest.raises(ValueError, match="do not fit"):
        window.fit(np.zeros((80, 3001), np.float32))
    with pytest.raises(ValueError, match="pad"):
        EncoderWindow(pad="noise")
    with pytest.raises(ValueError, match="min_s"):
        EncoderWindow(min_s=31.0)
    assert DecoderLimits().max_new_tokens(15.0) == 448  # no cap: the decoder's context
    assert DecoderLimits(tokens_per_s=6.0, min_tokens=16).max_new_tokens(15.0) == 106
