"""Synthetic meeting-room video with known face positions, for issue 6 (auto-framing).

Every frame is drawn offline from real face photographs that ship inside scikit-image
(test/benchmark-only dependency), so the evaluation needs no download and no recorded video:

- ``skimage.data.astronaut()``: Eileen Collins, a frontal colour portrait (head with hair).
- ``skimage.data.lfw_subset()``: 25x25 grey crops; the first 100 are faces from Labeled
  Faces in the Wild (the other 100 are non-faces and are never used). They are tinted to a
  skin tone and pasted on a drawn head so the room holds different faces, not one face
  repeated.
- ``skimage.data.camera()`` shows a man in profile behind a camera; it is not used because a
  profile is not what a frontal face detector is scored on, and turning is scripted instead.

A :class:`Scene` is a script: people with keyframed face position, size and head turn over
time. :func:`render` draws a BGR ``uint8`` frame and :func:`faces` gives the ground truth box
of every face a viewer could see at that instant (on screen, not turned away, not mostly
hidden). Everything is a pure function of ``(scene, t)``: the room, the sway and the sensor
noise come from the scene's seed, so a frame can be redrawn bit-exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np
import numpy.typing as npt
from skimage import data as skdata

Image = npt.NDArray[np.uint8]
Float2D = npt.NDArray[np.float32]

# Astronaut's face (hairline to chin, cheek to cheek) and head (with hair) in the 512x512
# photo, measured by eye on a 50 px grid; OpenCV's frontal Haar cascade finds (177, 66, 95, 95).
_ASTRONAUT_HEAD = (140, 8, 170, 190)  # x, y, w, h of the crop used as the sprite
_ASTRONAUT_FACE = (170, 64, 90, 108)

# Number of distinct sensor noise fields cycled through; a few are enough to make frames
# differ (as a real camera's do) without paying for a fresh random field per frame.
_NOISE_FIELDS = 8
_NOISE_SIGMA = 3.0

# A head turned further than this (0 = frontal, 1 = back of the head) no longer shows a face.
_TURN_HIDES_FACE = 0.5
# A face counts as visible while at least this share of it is on screen and unoccluded.
_MIN_VISIBLE_SHARE = 0.6


class FaceBox(NamedTuple):
    """A face's box in frame pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Keyframe:
    """Where a person is at time ``t``; values between keyframes are interpolated linearly.

    ``x``/``y`` are the face centre in frame pixels, ``face_h`` the face height in pixels,
    ``turn`` 0 (frontal) .. 1 (back of the head), ``occlusion`` the share of the face hidden
    from below (a raised hand or a laptop lid), 0 .. 1.
    """

    t: float
    x: float
    y: float
    face_h: float
    turn: float = 0.0
    occlusion: float = 0.0


@dataclass(frozen=True)
class Person:
    """One participant: which photo is their face, how they look and how they move."""

    keyframes: tuple[Keyframe, ...]
    portrait: str = "astronaut"  # "astronaut" or "lfw:<0..99>"
    flip: bool = False
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # BGR gains on the face photo
    shirt: tuple[int, int, int] = (90, 70, 60)  # BGR
    sway_px: float = 2.0  # amplitude of the idle sway, in pixels

    def __post_init__(self) -> None:
        if not self.keyframes:
            raise ValueError("a person needs at least one keyframe")
        times = [k.t for k in self.keyframes]
        if times != sorted(times):
            raise ValueError("keyframes must be in time order")
        _check_portrait(self.portrait)


@dataclass(frozen=True)
class Scene:
    """A scripted room: its people, duration, frame geometry and the seed of its randomness."""

    name: str
    people: tuple[Person, ...] = ()
    duration: float = 20.0
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    seed: int = 0
    noise: bool = field(default=True)

    def frame_times(self) -> list[float]:
        """The timestamps of every frame of the scene at its frame rate."""
        return [i / self.fps for i in range(round(self.duration * self.fps))]


class _Pose(NamedTuple):
    cx: float
    cy: float
    face_h: float
    turn: float
    occlusion: float


class _Sprite(NamedTuple):
    """A head image with its alpha and where the face sits inside it (x, y, w, h)."""

    bgr: Float2D
    alpha: Float2D
    face: tuple[int, int, int, int]


