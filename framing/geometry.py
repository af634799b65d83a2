"""Axis-aligned rectangles in source pixels, the only geometry the framing engine needs.

A `Box` is immutable and always finite with non-negative size, so every later step
(union, aspect fit, clamping) can trust it without re-checking.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """A rectangle: top-left corner (x, y) and size (w, h), floats in source pixels."""

    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        for name in ("x", "y", "w", "h"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"Box.{name} must be finite, got {getattr(self, name)!r}")
        if self.w < 0 or self.h < 0:
            raise ValueError(f"Box size must be non-negative, got {self.w}x{self.h}")

    @classmethod
    def from_center(cls, cx: float, cy: float, w: float, h: float) -> Box:
        return cls(cx - w / 2, cy - h / 2, w, h)

    @classmethod
    def union_all(cls, boxes: Iterable[Box]) -> Box:
        """The smallest box holding every box; ValueError when there are none."""
        items = list(boxes)
        if not items:
            raise ValueError("union of no boxes")
        left = min(b.x for b in items)
        top = min(b.y for b in items)
        right = max(b.right for b in items)
        bottom = max(b.bottom for b in items)
        return cls(left, top, right - left, bottom - top)

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def area(self) -> float:
        return self.w * self.h

    def union(self, other: Box) -> Box:
        return Box.union_all((self, other))

    def contains(self, other: Box, tolerance: float = 1e-6) -> bool:
        """True when `other` lies fully inside this box (edges may touch)."""
        return (
            other.x >= self.x - tolerance
            and other.y >= self.y - tolerance
            and other.right <= self.right + tolerance
            and other.bottom <= self.bottom + tolerance
        )

    def intersection(self, other: Box) -> Box | None:
        left = max(self.x, other.x)
        top = max(self.y, other.y)
        right = min(self.right, other.right)
        bottom = min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Box(left, top, right - left, bottom - top)

    def expand(self, left: float, top: float, right: float, bottom: float) -> Box:
        """Grow each side by the given amount (negative amounts shrink, never below zero)."""
        new_left = self.x - left
        new_top = self.y - top
        new_w = max(0.0, self.right + right - new_left)
        new_h = max(0.0, self.bottom + bottom - new_top)
        return Box(new_left, new_top, new_w, new_h)

    def fit_aspect(self, aspect: float) -> Box:
        """Grow the short dimension around the centre until w / h == aspect (never shrinks)."""
        if aspect <= 0 or not math.isfinite(aspect):
            raise ValueError(f"aspect must be a positive number, got {aspect!r}")
        if self.h == 0 or self.w / self.h < aspect:
            w, h = self.h * aspect, self.h
        else:
            w, h = self.w, self.w / aspect
        return Box.from_center(self.cx, self.cy, w, h)

    def with_width(self, w: float, aspect: float) -> Box:
        """The same centre at width w and height w / aspect."""
        return Box.from_center(self.cx, self.cy, w, w / aspect)

    def clamp_inside(self, bounds: Box) -> Box:
        """Shift into `bounds`; a box larger than `bounds` is cut down to it on that axis.

        Shifting (not cropping) keeps the size, so the output zoom does not pop at an edge.
        """
        w = min(self.w, bounds.w)
        h = min(self.h, bounds.h)
        x = min(max(self.x, bounds.x), bounds.right - w)
        y = min(max(self.y, bounds.y), bounds.bottom - h)
        return Box(x, y, w, h)
