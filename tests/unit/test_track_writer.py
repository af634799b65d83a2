"""TrackWriter: encoded frames (from aiortc's encoders, depayloader and jitter buffer) into
WebM/Matroska/Ogg, read back and decoded with PyAV."""

from __future__ import annotations

import os
from itertools import pairwise
from pathlib import Path

import pytest

from recorder.track_writer import RESYNC_AFTER, TrackWriter, TrackWriterError
from tests.support.encoded_frames import (
    AUDIO_CLOCK,
    FPS,
    VIDEO_CLOCK,
    EncodedFrame,
    encoded_frames,
    shifted,
)
from tests.support.media_file import read_track

COUNT = 45
CLOCKS = {"vp8": VIDEO_CLOCK, "h264": VIDEO_CLOCK, "opus": AUDIO_CLOCK}
INTERVAL = {"vp8": 1 / FPS, "h264": 1 / FPS, "opus": 0.02}


@pytest.fixture(scope="module")
def frames() -> dict[str, list[EncodedFrame]]:
    return {codec: encoded_frames(codec, COUNT) for codec in CLOCKS}


def record(path: Path, codec: str, frames: list[EncodedFrame]) -> TrackWriter:
    writer = TrackWriter(path, codec, CLOCKS[codec])
    for frame in frames:
        writer.write(frame.data, frame.timestamp)
    writer.close()
    return writer


def expected_pts(codec: str, frames: list[EncodedFrame]) -> list[float]:
    first = frames[0].timestamp
    return [((f.timestamp - first) % 2**32) / CLOCKS[codec] for f in frames]


@pytest.mark.parametrize(
    ("codec", "suffix"),
    [("vp8", ".webm"), ("h264", ".mkv"), ("opus", ".ogg"), ("opus", ".webm"), ("vp8", ".mkv")],
)
def test_frames_come_back_with_their_codec_count_and_times(
    tmp_path: Path, frames: dict[str, list[EncodedFrame]], codec: str, suffix: str
) -> None:
    path = tmp_path / f"track{suffix}"
    writer = record(path, codec, frames[codec])
    track = read_track(path)
    assert track.codec == codec
    assert track.format_name == ("ogg" if suffix == ".ogg" else "matroska,webm")
    assert (writer.frames_written, writer.frames_dropped) == (COUNT, 0)
    assert len(track.pts) == COUNT and track.decoded == COUNT
    assert all(b > a for a, b in pairwise(track.pts))
    # Matroska stores milliseconds: each pts within 1 ms of the RTP time.
    assert track.pts == pytest.approx(expected_pts(codec, frames[codec]), abs=0.0011)
    assert track.span + INTERVAL[codec] == pytest.approx(COUNT * INTERVAL[codec], abs=0.002)
    assert writer.first_rtp == frames[codec][0].timestamp
    if codec != "opus":
        assert (track.width, track.height) == (320, 240)


@pytest.mark.parametrize(
    ("codec", "suffix"), [("vp8", ".webm"), ("h264", ".mkv"), ("opus", ".ogg"), ("opus", ".webm")]
)
def test_a_two_second_gap_in_rtp_time_is_a_two_second_gap_in_the_file(
    tmp_path: Path, frames: dict[str, list[EncodedFrame]], codec: str, suffix: str
) -> None:
    gap = 2 * CLOCKS[codec]
    half = COUNT // 2
    fed = frames[codec][:half] + shifted(frames[codec][half:], gap)
    path = tmp_path / f"gap{suffix}"
    record(path, codec, fed)
    track = read_track(path)
    pts = track.media_pts()
    assert len(pts) == COUNT
    assert pts == pytest.approx(expected_pts(codec, fed), abs=0.0011)
    assert pts[half] - pts[half - 1] == pytest.approx(2 + INTERVAL[codec], abs=0.002)
    assert track.span + INTERVAL[codec] == pytest.approx(2 + COUNT * INTERVAL[codec], abs=0.002)
    if suffix == ".ogg":
        # The gap is filled with concealment packets (RFC 7845 §4.1): 2 s of them.
        fillers = len(track.pts) - COUNT
        assert fillers == 17  # 16 x 120 ms + 1 x 80 ms
        assert track.decoded == len(track.pts)
    else:
        assert track.decoded == COUNT


