"""Batch transcription (``python -m transcribe.batch_main``) of a media file and of a
recording folder laid out as the recorder writes it (one Opus track per participant)."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from benchmarks.speech_audio import RATE, SpeechSynthesizer, silence, write_wav
from recorder.manifest import RecordingManifest
from transcribe.batch import BatchError, decode_audio, transcribe_path
from transcribe.model_settings import ModelSettings
from transcribe.recognizer import Recognizer

REPO = Path(__file__).resolve().parents[2]
ALICE = "Alice will send the contract to legal by Friday."
BOB = "Bob finished the slides yesterday afternoon."


def write_opus(path: Path, samples: np.ndarray) -> None:
    """A WebM/Opus track at 48 kHz, as recorder/track_writer.py writes (pts from 0)."""
    with av.open(str(path), "w", format="webm") as container:
        stream = container.add_stream("libopus", rate=48_000)
        stream.layout = "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        for start in range(0, len(pcm), RATE // 50):
            frame = av.AudioFrame.from_ndarray(
                pcm[start : start + RATE // 50].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = RATE
            frame.pts = start
            frame.time_base = Fraction(1, RATE)
            for out in resampler.resample(frame):
                container.mux(stream.encode(out))
        container.mux(stream.encode(None))


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer(ModelSettings(cpu_threads=2))


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("recording")
    synthesizer = SpeechSynthesizer()
    alice = np.concatenate([silence(0.5), synthesizer.synthesize(ALICE), silence(0.5)])
    bob = np.concatenate([silence(1.0), synthesizer.synthesize(BOB), silence(0.5)])
    write_opus(folder / "0-alice-microphone.webm", alice)
    write_opus(folder / "1-bob-microphone.webm", bob)
    with RecordingManifest(folder / "manifest.jsonl") as manifest:
        for index, (identity, name, wall) in enumerate(
            [("alice", "Alice Nguyen", 1_700_000_000.0), ("bob", "Bob Martinez", 1_700_000_004.0)]
        ):
            manifest.track(
                file=f"{index}-{identity}-microphone.webm",
                track_sid=f"TR_{index}",
                participant_sid=f"PA_{index}",
                identity=identity,
                name=name,
                source="microphone",
                kind="audio",
                codec="opus",
                clock_rate=48_000,
                first_rtp=0,
                first_wall=wall,
            )
        manifest.end(1_700_000_010.0)
    return folder


def test_a_recording_gives_per_speaker_segments_on_the_wall_clock(
    recording: Path, recognizer: Recognizer
) -> None:
    seen: list[tuple[float, float]] = []
    transcript = transcribe_path(recording, recognizer, lambda d, t: seen.append((d, t)))
    assert transcript.meeting_start == 1_700_000_000.0
    by_speaker = {s.identity: s for s in transcript.segments}
    assert set(by_speaker) == {"alice", "bob"}, transcript.segments
    alice, bob = by_speaker["alice"], by_speaker["bob"]
    assert alice.name == "Alice Nguyen" and "legal" in alice.text and "Friday" in alice.text
    assert bob.name == "Bob Martinez" and "slides" in bob.text
    # Alice speaks from ~0.5 s of her track, Bob from ~1.0 s of his, which began 4 s later.
    assert abs(alice.start - (1_700_000_000.0 + 0.5)) < 0.6, alice
    assert abs(bob.start - (1_700_000_004.0 + 1.0)) < 0.6, bob
    assert [s.identity for s in transcript.segments] == ["alice", "bob"]
    assert seen[-1][0] == pytest.approx(seen[-1][1]) and all(d <= t for d, t in seen)


def test_the_command_line_writes_a_transcript_and_reports_progress(
    recording: Path, tmp_path: Path
) -> None:
    speech = SpeechSynthesizer().synthesize(ALICE)
    media = tmp_path / "talk.wav"
    write_wav(media, np.concatenate([silence(1.0), speech, silence(1.0)]))
    out = tmp_path / "talk.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "transcribe.batch_main", str(media), "--format", "json"),
            *("--out", str(out), "--threads", "2", "--names", "Alice"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    progress = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert progress and progress[-1]["progress"] == 1.0
    document = json.loads(out.read_text())
    (segment,) = document["segments"]
    assert "legal" in segment["text"] and segment["start"] == pytest.approx(1.0, abs=0.6)
    # a recording folder to stdout as WebVTT, with the speakers' names as voices
    vtt = subprocess.run(
        [sys.executable, "-m", "transcribe.batch_main", str(recording), "--format", "vtt"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert vtt.returncode == 0, vtt.stderr
    assert vtt.stdout.startswith("WEBVTT") and "Alice Nguyen" in vtt.stdout


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(BatchError):
        decode_audio(junk)
    done = subprocess.run(
        [sys.executable, "-m", "transcribe.batch_main", str(tmp_path / "missing.wav")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "does not exist" in done.stderr
    empty = tmp_path / "empty-recording"
    empty.mkdir()
    (empty / "manifest.jsonl").write_text("")
    with pytest.raises(BatchError, match="no track"):
        transcribe_path(empty, Recognizer(ModelSettings()))


def test_the_sparkle_command_runs_the_batch_transcriber(tmp_path: Path) -> None:
    """``sparkle transcribe FILE`` (the README's command) hands its arguments to the batch
    transcriber in a process of its own and returns its exit status."""
    sparkle = Path(sys.executable).parent / "sparkle"
    done = subprocess.run(
        [str(sparkle), "transcribe", str(tmp_path / "missing.wav"), "--format", "srt"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "does not exist" in done.stderr, done.stderr