def _soft_ellipse(h: int, w: int, ax: float, ay: float) -> Float2D:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((xx - w / 2) / ax) ** 2 + ((yy - h / 2) / ay) ** 2)
    # A feathered edge 10% of the radius wide, so a pasted head has no hard cut-out border.
    alpha: Float2D = np.clip((1.0 - r) / 0.1, 0.0, 1.0).astype(np.float32)
    return alpha


def _check_portrait(name: str) -> None:
    if name == "astronaut":
        return
    index = name.removeprefix("lfw:")
    # lfw_subset's images 100..199 are not faces.
    if name == index or not index.isdigit() or not 0 <= int(index) < 100:
        raise ValueError(f"unknown portrait {name!r}: use 'astronaut' or 'lfw:<0..99>'")


def _portrait(name: str) -> _Sprite:
    _check_portrait(name)
    if name == "astronaut":
        x, y, w, h = _ASTRONAUT_HEAD
        photo = np.asarray(skdata.astronaut())  # type: ignore[no-untyped-call]
        bgr = photo[y : y + h, x : x + w, ::-1].astype(np.float32)
        fx, fy, fw, fh = _ASTRONAUT_FACE
        return _Sprite(bgr, _soft_ellipse(h, w, w / 2 - 2, h / 2), (fx - x, fy - y, fw, fh))
    else:
        faces = np.asarray(skdata.lfw_subset())  # type: ignore[no-untyped-call]
        grey = faces[int(name.removeprefix("lfw:"))].astype(np.float32)
        face = cv2.resize(grey, (100, 100), interpolation=cv2.INTER_CUBIC)
        skin = np.array([0.78, 0.88, 1.0], np.float32)  # BGR gains: a warm skin tone
        w, h, fx, fy = 140, 160, 20, 40
        bgr = np.empty((h, w, 3), np.float32)
        bgr[:] = (40.0, 45.0, 55.0)  # hair
        bgr[fy : fy + 100, fx : fx + 100] = np.clip(face[..., None] * skin * 255.0, 0, 255)
        return _Sprite(bgr, _soft_ellipse(h, w, w / 2 - 1, h / 2 - 1), (fx, fy, 100, 100))


# Memoised pure functions of immutable keys (not mutable state): decoding the photos and
# drawing the room once per scene keeps a 1280x720 frame at a few milliseconds.
@lru_cache(maxsize=64)
def _sprite(name: str, flip: bool, tint: tuple[float, float, float]) -> _Sprite:
    base = _portrait(name)
    bgr = np.clip(base.bgr * np.array(tint, np.float32), 0, 255).astype(np.float32)
    alpha = base.alpha
    fx, fy, fw, fh = base.face
    if flip:
        bgr, alpha = bgr[:, ::-1].copy(), alpha[:, ::-1].copy()
        fx = bgr.shape[1] - fx - fw
    return _Sprite(bgr, alpha, (fx, fy, fw, fh))


@lru_cache(maxsize=4)
def _room(width: int, height: int, seed: int) -> Image:
    """The empty room behind the people: wall, whiteboard, picture, floor."""
    rng = np.random.default_rng(seed)
    wall = np.array(rng.uniform(150, 200, size=3), np.float32)
    # Deterministic low-frequency blotches: a coarse random grid upscaled smoothly.
    coarse = rng.normal(0.0, 8.0, size=(9, 16, 3)).astype(np.float32)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    shade = np.linspace(1.05, 0.85, height, dtype=np.float32)[:, None, None]
    room = np.clip(wall * shade + texture, 0, 255).astype(np.uint8)
    floor_y = int(height * 0.78)
    room[floor_y:] = (70, 80, 95)
    bx = int(rng.uniform(0.05, 0.3) * width)
    cv2.rectangle(
        room, (bx, int(height * 0.1)), (bx + width // 4, int(height * 0.33)), (235, 235, 232), -1
    )  # whiteboard
    px = int(rng.uniform(0.6, 0.8) * width)
    cv2.rectangle(
        room, (px, int(height * 0.12)), (px + width // 10, int(height * 0.28)), (60, 90, 120), -1
    )  # a picture frame
    return np.ascontiguousarray(room, dtype=np.uint8)


@lru_cache(maxsize=4)
def _sensor_noise(width: int, height: int, seed: int) -> tuple[tuple[Image, Image], ...]:
    """A few signed noise fields, each split as (positive part, negative part) in uint8."""
    rng = np.random.default_rng((seed, 1))
    fields = []
    for _ in range(_NOISE_FIELDS):
        n = rng.normal(0.0, _NOISE_SIGMA, size=(height, width, 3))
        fields.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))
    return tuple(fields)


