"""The live segmenter on real (Piper) speech: where utterances start and end, what is dropped."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.speech_audio import RATE, SpeechSynthesizer, silence
from transcribe.utterances import SegmenterSettings, Utterance, UtteranceSegmenter

FIRST = "Good morning everyone, let's get started."
SECOND = "Carol, could you send the slides to Bob by Thursday?"


def speech_end(take: np.ndarray) -> float:
    return float(np.nonzero(np.abs(take) > 0.01)[0][-1]) / RATE


def speech_start(take: np.ndarray) -> float:
    return float(np.nonzero(np.abs(take) > 0.01)[0][0]) / RATE


def feed(segmenter: UtteranceSegmenter, audio: np.ndarray, chunk: int = 320) -> list[Utterance]:
    found: list[Utterance] = []
    for start in range(0, len(audio), chunk):
        found.extend(segmenter.push(audio[start : start + chunk]))
    return found


@pytest.fixture(scope="module")
def takes() -> tuple[np.ndarray, np.ndarray]:
    synthesizer = SpeechSynthesizer()
    return synthesizer.synthesize(FIRST), synthesizer.synthesize(SECOND)


def test_two_sentences_make_two_utterances_at_the_right_times(
    takes: tuple[np.ndarray, np.ndarray],
) -> None:
    first, second = takes
    audio = np.concatenate([silence(0.7), first, silence(1.0), second, silence(1.0)])
    segmenter = UtteranceSegmenter()
    found = feed(segmenter, audio)
    assert len(found) == 2 and segmenter.flush() == []
    offset2 = 0.7 + len(first) / RATE + 1.0
    expected = [
        (0.7 + speech_start(first), 0.7 + speech_end(first)),
        (offset2 + speech_start(second), offset2 + speech_end(second)),
    ]
    for utterance, (start, end) in zip(found, expected, strict=True):
        # Silero scores 32 ms windows and lags a window or two at the edges.
        assert abs(utterance.start - start) < 0.15, (utterance.start, start)
        assert abs(utterance.end - end) < 0.15, (utterance.end, end)
        padded = utterance.end - utterance.start + 2 * SegmenterSettings().speech_pad_s
        assert abs(len(utterance.audio) / RATE - padded) < 0.01
        assert utterance.audio.dtype == np.float32


def test_an_utterance_ends_min_silence_after_the_speech(
    takes: tuple[np.ndarray, np.ndarray],
) -> None:
    first, _ = takes
    audio = np.concatenate([silence(0.5), first, silence(2.0)])
    end = 0.5 + speech_end(first)
    segmenter = UtteranceSegmenter()
    for start in range(0, len(audio), 320):
        if segmenter.push(audio[start : start + 320]):
            delay = (start + 320) / RATE - end
            break
    else:
        pytest.fail("no utterance")
    assert 0.45 <= delay <= 0.75, delay  # min_silence_s (0.5) + VAD lag


def test_silence_and_noise_make_no_utterance() -> None:
    rng = np.random.default_rng(7)
    segmenter = UtteranceSegmenter()
    noise = (rng.standard_normal(3 * RATE) * 0.02).astype(np.float32)
    assert feed(segmenter, np.concatenate([silence(2.0), noise, silence(1.0)])) == []
    assert segmenter.flush() == []


def test_flush_returns_the_utterance_in_progress(takes: tuple[np.ndarray, np.ndarray]) -> None:
    first, _ = takes
    segmenter = UtteranceSegmenter()
    assert feed(segmenter, np.concatenate([silence(0.3), first])) == []
    (utterance,) = segmenter.flush()
    assert utterance.end == pytest.approx(segmenter.position, abs=0.6)
    assert segmenter.flush() == []
    # the stream may go on after a flush, with times still on its clock
    again = feed(segmenter, np.concatenate([first, silence(1.0)]))
    assert len(again) == 1 and again[0].start > utterance.end


def test_a_long_monologue_is_cut_at_a_pause(takes: tuple[np.ndarray, np.ndarray]) -> None:
    first, second = takes
    # sentences 0.3 s apart (shorter than min_silence_s): one utterance, unless it is too long
    parts = [silence(0.3)]
    for _ in range(3):
        parts += [first, silence(0.3), second, silence(0.3)]
    audio = np.concatenate([*parts, silence(1.0)])
    settings = SegmenterSettings(max_utterance_s=6.0)
    found = feed(UtteranceSegmenter(settings), audio)
    assert len(found) >= 3
    for utterance in found:
        assert utterance.end - utterance.start <= 6.0 + 1e-6
    # every cut fell in a pause: no utterance starts or ends inside a loud stretch
    for utterance in found[:-1]:
        index = round(utterance.end * RATE)
        assert np.max(np.abs(audio[index - 160 : index + 160])) < 0.05, utterance.end


def test_a_click_is_too_short_to_be_speech() -> None:
    click = np.concatenate([silence(0.5), np.full(400, 0.8, np.float32), silence(1.0)])
    segmenter = UtteranceSegmenter()
    assert feed(segmenter, click) == [] and segmenter.flush() == []


def test_bad_input_and_settings_are_refused() -> None:
    segmenter = UtteranceSegmenter()
    with pytest.raises(ValueError, match="NaN"):
        segmenter.push(np.array([0.0, np.nan], dtype=np.float32))
    assert segmenter.push(np.zeros(0, np.float32)) == []
    with pytest.raises(ValueError, match="max_utterance_s"):
        SegmenterSettings(max_utterance_s=60)
    with pytest.raises(ValueError, match="min_silence_s"):
        SegmenterSettings(min_silence_s=0.01)
    with pytest.raises(ValueError, match="threshold"):
        SegmenterSettings(threshold=1.5)
