"""The streaming Silero VAD scores exactly what faster-whisper's whole-buffer call scores."""

from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.vad import get_vad_model

from benchmarks.speech_audio import SpeechSynthesizer, silence
from transcribe.vad import WINDOW, StreamingVad


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    take = SpeechSynthesizer().synthesize("Bob will send the budget to finance by Friday.")
    audio = np.concatenate([silence(0.5), take, silence(0.8)])
    return audio[: len(audio) // WINDOW * WINDOW]


@pytest.mark.parametrize("chunk", [320, 512, 1000, 7])
def test_streaming_equals_whole_buffer_scores(speech: np.ndarray, chunk: int) -> None:
    reference = get_vad_model()(speech).reshape(-1)
    vad = StreamingVad()
    scores: list[float] = []
    for start in range(0, len(speech), chunk):
        scores.extend(vad.push(speech[start : start + chunk]))
    assert len(scores) == len(reference) == vad.windows
    assert np.allclose(scores, reference, atol=1e-5)
    # and it tells speech from silence
    assert max(scores[:10]) < 0.3 and max(scores) > 0.9 and max(scores[-10:]) < 0.3


def test_partial_windows_wait_and_reset_forgets(speech: np.ndarray) -> None:
    vad = StreamingVad()
    assert vad.push(speech[:500]) == []  # less than one window: nothing scored yet
    assert len(vad.push(speech[500:1024])) == 2
    vad.reset()
    assert vad.windows == 0
    first = vad.push(speech[:WINDOW])
    assert first == pytest.approx(StreamingVad().push(speech[:WINDOW]))
