"""Crop and scale of yuv420p frames: the right part of each plane lands in the output."""

from __future__ import annotations

import numpy as np
import pytest

from framing.frame_cropper import FrameCropper, snap_even, source_size
from framing.geometry import Box


def _yuv(width: int, height: int) -> np.ndarray:
    """A frame whose Y value encodes the column (x // 8) and U/V the row, so a crop's
    position can be read back from its pixels."""
    y = np.tile((np.arange(width) // 8).astype(np.uint8), (height, 1))
    u = np.tile((np.arange(height // 2) % 256).astype(np.uint8)[:, None], (1, width // 2))
    v = np.full((height // 2, width // 2), 77, np.uint8)
    return np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(-1, width)


def _planes(yuv: np.ndarray, width: int, height: int) -> tuple[np.ndarray, ...]:
    flat = yuv.reshape(-1)
    q = width * height // 4
    y = flat[: width * height].reshape(height, width)
    u = flat[width * height : width * height + q].reshape(height // 2, width // 2)
    v = flat[width * height + q :].reshape(height // 2, width // 2)
    return y, u, v


def test_same_size_crop_is_an_exact_copy_of_the_region() -> None:
    src = _yuv(1280, 720)
    out = FrameCropper(640, 360).crop(src, Box(320, 180, 640, 360))
    assert out.shape == (540, 640) and out.dtype == np.uint8
    y, u, v = _planes(out, 640, 360)
    sy, su, _ = _planes(src, 1280, 720)
    assert np.array_equal(y, sy[180:540, 320:960])
    assert np.array_equal(u, su[90:270, 160:480])
    assert (v == 77).all()


def test_upscaled_crop_keeps_the_pattern_in_place() -> None:
    src = _yuv(1280, 720)
    out = FrameCropper(1280, 720).crop(src, Box(640, 360, 320, 180))
    y, u, v = _planes(out, 1280, 720)
    # Columns 640..960 hold Y 80..119: 4x enlarged, the left edge starts at 80 and the
    # right edge ends at 119; U rows 180..269 (stored modulo 256) run down the output.
    assert abs(int(y[0, 0]) - 80) <= 1 and abs(int(y[-1, -1]) - 119) <= 1
    assert abs(int(u[0, 0]) - 180) <= 1 and abs(int(u[-1, 0]) - 269 % 256) <= 1
    assert (v == 77).all()


def test_shrinking_the_whole_frame() -> None:
    src = _yuv(1280, 720)
    out = FrameCropper(640, 360).crop(src, Box(0, 0, 1280, 720))
    y, _, _ = _planes(out, 640, 360)
    # Two source columns per output column, averaged.
    assert abs(int(y[0, 320]) - 80) <= 1


def test_crop_box_snaps_to_even_pixels_inside_the_source() -> None:
    assert snap_even(Box(101.2, 50.9, 427.3, 240.4), 1280, 720) == (102, 50, 428, 240)
    assert snap_even(Box(-10, -10, 2000, 1000), 1280, 720) == (0, 0, 1280, 720)
    assert snap_even(Box(1270, 715, 0.5, 0.5), 1280, 720) == (1270, 716, 2, 2)
    assert snap_even(Box(1279, 719, 10, 10), 1280, 720) == (1270, 710, 10, 10)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (np.zeros((721, 1280), np.uint8), "multiple of 3"),
        (np.zeros((1080, 1280, 3), np.uint8), "2-D uint8"),
        (np.zeros((1080, 1280), np.uint16), "2-D uint8"),
        (np.zeros((1083, 1281), np.uint8), "even"),
    ],
)
def test_bad_frames_are_rejected(frame: np.ndarray, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        FrameCropper(640, 360).crop(frame, Box(0, 0, 100, 100))


def test_odd_output_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="even"):
        FrameCropper(641, 360)
    assert source_size(np.zeros((1080, 1280), np.uint8)) == (1280, 720)
