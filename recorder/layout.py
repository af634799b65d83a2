"""Where each picture goes in an export frame: pure geometry, no pixels.

- ``grid``: every participant present gets an equal tile, in a near-square grid.
- ``speaker``: the current speaker fills the frame.
- A screen share, when there is one, takes the large area in both: in ``grid`` the cameras
  sit in a strip on the right; in ``speaker`` the speaker sits in a corner over the share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

LAYOUTS = ("grid", "speaker")
GAP = 4  # pixels between tiles
STRIP_FRACTION = 0.2  # the camera strip beside a screen share, of the frame's width
CORNER_FRACTION = 0.25  # the speaker's corner picture over a share, of the frame's width


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Arrangement:
    share: Rect | None  # where the screen share goes, if one is shown
    tiles: tuple[tuple[str, Rect], ...]  # (identity, where its camera tile goes)


def arrange(
    layout: str,
    people: Sequence[str],
    speaker: str | None,
    sharing: bool,
    width: int,
    height: int,
) -> Arrangement:
    """The arrangement of one frame: ``people`` present (in order), who speaks, a share?"""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: one of {LAYOUTS}")
    if layout == "speaker":
        chosen = speaker if speaker in people else (people[0] if people else None)
        if not sharing:
            full = Rect(0, 0, width, height)
            return Arrangement(None, ((chosen, full),) if chosen is not None else ())
        share = Rect(0, 0, width, height)
        if chosen is None:
            return Arrangement(share, ())
        w = _even(width * CORNER_FRACTION)
        h = _even(w * 9 / 16)
        corner = Rect(width - w - GAP, height - h - GAP, w, h)
        return Arrangement(share, ((chosen, corner),))
    if not sharing:
        return Arrangement(None, tuple(zip(people, grid(len(people), width, height), strict=True)))
    strip_w = _even(width * STRIP_FRACTION) if people else 0
    share = Rect(0, 0, width - strip_w - (GAP if people else 0), height)
    return Arrangement(share, tuple(zip(people, strip(len(people), width, height), strict=True)))


def grid(count: int, width: int, height: int) -> list[Rect]:
    """``count`` equal tiles filling the frame, rows first; a short last row is centred."""
    if count <= 0:
        return []
    # Columns chosen for the largest 16:9-ish tiles: try each and keep the best.
    best_cols, best_area = 1, -1.0
    for cols in range(1, count + 1):
        rows = math.ceil(count / cols)
        w, h = width / cols, height / rows
        fitted = min(w, h * 16 / 9)  # the width a 16:9 picture gets in this tile
        area = fitted * fitted * 9 / 16
        if area > best_area + 1e-6:
            best_cols, best_area = cols, area
    cols = best_cols
    rows = math.ceil(count / cols)
    tile_w, tile_h = (width - GAP * (cols - 1)) // cols, (height - GAP * (rows - 1)) // rows
    rects: list[Rect] = []
    for index in range(count):
        row, col = divmod(index, cols)
        in_row = min(cols, count - row * cols)
        offset = (width - in_row * tile_w - (in_row - 1) * GAP) // 2
        rects.append(
            Rect(offset + col * (tile_w + GAP), row * (tile_h + GAP), _even(tile_w), _even(tile_h))
        )
    return rects


def strip(count: int, width: int, height: int) -> list[Rect]:
    """``count`` 16:9 tiles stacked in the right-hand strip beside a share, centred."""
    if count <= 0:
        return []
    strip_w = _even(width * STRIP_FRACTION)
    tile_h = min(_even(strip_w * 9 / 16), (height - GAP * (count - 1)) // count)
    tile_h = max(2, _even(tile_h))
    top = max(0, (height - count * tile_h - (count - 1) * GAP) // 2)
    x = width - strip_w
    return [Rect(x, top + i * (tile_h + GAP), strip_w, tile_h) for i in range(count)]


def fit(src_w: int, src_h: int, box: Rect) -> Rect:
    """The largest ``src_w`` x ``src_h``-shaped rectangle centred in ``box`` (even sizes,
    which yuv420p's half-resolution chroma wants)."""
    if src_w <= 0 or src_h <= 0 or box.w <= 0 or box.h <= 0:
        return Rect(box.x, box.y, 0, 0)
    scale = min(box.w / src_w, box.h / src_h)
    w = max(2, min(box.w, _even(src_w * scale)))
    h = max(2, min(box.h, _even(src_h * scale)))
    return Rect(box.x + (box.w - w) // 2, box.y + (box.h - h) // 2, w, h)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)
