"""The recognizer on real (Piper) speech, silence and noise, and its refusals."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.speech_audio import RATE, SpeechSynthesizer, silence
from transcribe.model_settings import ModelSettings, ModelUnavailable, model_directory
from transcribe.recognizer import Recognizer, kept_text, names_prompt


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer(ModelSettings())


def test_a_sentence_comes_out_with_the_names_from_the_prompt(recognizer: Recognizer) -> None:
    take = SpeechSynthesizer().synthesize("Priya will send the budget to Finance by Friday.")
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
    assert kept_text(segment(" Ship it."), "Alice.") == "Ship it."
    assert names_prompt([" ", ""]) is None


def test_models_that_are_not_there_are_named_clearly(tmp_path: object) -> None:
    assert model_directory(ModelSettings()).endswith("model")  # the bundled tiny.en
    with pytest.raises(ModelUnavailable, match="does not exist"):
        Recognizer(ModelSettings(model="/nonexistent/whisper"))
    with pytest.raises(ModelUnavailable, match="not available offline"):
        Recognizer(ModelSettings(model="large-v3"))
    with pytest.raises(ValueError, match="cpu_threads"):
        ModelSettings(cpu_threads=0)