def _lerp(a: float, b: float, u: float) -> float:
    return a + (b - a) * u


def _pose(scene: Scene, index: int, t: float) -> _Pose:
    ks = scene.people[index].keyframes
    if t <= ks[0].t:
        k0 = k1 = ks[0]
    elif t >= ks[-1].t:
        k0 = k1 = ks[-1]
    else:
        i = next(i for i in range(1, len(ks)) if ks[i].t >= t)
        k0, k1 = ks[i - 1], ks[i]
    u = 0.0 if k1.t == k0.t else (t - k0.t) / (k1.t - k0.t)
    # Idle sway: two slow sines with phases from the seed, so people who sit still still move
    # a pixel or two as real people do (what a framer's dead zone must absorb).
    phase = np.random.default_rng((scene.seed, index, 2)).uniform(0, 2 * math.pi, size=2)
    amp = scene.people[index].sway_px
    sx = amp * math.sin(2 * math.pi * 0.23 * t + float(phase[0]))
    sy = 0.5 * amp * math.sin(2 * math.pi * 0.37 * t + float(phase[1]))
    return _Pose(
        _lerp(k0.x, k1.x, u) + sx,
        _lerp(k0.y, k1.y, u) + sy,
        _lerp(k0.face_h, k1.face_h, u),
        _lerp(k0.turn, k1.turn, u),
        _lerp(k0.occlusion, k1.occlusion, u),
    )


class _Placement(NamedTuple):
    """Where a person's head sprite and face land in the frame (float pixels)."""

    scale: float  # sprite pixels -> frame pixels, vertically
    squeeze: float  # extra horizontal factor of a turning head
    left: float
    top: float
    face: tuple[float, float, float, float]


def _place(sprite: _Sprite, pose: _Pose) -> _Placement:
    fx, fy, fw, fh = sprite.face
    scale = pose.face_h / fh
    # A turning face gets narrower (cosine of the yaw); past _TURN_HIDES_FACE only hair shows.
    squeeze = max(0.25, math.cos(pose.turn * math.pi / 2))
    sx = scale * squeeze
    left = pose.cx - (fx + fw / 2) * sx
    top = pose.cy - (fy + fh / 2) * scale
    return _Placement(
        scale, squeeze, left, top, (left + fx * sx, top + fy * scale, fw * sx, fh * scale)
    )


class FaceTruth(NamedTuple):
    """A visible face with what makes it easy or hard to detect (for per-case scoring)."""

    box: FaceBox
    person: int  # index into ``scene.people``
    portrait: str
    turn: float
    occlusion: float
    on_screen: float  # share of the face inside the frame
    moving: bool  # its keyframed position is changing at ``t`` (walking), beyond idle sway


def face_truth(scene: Scene, t: float) -> list[FaceTruth]:
    """Ground truth with details: every face a viewer can see at ``t``.

    A face counts when its head is turned less than half-way, and at least
    ``_MIN_VISIBLE_SHARE`` of it is both on screen and not hidden by an occluder. The box is
    clipped to the frame.
    """
    out: list[FaceTruth] = []
    for index, person in enumerate(scene.people):
        pose = _pose(scene, index, t)
        if pose.turn >= _TURN_HIDES_FACE:
            continue
        x, y, w, h = _place(_sprite(person.portrait, person.flip, person.tint), pose).face
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(float(scene.width), x + w), min(float(scene.height), y + h)
        if x1 <= x0 or y1 <= y0:
            continue
        # Rounded so that float noise does not mark a face wholly inside as at the edge.
        on_screen = round((x1 - x0) * (y1 - y0) / (w * h), 3)
        if on_screen * (1.0 - pose.occlusion) < _MIN_VISIBLE_SHARE:
            continue
        bx, by = round(x0), round(y0)
        later = _pose(scene, index, t + 0.1)
        moving = abs(later.cx - pose.cx) + abs(later.cy - pose.cy) > 2.0
        box = FaceBox(bx, by, round(x1) - bx, round(y1) - by)
        out.append(
            FaceTruth(box, index, person.portrait, pose.turn, pose.occlusion, on_screen, moving)
        )
    return out