@pytest.mark.parametrize(("codec", "suffix"), [("vp8", ".webm"), ("opus", ".ogg")])
def test_the_32_bit_rtp_timestamp_wraps_without_a_jump(
    tmp_path: Path, frames: dict[str, list[EncodedFrame]], codec: str, suffix: str
) -> None:
    # Put the wrap between frames 19 and 20.
    offset = 2**32 - frames[codec][20].timestamp
    fed = shifted(frames[codec], offset)
    assert fed[19].timestamp > fed[20].timestamp  # really wraps
    path = tmp_path / f"wrap{suffix}"
    writer = record(path, codec, fed)
    track = read_track(path)
    assert writer.frames_written == COUNT
    assert track.pts == pytest.approx(expected_pts(codec, frames[codec]), abs=0.0011)


@pytest.mark.parametrize(("codec", "suffix"), [("vp8", ".webm"), ("h264", ".mkv")])
def test_video_starts_at_its_first_keyframe(tmp_path: Path, codec: str, suffix: str) -> None:
    # A late joiner: delta frames of a stream it joined mid-GOP, then a keyframe.
    deltas = encoded_frames(codec, 10)[1:]
    restart = shifted(encoded_frames(codec, 20), deltas[-1].timestamp + VIDEO_CLOCK // FPS)
    path = tmp_path / f"late{suffix}"
    writer = TrackWriter(path, codec, VIDEO_CLOCK)
    for frame in deltas:
        writer.write(frame.data, frame.timestamp)
    assert not writer.started and writer.first_rtp is None and not path.exists()
    for frame in restart:
        writer.write(frame.data, frame.timestamp)
    writer.close()
    assert writer.first_rtp == restart[0].timestamp
    assert (writer.frames_written, writer.frames_dropped) == (20, 9)
    track = read_track(path)
    assert len(track.pts) == 20 and track.decoded == 20
    assert track.pts[0] == 0.0


def test_h264_parameter_sets_from_an_earlier_access_unit_are_used(tmp_path: Path) -> None:
    # Some senders put SPS/PPS in their own access unit before the IDR.
    keyframe, *rest = encoded_frames("h264", 10)
    units = keyframe.data.split(b"\x00\x00\x00\x01")
    parameter_sets = b"".join(b"\x00\x00\x00\x01" + u for u in units if u and u[0] & 0x1F in (7, 8))
    idr_only = b"".join(b"\x00\x00\x00\x01" + u for u in units if u and u[0] & 0x1F == 5)
    assert parameter_sets and idr_only
    path = tmp_path / "split.mkv"
    writer = TrackWriter(path, "h264", VIDEO_CLOCK)
    writer.write(parameter_sets, keyframe.timestamp)  # not a picture: dropped
    writer.write(idr_only, keyframe.timestamp)
    for frame in rest:
        writer.write(frame.data, frame.timestamp)
    writer.close()
    track = read_track(path)
    assert (track.width, track.height) == (320, 240)
    assert len(track.pts) == 10 and track.decoded == 10


@pytest.mark.parametrize(("codec", "suffix"), [("vp8", ".webm"), ("opus", ".ogg")])
def test_duplicate_and_late_frames_are_dropped(
    tmp_path: Path, frames: dict[str, list[EncodedFrame]], codec: str, suffix: str
) -> None:
    f = frames[codec]
    # 5 arrives twice, 9 before 8 (8 is then late), everything else in order.
    fed = [*f[:6], f[5], *f[6:8], f[9], f[8], *f[10:]]
    path = tmp_path / f"dup{suffix}"
    writer = record(path, codec, fed)
    assert (writer.frames_written, writer.frames_dropped) == (COUNT - 1, 2)
    # Not decoded: a VP8 delta frame that lost its reference (8) is the decoder's problem
    # (the SFU answers its PLI); the file's job is order and timing.
    pts = read_track(path, decode=False).media_pts()
    assert len(pts) == COUNT - 1
    assert all(b > a for a, b in pairwise(pts))
    assert pts == pytest.approx(expected_pts(codec, f[:8] + f[9:]), abs=0.0011)


def test_a_restarted_rtp_clock_is_re_anchored_not_dropped_forever(
    tmp_path: Path, frames: dict[str, list[EncodedFrame]]
) -> None:
    f = frames["opus"]
    # The sender restarts far back in time: the first RESYNC_AFTER frames look late.
    restarted = shifted(encoded_frames("opus", RESYNC_AFTER + 10), -10 * AUDIO_CLOCK)
    path = tmp_path / "restart.ogg"
    writer = record(path, "opus", f + restarted)
    assert writer.frames_written == COUNT + 11
    assert writer.frames_dropped == RESYNC_AFTER - 1
    pts = read_track(path).media_pts()
    assert all(b > a for a, b in pairwise(pts))
    assert pts[COUNT:] == pytest.approx([(COUNT + i) * 0.02 for i in range(11)], abs=0.0011)


def test_close_is_idempotent_and_writing_afterwards_is_a_clear_error(
    tmp_path: Path, frames: dict[str, list[EncodedFrame]]
) -> None:
    path = tmp_path / "closed.webm"
    writer = record(path, "vp8", frames["vp8"][:10])
    size = path.stat().st_size
    writer.close()
    writer.close()
    assert writer.closed
    with pytest.raises(TrackWriterError, match="closed"):
        writer.write(frames["vp8"][10].data, frames["vp8"][10].timestamp)
    assert path.stat().st_size == size
    assert len(read_track(path).pts) == 10


def test_a_writer_that_never_got_a_frame_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.webm"
    writer = TrackWriter(path, "vp8", VIDEO_CLOCK)
    writer.close()
    writer.close()
    assert not path.exists() and not writer.started


@pytest.mark.parametrize(
    ("path", "codec", "clock_rate", "message"),
    [
        ("a.webm", "vp9", 90000, "unsupported codec"),
        ("a.ogg", "vp8", 90000, "cannot go into"),
        ("a.webm", "h264", 90000, "cannot go into"),
        ("a.mp4", "opus", 48000, "cannot go into"),
        ("a.ogg", "opus", 90000, "48000"),
        ("a.webm", "vp8", 0, "clock_rate"),
    ],
)
def test_bad_arguments_are_refused_up_front(
    tmp_path: Path, path: str, codec: str, clock_rate: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TrackWriter(tmp_path / path, codec, clock_rate)


@pytest.mark.parametrize(
    ("codec", "suffix", "garbage"),
    [
        ("opus", ".ogg", b""),
        ("opus", ".ogg", b"\x03"),  # code-3 packet without its frame count
        ("h264", ".mkv", b"no start code here"),
        ("vp8", ".webm", b"\x00\x01"),  # claims keyframe, no start code: cannot size it
    ],
)
def test_malformed_frames_are_dropped_and_the_file_goes_on(
    tmp_path: Path,
    frames: dict[str, list[EncodedFrame]],
    codec: str,
    suffix: str,
    garbage: bytes,
) -> None:
    path = tmp_path / f"bad{suffix}"
    writer = TrackWriter(path, codec, CLOCKS[codec])
    f = frames[codec]
    with pytest.raises(ValueError):
        writer.write(f[0].data, 2**32)
    writer.write(garbage, 0)
    for frame in f[:10]:
        writer.write(frame.data, frame.timestamp)
    writer.write(garbage, f[10].timestamp)
    writer.close()
    assert writer.frames_written == 10
    track = read_track(path)
    assert len(track.pts) == 10 and track.decoded == 10


def test_a_full_disk_is_a_writer_error_not_a_crash(
    tmp_path: Path, frames: dict[str, list[EncodedFrame]]
) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    path = tmp_path / "full.webm"
    path.symlink_to("/dev/full")  # every write fails with ENOSPC
    writer = TrackWriter(path, "vp8", VIDEO_CLOCK)
    with pytest.raises(TrackWriterError, match="failed"):
        for frame in frames["vp8"]:
            writer.write(frame.data, frame.timestamp)
    assert writer.closed
    with pytest.raises(TrackWriterError, match="closed"):
        writer.write(frames["vp8"][1].data, frames["vp8"][1].timestamp)
    writer.close()
