"""The recorder worker (recorder/) against a real server and real aiortc publishers.

A participant publishes a red camera (VP8) and a 440 Hz microphone (Opus); the recorder joins
as a hidden participant, records ~4 s and is stopped (in-process: its stop event; as a
process: SIGTERM). Each file must have the right codec, a duration within 0.5 s of the time
it was recording, and decode without errors; the manifest lists each track with its
participant's identity, name and source. Killed with SIGKILL, what it wrote still plays.

The server does not send ``recording`` states yet, so the worker runs with ``--record-now``,
and the pause/resume test plays the server's part for the ``recording`` messages
(the recording contract of issue 4).
"""

from __future__ import annotations

import asyncio
import fractions
import itertools
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamTrack

from recorder.__main__ import TOKEN_ENV, parse_args
from recorder.manifest import read_manifest
from recorder.worker import ExitCode, RecorderOptions, RecorderWorker, run
from signaling.tokens import Grants
from tests.conftest import RunningServer
from tests.support.media import ColorVideoTrack, close_to, mean_color
from tests.support.media_participant import participant
from tests.support.ws_client import mint

REPO = Path(__file__).resolve().parents[2]
RED = (255, 0, 0)
TONE_HZ = 440.0
RECORD_S = 4.0
AUDIO_RATE = 48000
AUDIO_FRAME = 960  # 20 ms
FILES_TIMEOUT_S = 8.0  # join, ICE, DTLS and the first keyframe


def recorder_token(server: RunningServer, room: str) -> str:
    grants = Grants(room_join=True, can_subscribe=True, hidden=True)
    return mint(server.tokens, room, "recorder-1", grants=grants)


