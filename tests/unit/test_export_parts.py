"""The export job's parts on synthetic input: the timeline (placement, pauses, sample
spans), the mixer (gaps, limiter, speaker), the layout geometry, the bitmap font; and
whole exports of folders written by the recorder's own TrackWriter and manifest."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from recorder.bitmap_font import fitting, printable, text_mask
from recorder.compositor import TILE
from recorder.export import ExportError, NotExportable, export
from recorder.layout import Rect, arrange, fit, grid, strip
from recorder.mixer import RATE, AudioTrackReader, LevelMeter, Limiter
from recorder.timeline import Timeline, load_timeline
from tests.support.export_check import audio, frames_at, probe, share_of, tone_strength
from tests.support.recording_folder import Person, make_recording

RED, BLUE, GREEN = (230, 30, 30), (40, 60, 230), (40, 200, 60)
SMALL = {"width": 640, "height": 360}


def _timeline(segments: list[tuple[float, float]]) -> Timeline:
    return Timeline(origin=0.0, tracks=(), segments=tuple(segments))


def _overlap(a: Rect, b: Rect) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


# --- timeline -------------------------------------------------------------------------------


def test_output_time_maps_to_the_clock_with_pauses_cut_out() -> None:
    timeline = _timeline([(0.0, 2.0), (5.0, 8.0)])
    assert timeline.duration == 5.0
    assert [timeline.wall_time(t) for t in (0.0, 1.5, 2.0, 3.0, 5.0)] == [0, 1.5, 5, 6, 8]


def test_sample_spans_tile_the_output_exactly_across_a_pause() -> None:
    timeline = _timeline([(0.0, 1.01), (3.0, 4.5)])
    total = round(timeline.duration * RATE)
    clock: list[int] = []
    for first in range(0, total, 3200):  # 15 fps blocks, one straddles the cut
        spans = timeline.sample_spans(first, min(total, first + 3200), RATE)
        assert sum(n for _, n in spans) == min(total, first + 3200) - first
        clock += [start + i for start, n in spans for i in range(n)]
    assert len(clock) == len(set(clock)) == total  # no sample twice, none skipped
    assert clock[round(1.01 * RATE) - 1] + 1 == round(1.01 * RATE)
    assert clock[round(1.01 * RATE)] == 3 * RATE  # right after the cut: the resume


def test_the_timeline_places_tracks_by_first_wall_and_cuts_the_pause(tmp_path: Path) -> None:
    folder = make_recording(
        tmp_path / "rec",
        [Person("ann", RED, 440.0), Person("bob", BLUE, 550.0, start=1.0)],
        duration=4.0,
        pause=(2.0, 3.0),
    )
    timeline = load_timeline(folder)
    by_file = {t.path.name: t for t in timeline.tracks}
    assert by_file["camera-0.webm"].start == pytest.approx(0.0, abs=0.01)
    assert by_file["camera-1.webm"].start == pytest.approx(1.0, abs=0.01)
    assert by_file["microphone-1.webm"].end == pytest.approx(4.0, abs=0.05)
    assert [p.identity for p in timeline.participants] == ["ann", "bob"]
    assert [p.identity for p in timeline.present(0.5)] == ["ann"]
    assert timeline.segments[0][1] == pytest.approx(2.0, abs=0.01)
    assert timeline.segments[1][0] == pytest.approx(3.0, abs=0.01)
    assert timeline.duration == pytest.approx(3.0, abs=0.05)


def test_a_folder_without_a_manifest_or_playable_track_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotExportable, match=r"no manifest\.jsonl"):
        load_timeline(tmp_path)
    lines = [
        {"file": "../outside.webm"},  # never a path out of the folder
        {"file": "missing.webm"},
        {"file": "garbage.webm"},
        {"file": "camera.webm", "first_wall": float("inf")},
    ]
    (tmp_path / "garbage.webm").write_bytes(b"\x1a\x45\xdf\xa3 not really matroska" * 10)
    (tmp_path / "camera.webm").write_bytes(b"")
    base = {
        "event": "track",
        "kind": "video",
        "source": "camera",
        "codec": "vp8",
        "clock_rate": 90000,
        "first_rtp": 0,
        "first_wall": 1.0,
    }
    text = "\n".join(json.dumps({**base, **line}).replace("Infinity", "1e999") for line in lines)
    (tmp_path / "manifest.jsonl").write_text(text + '\n{"event": "track", "fi')  # torn
    with pytest.raises(NotExportable) as caught:
        load_timeline(tmp_path)
    message = str(caught.value)
    for reason in ("not a plain file name", "missing", "unreadable"):
        assert reason in message


def test_an_unreadable_track_is_skipped_and_the_rest_exported(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec", [Person("ann", RED, 440.0)], duration=1.0)
    with (folder / "manifest.jsonl").open("a") as manifest:
        broken = {
            "event": "track",
            "file": "broken.webm",
            "kind": "audio",
            "source": "microphone",
            "codec": "opus",
            "clock_rate": 48000,
            "first_rtp": 0,
            "first_wall": 1_700_000_000.0,
        }
        manifest.write(json.dumps(broken) + "\n")
    (folder / "broken.webm").write_bytes(os.urandom(4000))
    result = export(folder, tmp_path / "out.mp4", **SMALL)
    assert len(result.skipped) == 1 and "broken.webm" in result.skipped[0]
    assert probe(tmp_path / "out.mp4").codecs == {"video": "h264", "audio": "aac"}


def test_a_file_cut_and_garbled_mid_write_exports_what_plays(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec", [Person("ann", RED, 440.0)], duration=2.0)
    for name in ("camera-0.webm", "microphone-0.webm"):
        data = (folder / name).read_bytes()
        cut = len(data) * 6 // 10
        (folder / name).write_bytes(data[:cut] + os.urandom(3000) + data[cut : cut + 200])
    result = export(folder, tmp_path / "out.mp4", **SMALL)
    assert result.skipped == () and 0.8 < result.duration_s < 2.0
    (picture,) = frames_at(tmp_path / "out.mp4", [0.5])
    assert share_of(picture, RED) > 0.5


# --- mixer ----------------------------------------------------------------------------------


def test_the_limiter_keeps_a_loud_sum_in_range_and_recovers() -> None:
    t = np.arange(RATE // 10) / RATE
    loud = sum(0.6 * np.sin(2 * math.pi * f * t) for f in (440, 550, 660)).astype(np.float32)
    limiter = Limiter()
    out = limiter.process(loud)
    assert float(np.max(np.abs(out))) <= 1.0
    assert limiter.gain < 0.7
    quiet = (0.1 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
    for _ in range(12):  # 1.2 s of quiet speech
        out = limiter.process(quiet)
    assert limiter.gain == 1.0 and np.allclose(out, quiet, atol=1e-6)


def test_the_level_meter_picks_the_loudest_and_holds_through_silence() -> None:
    meter = LevelMeter()
    block = np.ones(RATE // 15, dtype=np.float32)
    for _ in range(8):
        meter.add("ann", 0.3 * block)
        meter.add("bob", 0.05 * block)
    assert meter.loudest(["ann", "bob"]) == "ann"
    for _ in range(8):  # about as loud: no switch (hysteresis)
        meter.add("ann", 0.3 * block)
        meter.add("bob", 0.35 * block)
    assert meter.loudest(["ann", "bob"]) == "ann"
    for _ in range(8):
        meter.add("ann", 0 * block)
        meter.add("bob", 0 * block)
    assert meter.loudest(["ann", "bob"]) == "ann"  # silence: the last speaker stays
    assert meter.loudest(["bob"]) is None  # ann left; bob is silent: nobody yet
    assert meter.loudest([]) is None


def test_an_audio_track_reads_as_silence_before_it_starts_and_in_its_gaps(
    tmp_path: Path,
) -> None:
    folder = make_recording(
        tmp_path / "rec",
        [Person("ann", RED, 440.0, camera=False)],
        duration=3.0,
        pause=(1.0, 2.0),
    )
    reader = AudioTrackReader(folder / "microphone-0.webm", start_s=0.5)
    try:
        blocks = [reader.read(first, RATE // 10) for first in range(0, 4 * RATE, RATE // 10)]
    finally:
        reader.close()
    level = [float(np.sqrt(np.mean(b**2))) for b in blocks]  # one per 100 ms
    assert max(level[:4]) < 1e-3  # before 0.5 s: not started
    assert min(level[7:14]) > 0.1  # 0.7-1.4 s: the tone (0.3 amplitude)
    assert max(level[17:24]) < 1e-3  # 1.7-2.4 s: the pause, shifted by the 0.5 s start
    assert min(level[27:34]) > 0.1
    assert max(level[36:]) < 1e-3  # after its end


# --- layout and font --------------------------------------------------------------------------


@pytest.mark.parametrize("count", range(1, 10))
def test_grid_tiles_fill_the_frame_without_overlapping(count: int) -> None:
    rects = grid(count, 1280, 720)
    assert len(rects) == count
    for rect in rects:
        assert rect.x >= 0 and rect.y >= 0 and rect.x + rect.w <= 1280 and rect.y + rect.h <= 720
        assert rect.w % 2 == 0 and rect.h % 2 == 0
    assert not any(_overlap(a, b) for a, b in itertools.combinations(rects, 2))
    if count == 1:
        assert rects == [Rect(0, 0, 1280, 720)]


def test_a_screen_share_takes_the_large_area_and_cameras_go_to_a_strip() -> None:
    shared = arrange("grid", ["ann", "bob", "cid"], None, True, 1280, 720)
    assert shared.share is not None and shared.share.w > 1000
    for _, rect in shared.tiles:
        assert rect.x >= shared.share.x + shared.share.w and rect.w == 256
    speaker = arrange("speaker", ["ann", "bob"], "bob", False, 1280, 720)
    assert speaker == arrange("speaker", ["ann", "bob"], "bob", False, 1280, 720)
    assert speaker.share is None and speaker.tiles == (("bob", Rect(0, 0, 1280, 720)),)
    corner = arrange("speaker", ["ann", "bob"], "bob", True, 1280, 720)
    assert corner.share == Rect(0, 0, 1280, 720) and corner.tiles[0][0] == "bob"
    assert corner.tiles[0][1].w == 320
    # Nobody has spoken yet: the first one present.
    assert arrange("speaker", ["ann", "bob"], None, False, 640, 360).tiles[0][0] == "ann"
    assert len(strip(12, 1280, 720)) == 12
    with pytest.raises(ValueError, match="unknown layout"):
        arrange("mosaic", [], None, False, 640, 360)


def test_fit_keeps_the_picture_shape_centred() -> None:
    assert fit(640, 480, Rect(0, 0, 640, 360)) == Rect(80, 0, 480, 360)
    assert fit(1920, 1080, Rect(10, 10, 320, 320)) == Rect(10, 80, 320, 180)


def test_the_bitmap_font_draws_any_name() -> None:
    assert printable("Zoë d'Arc") == "ZOE D'ARC"
    assert printable("李") == "?"
    mask = text_mask("AB", 2)
    assert mask.shape == (14, 22) and mask.any()
    assert text_mask("I", 1)[:, 2].all()  # the I's stem
    assert fitting("MAXIMILIAN", 6 * 2 * 5, 2) == "MAX.."
    assert fitting("ANN", 6 * 2 * 5, 2) == "ANN"


# --- whole exports --------------------------------------------------------------------------


def test_a_camera_turned_off_shows_a_name_tile_and_a_late_joiner_a_new_tile(
    tmp_path: Path,
) -> None:
    folder = make_recording(
        tmp_path / "rec",
        [
            Person("ann", RED, 440.0, camera_off=(1.0, 3.0)),
            Person("bob", BLUE, 550.0, start=1.5),
        ],
        duration=4.0,
    )
    out = tmp_path / "out.mp4"
    result = export(folder, out, **SMALL)
    assert result.frames == 60 and result.duration_s == 4.0
    assert abs(probe(out).duration - 4.0) <= 0.1
    early, off, late = frames_at(out, [0.5, 2.5, 3.7])
    assert share_of(early, RED) > 0.5 and share_of(early, BLUE) == 0  # ann alone, full frame
    assert share_of(off, RED) == 0 and share_of(off, TILE, 4) > 0.15  # ann's dark name tile
    assert share_of(off, BLUE) > 0.1  # bob has joined
    assert share_of(late, RED) > 0.1 and share_of(late, BLUE) > 0.1


def test_the_speaker_layout_shows_the_loudest_full_frame(tmp_path: Path) -> None:
    folder = make_recording(
        tmp_path / "rec",
        [
            Person("ann", RED, 440.0, amplitude=0.02),
            Person("bob", BLUE, 550.0, amplitude=0.4),
            Person("cid", GREEN, 660.0, amplitude=0.02),
        ],
        duration=2.0,
    )
    out = tmp_path / "out.mp4"
    export(folder, out, layout="speaker", **SMALL)
    (picture,) = frames_at(out, [1.5])
    assert share_of(picture, BLUE) > 0.6
    assert share_of(picture, RED) == 0 and share_of(picture, GREEN) == 0
    signal, rate = audio(out, 0.5, 1.9)
    for tone in (440.0, 550.0, 660.0):  # everyone is in the mix, even quiet
        assert tone_strength(signal, rate, tone) > 100, tone


def test_a_screen_share_fills_the_frame_beside_the_camera_strip(tmp_path: Path) -> None:
    white = (250, 250, 250)
    folder = make_recording(
        tmp_path / "rec",
        [Person("ann", RED, 440.0, share=white), Person("bob", BLUE, 550.0, amplitude=0.6)],
        duration=1.0,
    )
    out = tmp_path / "out.mp4"
    for layout in ("grid", "speaker"):
        export(folder, out, layout=layout, **SMALL)
        (picture,) = frames_at(out, [0.5])
        assert share_of(picture, white, 20) > 0.5, layout
        if layout == "grid":  # both cameras in the strip on the right
            assert (
                share_of(picture[:, 500:], RED) > 0.02 and share_of(picture[:, 500:], BLUE) > 0.02
            )
            assert share_of(picture[:, :500], RED) == 0
        else:  # the speaker (bob, louder) in the corner
            assert share_of(picture[200:, 450:], BLUE) > 0.05


def test_a_pause_is_cut_out_of_the_export(tmp_path: Path) -> None:
    folder = make_recording(
        tmp_path / "rec", [Person("ann", RED, 440.0)], duration=4.0, pause=(1.0, 2.5)
    )
    out = tmp_path / "out.mp4"
    result = export(folder, out, **SMALL)
    assert result.duration_s == pytest.approx(2.5, abs=0.1)
    signal, _ = audio(out, 0.2, 2.3)
    blocks = signal[: len(signal) // 4800 * 4800].reshape(-1, 4800)  # 100 ms each
    assert np.sqrt(np.mean(blocks**2, axis=1)).min() > 0.1  # no silent hole left


def test_bad_arguments_and_an_unwritable_output_fail_cleanly(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec", [Person("ann", RED, 440.0)], duration=0.5)
    for bad in ({"layout": "mosaic"}, {"width": 641}, {"fps": 0}, {"height": 10**6}):
        with pytest.raises(ValueError):
            export(folder, tmp_path / "out.mp4", **bad)  # type: ignore[arg-type]
    with pytest.raises(ExportError):
        export(folder, tmp_path / "no" / "such" / "dir" / "out.mp4", **SMALL)
    assert not (tmp_path / "out.mp4").exists()


async def _cli(
    *args: str, cancel_after_progress: bool = False
) -> tuple[int, list[dict[str, object]]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "recorder.export",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines: list[dict[str, object]] = []
    try:
        async with asyncio.timeout(60):
            async for raw in process.stdout:
                lines.append(json.loads(raw))
                if cancel_after_progress and "progress" in lines[-1]:
                    process.send_signal(signal.SIGTERM)
                    cancel_after_progress = False
            return await process.wait(), lines
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_the_command_line_reports_progress_result_and_exit_codes(tmp_path: Path) -> None:
    folder = await asyncio.to_thread(
        make_recording, tmp_path / "rec", [Person("ann", RED, 440.0)], duration=2.0
    )
    out = tmp_path / "out.mp4"
    code, lines = await _cli(
        "--folder", str(folder), "--out", str(out), "--width", "320", "--height", "180"
    )
    assert code == 0
    progress = [float(str(line["progress"])) for line in lines[:-1]]
    assert progress == sorted(progress)
    assert lines[-2] == {"progress": 1.0}
    assert lines[-1]["done"] is True and lines[-1]["duration"] == 2.0 and lines[-1]["frames"] == 30
    assert await asyncio.to_thread(out.is_file)

    code, lines = await _cli("--folder", str(tmp_path), "--out", str(tmp_path / "x.mp4"))
    assert code == 3 and lines[-1]["exit"] == 3 and "no manifest" in str(lines[-1]["error"])
    code, lines = await _cli("--folder", str(folder), "--out", str(out), "--fps", "0")
    assert code == 2 and lines[-1]["exit"] == 2
    code, _ = await _cli("--folder", str(folder))  # argparse: --out is required
    assert code == 2


async def test_a_cancelled_export_leaves_no_file(tmp_path: Path) -> None:
    folder = await asyncio.to_thread(
        make_recording, tmp_path / "rec", [Person("ann", RED, 440.0)], duration=6.0
    )
    out = tmp_path / "out.mp4"
    # A heavy output (1080p, 30 fps) keeps the export running for seconds, far longer than
    # the test takes to read the first progress line and signal: a light one could finish
    # first on a fast machine (seen in CI: exit 0 instead of 4).
    code, lines = await _cli(
        "--folder",
        str(folder),
        "--out",
        str(out),
        "--width",
        "1920",
        "--height",
        "1080",
        "--fps",
        "30",
        cancel_after_progress=True,
    )
    assert code == 4 and lines[-1]["exit"] == 4
    assert await asyncio.to_thread(lambda: sorted(p.name for p in tmp_path.iterdir())) == ["rec"]
