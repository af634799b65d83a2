"""From decoded frames to timed utterances (transcribe/audio_track.py) and the bounded
queue in front of recognition (transcribe/slot_captioner.py).

Frames are built as aiortc's Opus decoder hands them out (48 kHz stereo ``s16``, 20 ms,
``pts`` on the RTP clock) from real speech (Piper, benchmarks/speech_audio.py), and go
through the real resampler and the real segmenter (Silero VAD).
"""

from __future__ import annotations

import fractions
import logging

import av
import numpy as np
import numpy.typing as npt
import pytest

from benchmarks.speech_audio import SpeechSynthesizer
from transcribe.audio_track import MAX_GAP_FILL_S, AudioStream
from transcribe.slot_captioner import PendingUtterance, UtteranceQueue
from transcribe.utterances import Utterance, UtteranceSegmenter

FRAME = 960
RATE = 48_000
SENTENCE = "I will send the report to Bob by Friday."


@pytest.fixture(scope="module")
def sentence() -> npt.NDArray[np.float32]:
    return SpeechSynthesizer().synthesize(SENTENCE, "piper", "clean")


def frames_of(samples16k: npt.NDArray[np.float32], first_pts: int = 0) -> list[av.AudioFrame]:
    """48 kHz stereo s16 frames of 20 ms, as aiortc's decoder produces them."""
    upsampled = np.interp(
        np.arange(len(samples16k) * 3) / 3, np.arange(len(samples16k)), samples16k
    )
    pcm = (np.clip(upsampled, -1, 1) * 32767).astype(np.int16)
    frames = []
    for index in range(len(pcm) // FRAME):
        mono = pcm[index * FRAME : (index + 1) * FRAME]
        interleaved = np.repeat(mono, 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(interleaved, format="s16", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = first_pts + index * FRAME
        frame.time_base = fractions.Fraction(1, RATE)
        frames.append(frame)
    return frames


def run(stream: AudioStream, frames: list[av.AudioFrame]) -> list[Utterance]:
    found: list[Utterance] = []
    for frame in frames:
        assert stream.continues(frame)
        found.extend(stream.push(frame))
    return found


def silence(seconds: float) -> npt.NDArray[np.float32]:
    return np.zeros(round(seconds * 16_000), dtype=np.float32)


def test_speech_becomes_one_utterance_at_its_place_on_the_clock(
    sentence: npt.NDArray[np.float32],
) -> None:
    audio = np.concatenate([silence(1.0), sentence, silence(1.0)])
    stream = AudioStream("TR_a", 1_000.0, UtteranceSegmenter())
    found = run(stream, frames_of(audio)) + stream.flush()
    assert len(found) == 1
    utterance = found[0]
    spoken_s = len(sentence) / 16_000
    # Piper leaves a little silence around its words; the VAD finds the words.
    assert 1.0 <= utterance.start < 1.25, utterance
    assert 1.0 + spoken_s - 0.4 < utterance.end <= 1.0 + spoken_s + 0.05, utterance
    assert stream.wall(utterance.start) == pytest.approx(1_000.0 + utterance.start)
    assert abs(stream.samples / 16_000 - len(audio) / 16_000) < 0.03
    assert utterance.audio.dtype == np.float32


def test_a_short_gap_is_filled_with_silence_and_keeps_the_clock(
    sentence: npt.NDArray[np.float32],
) -> None:
    """A muted or lost stretch of 0.5 s: the frames' pts skip it; the stream inserts
    silence, so the utterance after the gap is still at its true time."""
    before = frames_of(silence(1.0))
    after = frames_of(np.concatenate([sentence, silence(1.0)]), first_pts=int(1.5 * RATE))
    stream = AudioStream("TR_a", 0.0, UtteranceSegmenter())
    found = run(stream, before + after) + stream.flush()
    assert len(found) == 1
    assert 1.5 <= found[0].start < 1.75, found
    total_s = 1.5 + (len(sentence) / 16_000 + 1.0)
    assert abs(stream.samples / 16_000 - total_s) < 0.05


def test_a_long_gap_or_a_jump_back_starts_a_new_stream() -> None:
    stream = AudioStream("TR_a", 0.0, UtteranceSegmenter())
    run(stream, frames_of(silence(0.2)))
    end = int(0.2 * RATE)
    far = frames_of(silence(0.02), first_pts=end + int((MAX_GAP_FILL_S + 0.5) * RATE))[0]
    back = frames_of(silence(0.02), first_pts=end - int(0.5 * RATE))[0]
    near = frames_of(silence(0.02), first_pts=end + int(0.3 * RATE))[0]
    assert not stream.continues(far)
    assert not stream.continues(back)
    assert stream.continues(near)
    unstamped = frames_of(silence(0.02))[0]
    unstamped.pts = None
    assert stream.continues(unstamped)


def test_flush_gives_the_utterance_under_way(sentence: npt.NDArray[np.float32]) -> None:
    stream = AudioStream("TR_a", 0.0, UtteranceSegmenter())
    assert run(stream, frames_of(np.concatenate([silence(0.5), sentence]))) == []
    flushed = stream.flush()
    assert len(flushed) == 1 and flushed[0].start >= 0.5


def pending(index: int) -> PendingUtterance:
    audio = np.zeros(160, dtype=np.float32)
    return PendingUtterance("TR_a", 100.0, Utterance(audio=audio, start=index, end=index + 0.5))


async def test_the_queue_drops_the_oldest_when_recognition_is_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    queue = UtteranceQueue(limit=2)
    for index in range(4):
        queue.put(pending(index))
    assert len(queue) == 2 and queue.dropped == 2
    assert "recognition is behind" in caplog.text
    first = await queue.get()
    assert first is not None and first.utterance.start == 2 and first.start == 102.0
    queue.close()
    second = await queue.get()
    assert second is not None and second.utterance.start == 3
    assert await queue.get() is None  # closed and empty
    queue.put(pending(9))  # after close: ignored
    assert len(queue) == 0
