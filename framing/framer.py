"""The framing engine: detections in, one smooth crop rectangle per displayed frame out.

Pure and deterministic: no clock, no I/O. The worker calls `observe()` with each detector
result (a few Hz) and `crop()` for every frame it outputs (e.g. 30 Hz), both with the
frame's timestamp in seconds.

Two layers:
- the *target* framing changes only on detections, through the dead zone, the zoom
  confirmation and the zoom-out hold (so detector noise never reaches the picture);
- the *displayed* crop follows the target through a critically damped spring on centre
  and width, integrated on a fixed internal time grid so that the crop at time t is the
  same whether frames are asked for at 25, 30 or 60 Hz.
On top of both, the displayed crop is widened at once whenever it would cut off a face
from the latest detection: smoothness never wins over keeping a person in the picture.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from framing.framing_settings import FramingSettings
from framing.geometry import Box

# Internal integration step of the spring. Fixed (not the caller's frame interval) so
# that the result does not depend on the frame rate; 1/120 s is 4 steps per 30 fps frame.
_STEP_S = 1 / 120
# Below these the spring is at rest: snap onto the target so a settled crop is exactly
# still (0.0 px/frame) instead of creeping by ever smaller fractions of a pixel.
_REST_PX = 0.01
_REST_PX_S = 0.05


@dataclass(frozen=True)
class Detection:
    """One face (or person) found in a frame, in source pixels."""

    box: Box
    score: float
    speaker: bool = False  # the active speaker, for optional speaker focus
    # Face landmarks in source pixels when the detector gives them (BlazeFace: right eye,
    # left eye, nose tip, mouth centre, right ear, left ear), e.g. to tell which face's
    # mouth moves for speaker focus; empty otherwise.
    keypoints: tuple[tuple[float, float], ...] = ()


@dataclass
class _Spring:
    """Critically damped motion of one coordinate towards a goal."""

    pos: float
    vel: float = 0.0

    def step(self, goal: float, dt: float, omega: float, max_speed: float) -> None:
        # Exact solution of x'' = -2w x' - w^2 (x - goal) over dt, so the step size does
        # not change the path (only the speed limit below is applied per step).
        err = self.pos - goal
        a = self.vel + omega * err
        decay = math.exp(-omega * dt)
        new_pos = goal + (err + a * dt) * decay
        new_vel = (self.vel - omega * a * dt) * decay
        limit = max_speed * dt
        if abs(new_pos - self.pos) > limit:
            new_pos = self.pos + math.copysign(limit, new_pos - self.pos)
        self.vel = max(-max_speed, min(max_speed, new_vel))
        self.pos = new_pos
        if abs(self.pos - goal) < _REST_PX and abs(self.vel) < _REST_PX_S:
            self.pos, self.vel = goal, 0.0


class Framer:
    """Turns detections into a crop rectangle per frame (see the module docstring)."""

    def __init__(
        self, source_w: int, source_h: int, settings: FramingSettings | None = None
    ) -> None:
        settings = settings if settings is not None else FramingSettings()
        if source_w <= 0 or source_h <= 0:
            raise ValueError(f"source size must be positive, got {source_w}x{source_h}")
        self._settings = settings
        self._aspect = settings.output_aspect
        self._bounds = Box(0.0, 0.0, float(source_w), float(source_h))
        # The largest output-aspect crop that fits the source, centred: "zoom 1.0".
        fit = Box(0.0, 0.0, 1.0, 1.0 / self._aspect).fit_aspect(self._aspect)
        scale = min(source_w / fit.w, source_h / fit.h)
        self._fit_w = fit.w * scale
        self._max_w = self._fit_w / settings.min_zoom
        self._min_w = self._fit_w / settings.max_zoom
        self._wide = self._place(self._bounds.with_width(self._max_w, self._aspect))
        self._omega = 1.0 / settings.smoothing_time_constant_s
        self._max_speed = settings.max_speed * self._fit_w
        self._origin: float | None = None
        self._time = 0.0
        self._grid_k = 0
        self.reset()

    # -- public interface -------------------------------------------------------------

    def reset(self) -> None:
        """Back to the wide shot, at once, forgetting every face seen so far."""
        self._target = self._wide
        self._cx = _Spring(self._wide.cx)
        self._cy = _Spring(self._wide.cy)
        self._w = _Spring(self._wide.w)
        self._must: Box | None = None
        # The faces' box from the last detection that saw the most faces, kept for the
        # hold time: a face the detector missed is still protected at its last position.
        self._full: tuple[float, int, Box] | None = None
        self._change_votes = 0
        self._last_face_t: float | None = None
        self._counts: deque[tuple[float, int]] = deque()

    @property
    def target(self) -> Box:
        """The framing the crop is moving towards (for diagnostics and tests)."""
        return self._target

    def observe(self, t: float, detections: Sequence[Detection]) -> None:
        """Take one detector result for the frame at time t (seconds)."""
        t = self._commit(t)
        s = self._settings
        valid = self._valid(detections)
        count = len(valid)
        self._counts.append((t, count))
        while self._counts and self._counts[0][0] < t - s.zoom_out_hold_s:
            self._counts.popleft()
        if not valid:
            self._must = None
            self._change_votes = 0
            if self._last_face_t is None or t - self._last_face_t >= s.no_face_timeout_s:
                self._target = self._wide
            return
        self._last_face_t = t
        focus = [box for box, _ in valid]
        if s.speaker_focus:
            speakers = [(box, d) for box, d in valid if d.speaker]
            if speakers:
                focus = [max(speakers, key=lambda item: item[1].score)[0]]
        self._retarget(t, focus, count)

    def crop(self, t: float) -> Box:
        """The crop for the frame shown at time t: output aspect, inside the source."""
        t = self._check_time(t)
        self._advance_grid(t)
        springs = (
            _Spring(self._cx.pos, self._cx.vel),
            _Spring(self._cy.pos, self._cy.vel),
            _Spring(self._w.pos, self._w.vel),
        )
        # The part of the interval after the last grid point is integrated on copies, so
        # asking for a frame does not change the committed path.
        if t > self._time:
            self._step(springs, t - self._time)
        width = min(max(springs[2].pos, self._min_w), self._max_w)
        box = self._place(
            Box.from_center(springs[0].pos, springs[1].pos, width, width / self._aspect)
        )
        return box if self._must is None else self._contain(box, self._must)

    # -- target framing ---------------------------------------------------------------

    def _retarget(self, t: float, focus: list[Box], count: int) -> None:
        s = self._settings
        must = self._padded(focus)
        full = self._full
        if full is not None and count < full[1] and t - full[0] <= s.zoom_out_hold_s:
            must = must.union(full[2])
        else:
            self._full = (t, count, must)
        self._must = must
        desired = self._framing(focus)
        current = self._target
        if not current.contains(must):
            # Someone would be cut off: move or widen now, never narrower than now.
            width = max(current.w, desired.w)
            self._target = self._contain(self._place(desired.with_width(width, self._aspect)), must)
            self._change_votes = 0
            return
        m = s.dead_zone_margin
        off_centre = (
            abs(desired.cx - current.cx) > m * current.w
            or abs(desired.cy - current.cy) > m * current.h
        )
        ratio = desired.w / current.w
        rezoom = abs(ratio - 1.0) > s.zoom_threshold
        if not (off_centre or rezoom):
            self._change_votes = 0
            return
        # Everything else is not urgent: it must be confirmed by consecutive detections,
        # so one noisy or partial detection never moves the picture.
        self._change_votes += 1
        if self._change_votes < s.zoom_confirm_count:
            return
        # And while fewer faces are seen than within the last hold seconds (someone left,
        # turned away or was missed), keep the framing that included them: only widening
        # is allowed.
        held = any(c > count for _, c in self._counts)
        if held and not (rezoom and ratio > 1.0):
            return
        width = desired.w if rezoom else current.w
        self._target = self._contain(self._place(desired.with_width(width, self._aspect)), must)
        self._change_votes = 0

    def _valid(self, detections: Sequence[Detection]) -> list[tuple[Box, Detection]]:
        """Confident detections clipped to the source; boxes outside it are dropped."""
        out: list[tuple[Box, Detection]] = []
        for det in detections:
            if not math.isfinite(det.score) or det.score < self._settings.min_score:
                continue
            clipped = det.box.intersection(self._bounds)
            if clipped is not None:
                out.append((clipped, det))
        return out

    def _framing(self, faces: list[Box]) -> Box:
        """Head-and-shoulders framing of the faces at the output aspect, inside the source."""
        s = self._settings
        parts = [
            f.expand(s.side_margin * f.w, s.headroom * f.h, s.side_margin * f.w, s.below_face * f.h)
            for f in faces
        ]
        group = Box.union_all(parts).fit_aspect(self._aspect)
        width = min(max(group.w, self._min_w), self._max_w)
        if width < group.w:
            # The group does not fit at the widest zoom: keep the faces themselves central.
            group = Box.union_all(faces)
        return self._place(group.with_width(width, self._aspect))

    def _padded(self, faces: list[Box]) -> Box:
        s = self._settings
        padded = Box.union_all(
            f.expand(
                s.contain_pad_side * f.w,
                s.contain_pad_vertical * f.h,
                s.contain_pad_side * f.w,
                s.contain_pad_vertical * f.h,
            )
            for f in faces
        )
        clipped = padded.intersection(self._bounds)
        return clipped if clipped is not None else self._bounds

    def _contain(self, box: Box, must: Box) -> Box:
        """The smallest growth of `box` (aspect kept, inside the source) that holds `must`."""
        if box.contains(must):
            return box
        grown = box.union(must).fit_aspect(self._aspect)
        if grown.w > self._max_w:
            grown = must.with_width(self._max_w, self._aspect)
        return self._place(grown)

    def _place(self, box: Box) -> Box:
        return box.clamp_inside(self._bounds)

    # -- time and smoothing -----------------------------------------------------------

    def _check_time(self, t: float) -> float:
        if not math.isfinite(t):
            raise ValueError(f"time must be a finite number of seconds, got {t!r}")
        if self._origin is None:
            self._origin = self._time = t
        # Time never runs backwards: a late detection counts as arriving now.
        return max(t, self._time)

    def _commit(self, t: float) -> float:
        """Advance the committed spring state to exactly t (an observation time)."""
        t = self._check_time(t)
        self._advance_grid(t)
        if t > self._time:
            self._step((self._cx, self._cy, self._w), t - self._time)
            self._time = t
        return t

    def _advance_grid(self, t: float) -> None:
        assert self._origin is not None
        while True:
            next_t = self._origin + (self._grid_k + 1) * _STEP_S
            if next_t > t:
                return
            if next_t > self._time:
                self._step((self._cx, self._cy, self._w), next_t - self._time)
                self._time = next_t
            self._grid_k += 1

    def _step(self, springs: tuple[_Spring, _Spring, _Spring], dt: float) -> None:
        goal = self._target
        springs[0].step(goal.cx, dt, self._omega, self._max_speed)
        springs[1].step(goal.cy, dt, self._omega, self._max_speed)
        springs[2].step(goal.w, dt, self._omega, self._max_speed)