class Tone48kTrack(MediaStreamTrack):
    """A sine tone in real-time 20 ms frames of 48 kHz mono.

    Not tests.support.media.ToneAudioTrack: that one takes aiortc's AudioStreamTrack pacing
    (20 ms of 8 kHz: 160 samples) but labels the 160 samples 48 kHz, so each frame holds
    3.3 ms of sound and aiortc's Opus encoder sends one 20 ms packet per 120 ms.
    """

    kind = "audio"

    def __init__(self, frequency: float) -> None:
        super().__init__()
        self.frequency = frequency
        self._sample = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.time()
        else:
            self._sample += AUDIO_FRAME
            await asyncio.sleep(self._start + self._sample / AUDIO_RATE - time.time())
        t = (np.arange(AUDIO_FRAME) + self._sample) / AUDIO_RATE
        wave = (np.sin(2 * np.pi * self.frequency * t) * 0.5 * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._sample
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


def publisher_tracks() -> list[tuple[str, Any]]:
    return [("camera", ColorVideoTrack(RED)), ("microphone", Tone48kTrack(TONE_HZ))]


def media_files(out: Path) -> list[Path]:
    return [p for p in out.glob("*.webm") if p.stat().st_size > 0]


async def wait_for_files(
    out: Path,
    timeout: float,  # noqa: ASYNC109 (enforced with asyncio.timeout)
    running: Any,
) -> float:
    """Wait (bounded) until both tracks' files exist; return the time they both did.
    ``running()`` false (the worker ended early) fails at once."""
    async with asyncio.timeout(timeout):
        while len(media_files(out)) < 2:
            assert running(), "the recorder ended before recording anything"
            await asyncio.sleep(0.02)
    return time.time()


def inspect(path: Path) -> dict[str, Any]:
    """Codec, duration (first frame to the end of the last), decoded frame count, decode
    errors, and for video the last frame's colour / for audio the dominant frequency."""
    errors: list[str] = []
    frames = 0
    first: float | None = None
    end = 0.0
    color: tuple[int, int, int] | None = None
    samples: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams[0]
        codec = stream.codec_context.name
        for packet in container.demux(stream):
            if packet.pts is None:
                continue  # the demuxer's flush packet
            start = float(packet.pts * packet.time_base)
            first = start if first is None else min(first, start)
            end = max(end, start + float((packet.duration or 0) * packet.time_base))
            try:
                decoded = packet.decode()
            except av.FFmpegError as exc:
                errors.append(str(exc))
                continue
            for frame in decoded:
                frames += 1
                if isinstance(frame, av.VideoFrame):
                    color = mean_color(frame)
                else:
                    samples.append(frame.to_ndarray()[0])
    frequency = None
    if samples:
        signal_ = np.concatenate(samples)[-48000:]
        spectrum = np.abs(np.fft.rfft(signal_ * np.hanning(len(signal_))))
        frequency = float(np.argmax(spectrum) * 48000 / len(signal_))
    return {
        "codec": codec,
        "duration": end - (first or 0.0),
        "frames": frames,
        "errors": errors,
        "color": color,
        "frequency": frequency,
    }


def packet_times(path: Path) -> list[tuple[float, bool]]:
    """(start in seconds, keyframe) of every packet, in file order."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        return [
            (float(p.pts * p.time_base), bool(p.is_keyframe))
            for p in container.demux(stream)
            if p.pts is not None
        ]


def state(recording_id: str, value: str) -> dict[str, Any]:
    """A ``recording`` message as the contract has the server send it."""
    recording = {"id": recording_id, "state": value, "started_at": time.time(), "by": None}
    return {"type": "recording", "recording": recording}


def check_recording(out: Path, recorded_s: float, started_at: float, *, clean: bool = True) -> None:
    """``clean``: the worker finished (track_end and end listed); else it was killed."""
    events = read_manifest(out / "manifest.jsonl")
    tracks = [e for e in events if e["event"] == "track"]
    assert sorted((t["source"], t["kind"], t["codec"]) for t in tracks) == [
        ("camera", "video", "vp8"),
        ("microphone", "audio", "opus"),
    ]
    for track in tracks:
        assert (track["identity"], track["name"]) == ("alice", "Alice")
        assert track["participant_sid"].startswith("PA_")
        assert (out / track["file"]).is_file()
        assert track["clock_rate"] == (90000 if track["kind"] == "video" else 48000)
        assert isinstance(track["first_rtp"], int)
        # Wall time of the first frame (from the RTCP SR): when the files appeared.
        assert abs(track["first_wall"] - started_at) < 0.5, (track, started_at)
        info = inspect(out / track["file"])
        assert info["codec"] == track["codec"]
        assert info["errors"] == []
        assert abs(info["duration"] - recorded_s) < 0.5, (track["file"], info, recorded_s)
        if track["kind"] == "video":
            assert info["frames"] >= 0.7 * 30 * recorded_s  # ColorVideoTrack: 30 fps
            assert info["color"] is not None and close_to(info["color"], RED), info
        else:
            assert info["frames"] >= 0.9 * 50 * recorded_s  # 20 ms Opus packets
            assert info["frequency"] is not None and abs(info["frequency"] - TONE_HZ) < 5
    files = {t["file"] for t in tracks}
    ended = {e["file"] for e in events if e["event"] == "track_end"}
    assert ended == (files if clean else set())
    assert (events[-1]["event"] == "end") is clean


async def test_records_a_publisher_in_process(server: RunningServer, tmp_path: Path) -> None:
    room = "rec-inproc"
    out = tmp_path / "recording"
    async with participant(server, room, "alice", publisher_tracks()):
        options = RecorderOptions(
            url=server.base_url,
            room=room,
            recording_id="RC_inproc",
            out=out,
            token=recorder_token(server, room),
            record_now=True,
            rtc_addresses=("127.0.0.1",),
        )
        stop = asyncio.Event()
        worker = asyncio.create_task(run(options, stop))
        try:
            started_at = await wait_for_files(out, FILES_TIMEOUT_S, lambda: not worker.done())
            await asyncio.sleep(RECORD_S)
            stop.set()
            stopped_at = time.time()
            code = await asyncio.wait_for(worker, 10)
        finally:
            worker.cancel()
    assert code == ExitCode.DONE
    check_recording(out, stopped_at - started_at, started_at)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
async def test_records_a_publisher_as_a_process_until_a_signal(
    server: RunningServer, tmp_path: Path, signum: signal.Signals
) -> None:
    """SIGTERM: a clean finish (exit 0). SIGKILL: no goodbye, yet every file written so far
    plays back and the manifest lists it (the issue's crash-safety acceptance)."""
    room = "rec-process"
    out = tmp_path / "recording"
    token = recorder_token(server, room)
    async with participant(server, room, "alice", publisher_tracks()):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "recorder",
            "--url", server.base_url, "--room", room, "--recording-id", "RC_proc",
            "--out", str(out), "--record-now", "--rtc-address", "127.0.0.1",
            cwd=REPO,
            env={**os.environ, TOKEN_ENV: token},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            started_at = await wait_for_files(
                out, FILES_TIMEOUT_S + 3, lambda: process.returncode is None
            )
            await asyncio.sleep(RECORD_S)
            process.send_signal(signum)
            stopped_at = time.time()
            stdout, stderr = await asyncio.wait_for(process.communicate(), 10)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert token not in (stdout + stderr).decode()
    if signum == signal.SIGTERM:
        assert process.returncode == ExitCode.DONE, stderr.decode()
        check_recording(out, stopped_at - started_at, started_at)
    else:
        assert process.returncode == -signal.SIGKILL
        check_recording(out, stopped_at - started_at, started_at, clean=False)


async def test_a_refused_join_exits_3_without_printing_the_token(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = recorder_token(server, "rec-refused")[:-4] + "AAAA"  # a broken signature
    options = RecorderOptions(
        url=server.base_url, room="rec-refused", recording_id="RC_x", out=tmp_path, token=token
    )
    code = await asyncio.wait_for(run(options), 10)
    assert code == ExitCode.JOIN_FAILED
    printed = capsys.readouterr().err
    assert "invalid_token" in printed and token not in printed
    assert not (tmp_path / "manifest.jsonl").exists()


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    base = ["--url", "http://127.0.0.1:1", "--room", "r", "--recording-id", "RC_x"]
    with pytest.raises(SystemExit) as missing_token:
        parse_args([*base, "--out", str(tmp_path)], {})
    assert missing_token.value.code == ExitCode.BAD_ARGUMENTS
    with pytest.raises(SystemExit) as bad_url:
        parse_args(["--url", "ftp://x", *base[2:], "--out", str(tmp_path)], {TOKEN_ENV: "t"})
    assert bad_url.value.code == ExitCode.BAD_ARGUMENTS
    options = parse_args([*base, "--out", str(tmp_path)], {TOKEN_ENV: "secret"})
    assert options.token == "secret" and "secret" not in repr(options)


def inproc_options(server: RunningServer, room: str, out: Path, **extra: Any) -> RecorderOptions:
    return RecorderOptions(
        url=server.base_url,
        room=room,
        recording_id=extra.pop("recording_id", "RC_test"),
        out=out,
        token=recorder_token(server, room),
        rtc_addresses=("127.0.0.1",),
        **extra,
    )


async def test_pause_leaves_a_gap_and_stopped_ends_the_worker(
    server: RunningServer, tmp_path: Path
) -> None:
    out = tmp_path / "recording"
    rid = "RC_pause"
    pause_s = 1.5
    async with participant(server, "rec-pause", "alice", publisher_tracks()):
        options = inproc_options(server, "rec-pause", out, recording_id=rid, record_now=True)
        worker = RecorderWorker(options, asyncio.Event())
        task = asyncio.create_task(worker.run())
        try:
            await wait_for_files(out, FILES_TIMEOUT_S, lambda: not task.done())
            await asyncio.sleep(1.5)
            worker.handle_message(state(rid, "paused"))
            paused_at = time.time()
            worker.handle_message(state("RC_other", "stopped"))  # not ours: ignored
            await asyncio.sleep(pause_s)
            assert not task.done()
            worker.handle_message(state(rid, "recording"))
            resumed_at = time.time()
            await asyncio.sleep(1.5)
            worker.handle_message(state(rid, "stopped"))
            code = await asyncio.wait_for(task, 10)
        finally:
            task.cancel()
    assert code == ExitCode.DONE and worker.finish_reason == "recording stopped"
    events = read_manifest(out / "manifest.jsonl")
    (pause,) = [e for e in events if e["event"] == "pause"]
    (resume,) = [e for e in events if e["event"] == "resume"]
    assert abs(pause["at"] - paused_at) < 0.1 and abs(resume["at"] - resumed_at) < 0.1
    tracks = [e for e in events if e["event"] == "track"]
    assert len(tracks) == 2
    for track in tracks:
        path = out / track["file"]
        assert inspect(path)["errors"] == []
        times = packet_times(path)
        gaps = [(b[0] - a[0], b[1]) for a, b in itertools.pairwise(times)]
        gap, keyframe_after = max(gaps)
        # Video resumes at the keyframe it asked for (a few frames later at most).
        slack = 0.5 if track["kind"] == "video" else 0.25
        assert pause_s - 0.25 < gap < pause_s + slack, (track["file"], gap)
        assert keyframe_after, "video after a pause must start with a keyframe"
    assert events[-1]["event"] == "end"


async def test_the_meeting_ending_ends_the_recording(server: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "recording"
    room = "rec-bye"
    async with participant(server, room, "alice", publisher_tracks(), grants=Grants.host()) as host:
        worker = RecorderWorker(inproc_options(server, room, out, record_now=True), asyncio.Event())
        task = asyncio.create_task(worker.run())
        try:
            await wait_for_files(out, FILES_TIMEOUT_S, lambda: not task.done())
            await asyncio.sleep(1.0)
            await host.ws.send("end_meeting")
            code = await asyncio.wait_for(task, 5)
        finally:
            task.cancel()
    assert code == ExitCode.DONE and worker.finish_reason == "bye (ended)"
    events = read_manifest(out / "manifest.jsonl")
    files = [e["file"] for e in events if e["event"] == "track"]
    assert len(files) == 2 and events[-1]["event"] == "end"
    assert {e["file"] for e in events if e["event"] == "track_end"} == set(files)
    for name in files:
        assert inspect(out / name)["errors"] == []


async def test_without_a_recording_state_it_waits_then_gives_up(
    server: RunningServer, tmp_path: Path
) -> None:
    out = tmp_path / "recording"
    async with participant(server, "rec-wait", "alice", publisher_tracks()):
        options = inproc_options(server, "rec-wait", out, start_timeout_s=1.0)
        code = await asyncio.wait_for(run(options), 10)
    assert code == ExitCode.NOT_STARTED
    assert [e["event"] for e in read_manifest(out / "manifest.jsonl")] == ["end"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.jsonl"]