def faces(scene: Scene, t: float) -> list[FaceBox]:
    """Ground truth: the box (clipped to the frame) of every face a viewer can see at ``t``."""
    return [f.box for f in face_truth(scene, t)]


def _blend(frame: Image, bgr: Float2D, alpha: Float2D, left: int, top: int) -> None:
    """Alpha-composite a float BGR image onto ``frame`` at (left, top), clipped to the frame."""
    h, w = alpha.shape
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(frame.shape[1], left + w), min(frame.shape[0], top + h)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - top : y1 - top, x0 - left : x1 - left, None]
    src = bgr[y0 - top : y1 - top, x0 - left : x1 - left]
    roi = frame[y0:y1, x0:x1]
    roi[:] = (roi * (1.0 - a) + src * a).astype(np.uint8)


def _draw_person(frame: Image, person: Person, pose: _Pose) -> None:
    sprite = _sprite(person.portrait, person.flip, person.tint)
    p = _place(sprite, pose)
    fh = pose.face_h
    cx, cy = round(pose.cx), round(pose.cy)
    # Torso: shoulders and chest as a filled ellipse below the head (drawn before the head).
    cv2.ellipse(
        frame,
        (cx, round(cy + 2.6 * fh)),
        (round(1.6 * fh), round(1.9 * fh)),
        0,
        0,
        360,
        person.shirt,
        -1,
        cv2.LINE_AA,
    )
    sh, sw = sprite.alpha.shape
    full_w = max(1, round(sw * p.scale))
    h = max(1, round(sh * p.scale))
    if pose.turn > 0:
        # Hair of the full-width head behind the narrowed face, offset to the side turned to.
        hair = (40, 45, 55)
        axes = (max(1, full_w // 2 - 2), max(1, round(h * 0.47)))
        off = round((full_w - full_w * p.squeeze) / 2) * (1 if person.flip else -1)
        cv2.ellipse(frame, (cx + off, round(p.top + h / 2)), axes, 0, 0, 360, hair, -1, cv2.LINE_AA)
    if pose.turn < _TURN_HIDES_FACE:
        w = max(1, round(sw * p.scale * p.squeeze))
        bgr = cv2.resize(sprite.bgr, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
        alpha = cv2.resize(sprite.alpha, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
        _blend(frame, bgr, alpha, round(p.left), round(p.top))
    if pose.occlusion > 0:
        # A laptop lid / raised hand hiding the lower part of the face.
        x, y, w_, h_ = p.face
        top = round(y + h_ * (1.0 - pose.occlusion))
        cv2.rectangle(
            frame,
            (round(x - 0.2 * w_), top),
            (round(x + 1.2 * w_), round(y + 1.3 * h_)),
            (150, 150, 155),
            -1,
        )


def render(scene: Scene, t: float) -> Image:
    """The BGR ``uint8`` frame of ``scene`` at time ``t`` (seconds), ``height x width x 3``."""
    frame = _room(scene.width, scene.height, scene.seed).copy()
    for index, person in enumerate(scene.people):
        _draw_person(frame, person, _pose(scene, index, t))
    # The table in front of everyone hides the seated people's lower bodies.
    w, h = scene.width, scene.height
    table = np.array(
        [
            [int(w * 0.12), int(h * 0.70)],
            [int(w * 0.88), int(h * 0.70)],
            [int(w * 0.97), int(h * 0.92)],
            [int(w * 0.03), int(h * 0.92)],
        ],
        np.int32,
    )
    cv2.fillPoly(frame, [table], (45, 75, 110), cv2.LINE_AA)
    cv2.line(frame, tuple(table[0]), tuple(table[1]), (80, 115, 150), 3, cv2.LINE_AA)
    if scene.noise:
        plus, minus = _sensor_noise(w, h, scene.seed)[round(t * scene.fps) % _NOISE_FIELDS]
        cv2.add(frame, plus, dst=frame)
        cv2.subtract(frame, minus, dst=frame)
    return frame


# ---- named scenes -----------------------------------------------------------------------

SCENE_NAMES = ("still_group", "walk_in", "leave_and_return", "turning", "empty_room")

# Seats behind the table: face centres (x share of width, y px at 720p) and face heights.
_SEATS = ((0.22, 330.0, 62.0), (0.40, 318.0, 70.0), (0.60, 322.0, 66.0), (0.78, 334.0, 58.0))
_LOOKS = (
    ("astronaut", False, (1.0, 1.0, 1.0), (90, 70, 60)),
    ("lfw:3", False, (0.9, 0.95, 1.0), (40, 40, 40)),
    ("astronaut", True, (0.75, 0.8, 0.9), (120, 90, 40)),
    ("lfw:6", True, (1.0, 1.0, 0.95), (60, 110, 60)),
)


def _seated(seat: int, width: int, *extra: Keyframe, start: float = 0.0) -> Person:
    sx, y, fh = _SEATS[seat]
    portrait, flip, tint, shirt = _LOOKS[seat]
    keys = (Keyframe(start, sx * width, y, fh), *extra)
    return Person(keys, portrait, flip, tint, shirt)


def scene(name: str, seed: int = 0, width: int = 1280, height: int = 720) -> Scene:
    """One of the named scenes (``SCENE_NAMES``), 20 s at 30 fps.

    - ``still_group``: four people seated behind the table, swaying slightly.
    - ``walk_in``: two seated; a third walks in from the left edge (t 3..8 s) and sits.
    - ``leave_and_return``: three seated; one walks out right (t 5..8 s), is gone, and
      comes back to the seat (t 13..16 s).
    - ``turning``: three seated; one turns to a three-quarter view (t 4..7 s), away (t 7..11
      s, no face) and back (t 11..12 s); another hides the chin behind a laptop lid (t 7..10
      s, still a face) then most of the face (t 10..14 s, no face).
    - ``empty_room``: nobody.
    """
    if name not in SCENE_NAMES:
        raise ValueError(f"unknown scene {name!r}: one of {', '.join(SCENE_NAMES)}")
    if height != 720:
        raise ValueError("named scenes are scripted for 720 lines")
    w = width
    people: tuple[Person, ...]
    if name == "still_group":
        people = tuple(_seated(i, w) for i in range(4))
    elif name == "walk_in":
        sx, y, fh = _SEATS[1]
        walker = Person(
            (
                Keyframe(3.0, -60.0, y - 20, fh),
                Keyframe(8.0, sx * w, y - 20, fh),
                Keyframe(9.0, sx * w, y, fh),
            ),
            "lfw:3",
            False,
            (0.9, 0.95, 1.0),
            (40, 40, 40),
        )
        people = (_seated(0, w), _seated(2, w), walker)
    elif name == "leave_and_return":
        sx, y, fh = _SEATS[3]
        leaver = _seated(
            3,
            w,
            Keyframe(5.0, sx * w, y, fh),
            # 2.5 face heights past the edge: head and shoulders wholly out of the picture.
            Keyframe(8.0, w + 2.5 * fh, y - 25, fh),
            Keyframe(13.0, w + 2.5 * fh, y - 25, fh),
            Keyframe(16.0, sx * w, y, fh),
        )
        people = (_seated(0, w), _seated(1, w), leaver)
    elif name == "turning":
        sx, y, fh = _SEATS[1]
        turner = _seated(
            1,
            w,
            Keyframe(4.0, sx * w, y, fh),
            Keyframe(5.0, sx * w, y, fh, turn=0.4),  # three-quarter view, still a face
            Keyframe(7.0, sx * w, y, fh, turn=0.4),
            Keyframe(8.0, sx * w, y, fh, turn=1.0),  # back of the head
            Keyframe(11.0, sx * w, y, fh, turn=1.0),
            Keyframe(12.0, sx * w, y, fh),
        )
        sx2, y2, fh2 = _SEATS[2]
        hider = _seated(
            2,
            w,
            Keyframe(7.0, sx2 * w, y2, fh2),
            Keyframe(8.0, sx2 * w, y2, fh2, occlusion=0.3),  # chin and mouth hidden
            Keyframe(10.0, sx2 * w, y2, fh2, occlusion=0.3),
            Keyframe(11.0, sx2 * w, y2, fh2, occlusion=0.6),  # too little face left
            Keyframe(13.0, sx2 * w, y2, fh2, occlusion=0.6),
            Keyframe(14.0, sx2 * w, y2, fh2),
        )
        people = (_seated(0, w), turner, hider)
    else:
        people = ()
    return Scene(name, people, width=width, height=height, seed=seed)
