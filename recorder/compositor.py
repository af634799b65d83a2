"""Pictures of an export: video tracks decoded as the clock advances, drawn into frames.

``VideoTrackReader`` streams one file (one decoded frame ahead, never the whole track) and
answers "what does this track show at clock time t": its most recent frame, or nothing in
a gap (a camera turned off, a publisher gone) and after the track ends. ``Compositor`` draws
an ``Arrangement`` (recorder/layout.py): pictures scaled with swscale into their rectangle,
a dark tile with the name where a camera is off, and the name on every tile.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .bitmap_font import GLYPH_H, fitting, printable, text_mask
from .layout import Arrangement, Rect, fit
from .track_decoder import TrackDecoder

log = logging.getLogger(__name__)

# How long a frame stays on screen when no next frame follows soon: a camera sends 15-30
# frames a second, so a silence longer than GAP_S is the camera being off (or lost), and
# its tile goes dark HOLD_S after its last frame. A screen share of a still page may send
# a frame every few seconds (encoders skip unchanged content), so it holds much longer.
HOLD_S = 0.5
GAP_S = {"camera": 1.5, "screen_share": 30.0}

Image = npt.NDArray[np.uint8]
BACKGROUND = (0, 0, 0)
TILE = (32, 32, 36)  # an empty tile: distinct from black bars, neutral in any test colour
LABEL_BACKGROUND = (0, 0, 0)
LABEL_TEXT = (255, 255, 255)


class VideoTrackReader:
    """One video file on the clock; ``frame_at`` calls must go forward."""

    def __init__(self, path: Path, start_s: float, source: str) -> None:
        self.path = path
        self.source = source
        self._start = start_s
        self._gap = GAP_S.get(source, GAP_S["camera"])
        self._decoder = TrackDecoder(path, "video")
        self._current: tuple[float, Any] | None = None
        self._next: tuple[float, Any] | None = self._pull()
        self._index = 0  # counts frames taken, to cache scaled pictures
        self._scaled: tuple[int, int, int, Image] | None = None

    def frame_at(self, t: float) -> Any | None:
        """The frame showing at clock time ``t`` (an av.VideoFrame), or None."""
        while self._next is not None and self._next[0] <= t:
            self._current, self._next = self._next, self._pull()
            self._index += 1
        if self._current is None:
            return None
        shown_at, frame = self._current
        if self._next is not None and self._next[0] - shown_at <= self._gap:
            return frame  # the next frame comes soon: this one is on screen until then
        return frame if t - shown_at <= HOLD_S else None

    def picture(self, t: float, w: int, h: int) -> Image | None:
        """The frame at ``t`` scaled to ``w`` x ``h`` RGB (cached while it is on screen)."""
        frame = self.frame_at(t)
        if frame is None:
            return None
        if self._scaled is not None and self._scaled[:3] == (self._index, w, h):
            return self._scaled[3]
        image: Image = frame.to_ndarray(width=w, height=h, format="rgb24")
        self._scaled = (self._index, w, h, image)
        return image

    @property
    def errors(self) -> int:
        """Corrupt packets skipped, and a demuxer that gave up early."""
        return self._decoder.errors

    def close(self) -> None:
        self._decoder.close()

    def _pull(self) -> tuple[float, Any] | None:
        for frame in self._decoder.frames:
            if frame.pts is None or frame.time_base is None:
                continue
            return self._start + float(frame.pts * frame.time_base), frame
        return None


class Compositor:
    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._canvas: Image = np.zeros((height, width, 3), dtype=np.uint8)

    def draw(
        self,
        t: float,
        arrangement: Arrangement,
        share: VideoTrackReader | None,
        cameras: dict[str, VideoTrackReader | None],
        names: dict[str, str],
    ) -> Image:
        """The frame at clock time ``t``: the share (if any) and each tile, with names."""
        canvas = self._canvas
        canvas[:] = BACKGROUND
        if arrangement.share is not None and share is not None:
            self._picture(canvas, share, t, arrangement.share)
        for identity, rect in arrangement.tiles:
            reader = cameras.get(identity)
            name = names.get(identity, identity)
            shown = self._picture(canvas, reader, t, rect) if reader is not None else None
            if shown is None:
                canvas[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w] = TILE
                _label(canvas, name, rect, centred=True)
            else:
                _label(canvas, name, shown, centred=False)
        return canvas

    def _picture(self, canvas: Image, reader: VideoTrackReader, t: float, box: Rect) -> Rect | None:
        """Draw the reader's frame at ``t`` fitted into ``box``; where it went, or None."""
        frame = reader.frame_at(t)
        if frame is None:
            return None
        target = fit(frame.width, frame.height, box)
        image = reader.picture(t, target.w, target.h)
        if image is None:
            return None
        canvas[target.y : target.y + target.h, target.x : target.x + target.w] = image
        return target


def _label(canvas: Image, name: str, box: Rect, *, centred: bool) -> None:
    """The name in white on a dark band: bottom-left of a picture, or centred in a tile."""
    scale = 3 if centred and box.w >= 480 else 2 if box.w >= 160 else 1
    pad = 2 * scale
    text = fitting(printable(name), box.w - 2 * pad, scale)
    if not text or box.h < GLYPH_H * scale + 2 * pad:
        return
    mask = text_mask(text, scale)
    text_h, text_w = mask.shape
    band_w, band_h = text_w + 2 * pad, text_h + 2 * pad
    if centred:
        x, y = box.x + (box.w - band_w) // 2, box.y + (box.h - band_h) // 2
    else:
        x, y = box.x + pad, box.y + box.h - band_h - pad
    canvas[y : y + band_h, x : x + band_w] = LABEL_BACKGROUND
    region = canvas[y + pad : y + pad + text_h, x + pad : x + pad + text_w]
    region[mask] = LABEL_TEXT
