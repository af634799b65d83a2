"""Crop and scale a yuv420p frame to the fixed output size, at the camera's frame rate.

Works on the planar layout ``av.VideoFrame.to_ndarray(format="yuv420p")`` gives: one uint8
array of H*3/2 rows and W columns holding the Y plane (H x W) followed by the U and V planes
(H/2 x W/2 each, stored row after row). Each plane is cropped and resized on its own, with no
colour conversion: two RGB conversions per frame would cost more than the crop itself.
The crop is snapped to even pixels so the chroma planes (half resolution) are cut at the
same place as the luma plane.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from framing.geometry import Box

Yuv = npt.NDArray[np.uint8]


def snap_even(box: Box, source_w: int, source_h: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of `box` on even pixels, at least 2x2, inside a source_w x source_h frame."""
    w = min(source_w, max(2, 2 * round(box.w / 2)))
    h = min(source_h, max(2, 2 * round(box.h / 2)))
    x = min(max(0, 2 * math.floor(box.x / 2 + 0.5)), source_w - w)
    y = min(max(0, 2 * math.floor(box.y / 2 + 0.5)), source_h - h)
    return x, y, w, h


def _check_even(what: str, w: int, h: int) -> None:
    if w < 2 or h < 2 or w % 2 or h % 2:
        raise ValueError(f"{what} must be even and at least 2x2 for yuv420p, got {w}x{h}")


def source_size(yuv: Yuv) -> tuple[int, int]:
    """The (width, height) of the picture a yuv420p array holds; ValueError if it is not one."""
    if not isinstance(yuv, np.ndarray):
        raise ValueError(f"frame must be a numpy array, got {type(yuv).__name__}")
    if yuv.dtype != np.uint8 or yuv.ndim != 2:
        raise ValueError(
            f"frame must be a 2-D uint8 yuv420p array (H*3/2 x W), got {yuv.dtype} {yuv.shape}"
        )
    rows, width = yuv.shape
    if rows % 3:
        raise ValueError(f"yuv420p frame has H*3/2 rows: {rows} is not a multiple of 3")
    height = rows * 2 // 3
    _check_even("yuv420p frame size", width, height)
    return width, height


class FrameCropper:
    """Cuts a crop box out of a yuv420p frame and scales it to out_w x out_h."""

    def __init__(self, out_w: int, out_h: int) -> None:
        _check_even("output size", out_w, out_h)
        self.out_w = out_w
        self.out_h = out_h

    def crop(self, yuv: Yuv, box: Box) -> Yuv:
        """The part of the frame inside `box` (snapped to even px), at the output size."""
        width, height = source_size(yuv)
        # The chroma planes are views of the flat buffer: that needs one contiguous block.
        yuv = np.ascontiguousarray(yuv)
        x, y, w, h = snap_even(box, width, height)
        ow, oh = self.out_w, self.out_h
        out = np.empty((oh * 3 // 2, ow), np.uint8)
        # INTER_AREA averages every source pixel when shrinking (no aliasing shimmer on
        # fine patterns); it is slow and no better than bilinear when enlarging.
        shrink = w > ow or h > oh
        interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        _resize(yuv[y : y + h, x : x + w], out[:oh], interp)
        q = height * width // 4  # one chroma plane, in bytes
        oq = oh * ow // 4
        flat = yuv.reshape(-1)
        out_flat = out.reshape(-1)
        for plane in range(2):
            start = width * height + plane * q
            src = flat[start : start + q].reshape(height // 2, width // 2)
            ostart = ow * oh + plane * oq
            dst = out_flat[ostart : ostart + oq].reshape(oh // 2, ow // 2)
            _resize(src[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2], dst, interp)
        return out


def _resize(src: Yuv, dst: Yuv, interp: int) -> None:
    """Scale src into the preallocated view dst (no copy when the sizes already match)."""
    if src.shape == dst.shape:
        dst[:] = src
        return
    result = cv2.resize(src, (dst.shape[1], dst.shape[0]), dst=dst, interpolation=interp)
    if result is not dst and not np.shares_memory(result, dst):
        # OpenCV's binding writes into dst when shape and type match; copy if it did not.
        dst[:] = result
