"""Issue 4's acceptance for the export: a meeting recorded by the real recorder worker (three
aiortc participants with known colours and tones) exported by ``python -m recorder.export``
to an MP4 whose duration is the recording's, whose sampled frames show each participant's
colour and whose audio holds each participant's tone."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from recorder.manifest import read_manifest
from signaling.appkeys import ROOMS
from signaling.tokens import Grants
from tests.conftest import RunningServer
from tests.support.export_check import audio, frames_at, probe, share_of, tone_strength
from tests.support.media import ColorVideoTrack, ToneAudioTrack
from tests.support.media_file import read_track
from tests.support.media_participant import participant
from tests.support.recording_events import recording_state, until

COLOURS = {"ann": (230, 30, 30), "bob": (40, 60, 230), "cid": (40, 200, 60)}
TONES = {"ann": 440.0, "bob": 550.0, "cid": 660.0}
RECORD_S = 8.0
WORKER_STOP_S = 15.0
EXPORT_TIMEOUT_S = 30.0


async def _record_meeting(server: RunningServer) -> Path:
    grants = {"ann": Grants.host(), "bob": None, "cid": None}
    async with contextlib.AsyncExitStack() as stack:
        people = {
            name: await stack.enter_async_context(
                participant(
                    server,
                    "export",
                    name,
                    [
                        ("camera", ColorVideoTrack(COLOURS[name])),
                        ("microphone", ToneAudioTrack(TONES[name], amplitude=0.3)),
                    ],
                    grants=grants[name],
                )
            )
            for name in COLOURS
        }
        for person in people.values():
            await person.media.wait_until(
                lambda person=person: sum(r.frames > 0 for r in person.media.video()) >= 2,
                timeout=20,
            )
        host = people["ann"].ws
        await host.send("start_recording")
        recording_id = (await recording_state(host, "recording"))["id"]
        live = server.app[ROOMS].live_room("export")
        assert live is not None
        await until(lambda: any(p.hidden for p in live.participants.values()), 10, "worker")
        await asyncio.sleep(RECORD_S)
        await host.send("stop_recording")
        await recording_state(host, "stopped")
        service = server.app[ROOMS].recordings
        await until(lambda: service.current("export") is None, WORKER_STOP_S, "the worker")
    record = service.records.get(recording_id)
    assert record is not None and record.state == "stopped" and record.error is None
    return Path(record.folder)


def _recorded_span(folder: Path) -> float:
    """From the earliest track start to the latest track end, by the files themselves."""
    tracks = [e for e in read_manifest(folder / "manifest.jsonl") if e["event"] == "track"]
    assert len(tracks) == 6, tracks
    starts = [float(e["first_wall"]) for e in tracks]
    ends = [
        float(e["first_wall"]) + read_track(folder / e["file"], decode=False).pts[-1]
        for e in tracks
    ]
    return max(ends) - min(starts)


async def _run_export(folder: Path, out: Path) -> tuple[int, list[dict[str, Any]]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "recorder.export",
        "--folder",
        str(folder),
        "--out",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), EXPORT_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    assert process.returncode == 0, stderr.decode()
    return process.returncode, [json.loads(line) for line in stdout.decode().splitlines()]


async def test_a_recorded_meeting_exports_to_an_mp4_with_everyone_in_it(
    server: RunningServer, tmp_path: Path
) -> None:
    folder = await _record_meeting(server)
    out = tmp_path / "meeting.mp4"
    started = time.monotonic()
    _, lines = await _run_export(folder, out)
    took = time.monotonic() - started

    # Progress as JSON lines, rising to 1, then the result.
    progress = [line["progress"] for line in lines if "progress" in line]
    assert progress and progress == sorted(progress) and progress[-1] == 1.0
    done = lines[-1]
    assert done["done"] is True and done["skipped"] == []

    mp4 = await asyncio.to_thread(probe, out)
    assert mp4.codecs == {"video": "h264", "audio": "aac"}
    assert (mp4.width, mp4.height) == (1280, 720)
    span = await asyncio.to_thread(_recorded_span, folder)
    assert abs(mp4.duration - span) <= 0.5, (mp4.duration, span)
    assert abs(done["duration"] - span) <= 0.5
    # Real time or better even with the server still warm (export of ~8 s).
    assert took < span + 5.0, took

    # Frames from the middle: every participant's colour fills part of the picture.
    middle = [mp4.duration * f for f in (0.4, 0.5, 0.6)]
    for picture in await asyncio.to_thread(frames_at, out, middle):
        for name, colour in COLOURS.items():
            assert share_of(picture, colour) > 0.02, (name, share_of(picture, colour))

    # The sound: each participant's tone stands out of the mixed spectrum.
    signal, rate = await asyncio.to_thread(audio, out, 1.0, mp4.duration - 1.0)
    assert rate == 48000 and len(signal) > rate * 4
    strengths = {name: tone_strength(signal, rate, tone) for name, tone in TONES.items()}
    assert min(strengths.values()) > 1000, strengths
    # ...and a frequency nobody sings is only codec noise, orders of magnitude below.
    assert tone_strength(signal, rate, 800.0) < min(strengths.values()) / 1000, strengths
