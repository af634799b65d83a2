"""The framing engine on scripted scenes: faces at known positions over time, detections
sampled at 5 Hz with noise and misses, crops at 30 Hz, measured with the issue's figures."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field

import pytest

from framing import Box, Detection, Framer, FramingSettings

SOURCE_W, SOURCE_H = 1280, 720
FACE_W, FACE_H = 70.0, 90.0


@dataclass(frozen=True)
class Person:
    """A face moving linearly between (t, x, y) keyframes, present in [enter, leave)."""

    path: tuple[tuple[float, float, float], ...]
    enter: float = 0.0
    leave: float = math.inf
    w: float = FACE_W
    h: float = FACE_H
    speaker: bool = False

    def box(self, t: float) -> Box | None:
        if not self.enter <= t < self.leave:
            return None
        x, y = self.path[0][1], self.path[0][2]
        for (t0, x0, y0), (t1, x1, y1) in itertools.pairwise(self.path):
            if t0 <= t < t1:
                k = (t - t0) / (t1 - t0)
                return Box(x0 + k * (x1 - x0), y0 + k * (y1 - y0), self.w, self.h)
            x, y = x1, y1
        return Box(x, y, self.w, self.h)


def seated(x: float, y: float, **kw: float) -> Person:
    return Person(path=((0.0, x, y),), **kw)  # type: ignore[arg-type]


@dataclass
class SimResult:
    crops: list[tuple[float, Box]] = field(default_factory=list)
    inside_share: float = 0.0  # share of frames with every present face fully inside
    share_gain: float = 0.0  # faces' share of the crop divided by their share of the source
    jitter: float = 0.0  # mean max edge movement in source px/frame inside still windows
    frames_off_source_or_aspect: int = 0


def simulate(
    people: list[Person],
    duration: float,
    *,
    settings: FramingSettings | None = None,
    fps: float = 30.0,
    detect_hz: float = 5.0,
    noise_px: float = 3.0,
    miss_rate: float = 0.05,
    still: tuple[tuple[float, float], ...] = (),
    seed: int = 1,
    source: tuple[int, int] = (SOURCE_W, SOURCE_H),
) -> SimResult:
    """Run the scene: observe() at detect_hz with noisy, sometimes missing faces; crop() at fps."""
    rng = random.Random(seed)
    framer = Framer(source[0], source[1], settings)
    aspect = (settings or FramingSettings()).output_aspect
    bounds = Box(0, 0, source[0], source[1])
    result = SimResult()
    n_det = 0
    inside = 0
    face_share: list[float] = []
    raw_share: list[float] = []
    moves: list[float] = []
    prev: tuple[float, Box] | None = None
    frames = round(duration * fps)
    for i in range(frames):
        t = i / fps
        while n_det / detect_hz <= t + 1e-9:
            td = n_det / detect_hz
            dets = []
            for p in people:
                b = p.box(td)
                if b is None or rng.random() < miss_rate:
                    continue
                n = [rng.uniform(-noise_px, noise_px) for _ in range(4)]
                noisy = Box(b.x + n[0], b.y + n[1], b.w + n[2], b.h + n[3])
                dets.append(Detection(noisy, 0.9, speaker=p.speaker))
            framer.observe(td, dets)
            n_det += 1
        crop = framer.crop(t)
        result.crops.append((t, crop))
        if not bounds.contains(crop) or abs(crop.w / crop.h - aspect) > 1e-6:
            result.frames_off_source_or_aspect += 1
        faces = [b for p in people if (b := p.box(t)) is not None]
        if all(crop.contains(f) for f in faces):
            inside += 1
        if faces:
            area = sum(f.area for f in faces)
            face_share.append(area / crop.area)
            raw_share.append(area / bounds.area)
        if prev is not None and any(a <= prev[0] and t < b for a, b in still):
            p0 = prev[1]
            moves.append(
                max(
                    abs(crop.x - p0.x),
                    abs(crop.y - p0.y),
                    abs(crop.right - p0.right),
                    abs(crop.bottom - p0.bottom),
                )
            )
        prev = (t, crop)
    result.inside_share = inside / frames
    result.share_gain = (sum(face_share) / sum(raw_share)) if raw_share else 0.0
    result.jitter = sum(moves) / len(moves) if moves else 0.0
    return result


def crop_at(result: SimResult, t: float) -> Box:
    return min(result.crops, key=lambda item: abs(item[0] - t))[1]


STILL_GROUP = [seated(300, 300), seated(600, 280), seated(900, 310)]


def meeting_scene() -> list[Person]:
    """Two seated; a third walks in from the left edge at 10.1 s (between two detections),
    sits, and leaves at 35 s."""
    walker = Person(path=((10.1, 0.0, 320.0), (13.1, 250.0, 300.0)), enter=10.1, leave=35.0)
    return [seated(500, 300), seated(750, 290), walker]


# -- the figures on scripted scenes -------------------------------------------


def test_still_group_figures_meet_targets() -> None:
    r = simulate(STILL_GROUP, 30.0, still=((5.0, 30.0),))
    assert r.frames_off_source_or_aspect == 0
    assert r.inside_share >= 0.99
    assert r.jitter <= 0.5
    assert r.share_gain > 1.0


def test_meeting_scene_figures_meet_targets() -> None:
    r = simulate(meeting_scene(), 60.0, still=((5.0, 10.0), (20.0, 35.0), (45.0, 60.0)))
    assert r.frames_off_source_or_aspect == 0
    assert r.inside_share >= 0.99
    assert r.jitter <= 0.5
    assert r.share_gain > 1.0


# -- behaviours ----------------------------------------------------------------------


def test_still_group_settles_to_exactly_still() -> None:
    r = simulate(STILL_GROUP, 16.0, noise_px=0.0, miss_rate=0.0)
    settled = [c for t, c in r.crops if t >= 10.0]
    assert all(c == settled[0] for c in settled)  # 0.0 px/frame
    assert settled[0].w < SOURCE_W  # and it did zoom in on the group


def test_detector_noise_stays_in_dead_zone() -> None:
    r = simulate(STILL_GROUP, 20.0, noise_px=3.0, miss_rate=0.0, still=((5.0, 20.0),), seed=7)
    assert r.jitter < 0.5


def test_walker_is_inside_every_frame_after_first_detection() -> None:
    people = meeting_scene()
    r = simulate(people, 20.0, noise_px=3.0, miss_rate=0.0)
    walker = people[2]
    first_detection = 10.2  # the first 5 Hz detection after the entry at 10.1
    entry = walker.box(10.1)
    assert entry is not None and not crop_at(r, 10.1).contains(entry)  # outside at entry
    for t, crop in r.crops:
        if t >= first_detection:
            faces = [b for p in people if (b := p.box(t)) is not None]
            assert all(crop.contains(f) for f in faces), t


def test_person_leaving_holds_then_tightens_smoothly() -> None:
    settings = FramingSettings()
    leave = 10.0
    people = [seated(500, 300), seated(700, 300), seated(1000, 300, leave=leave)]
    r = simulate(people, 20.0, settings=settings, noise_px=0.0, miss_rate=0.0)
    width_before = crop_at(r, leave - 0.1).w
    held = [c.w for t, c in r.crops if leave <= t < leave + settings.zoom_out_hold_s - 0.1]
    assert min(held) == pytest.approx(width_before)
    final = crop_at(r, 19.9).w
    assert final < 0.85 * width_before
    max_step = settings.max_speed * SOURCE_W / 30 + 1e-6
    widths = [c.w for _, c in r.crops]
    assert all(abs(b - a) <= max_step for a, b in itertools.pairwise(widths))


def test_nobody_returns_to_wide_shot_after_timeout() -> None:
    settings = FramingSettings()
    gone = 8.0
    people = [seated(500, 300, leave=gone), seated(700, 300, leave=gone)]
    r = simulate(people, 20.0, settings=settings, noise_px=0.0, miss_rate=0.0)
    assert crop_at(r, gone - 0.1).w < SOURCE_W * 0.8
    assert crop_at(r, gone + settings.no_face_timeout_s - 0.3) == crop_at(r, gone - 0.1)
    assert crop_at(r, 19.9) == Box(0, 0, SOURCE_W, SOURCE_H)


def test_crop_inside_source_at_output_aspect_for_odd_sources() -> None:
    corners = [seated(0, 0), seated(1280 - 70, 0), seated(0, 480 - 90), seated(600, 400)]
    for source in ((1280, 720), (640, 480), (480, 640)):
        for aspect in (16 / 9, 4 / 3, 1.0):
            settings = FramingSettings(output_aspect=aspect)
            r = simulate(corners, 6.0, settings=settings, source=source, still=())
            assert r.frames_off_source_or_aspect == 0, (source, aspect)


def test_zoom_limits_respected() -> None:
    settings = FramingSettings(max_zoom=2.5)
    tiny = simulate([seated(600, 300, w=12, h=15)], 8.0, settings=settings, noise_px=0.0)
    assert min(c.w for _, c in tiny.crops) == pytest.approx(SOURCE_W / 2.5)
    capped = FramingSettings(min_zoom=1.5, max_zoom=2.0)
    spread = simulate([seated(10, 300), seated(1200, 300)], 8.0, settings=capped, noise_px=0.0)
    widths = [c.w for _, c in spread.crops]
    assert max(widths) <= SOURCE_W / 1.5 + 1e-6
    assert min(widths) >= SOURCE_W / 2.0 - 1e-6


def test_speaker_focus_frames_the_speaker() -> None:
    people = [seated(200, 300), seated(600, 300, speaker=True), seated(1000, 300)]
    focused = simulate(people, 8.0, settings=FramingSettings(speaker_focus=True), noise_px=0.0)
    group = simulate(people, 8.0, noise_px=0.0)
    f, g = crop_at(focused, 7.9), crop_at(group, 7.9)
    speaker = people[1].box(7.9)
    assert speaker is not None and f.contains(speaker)
    assert f.w < 0.6 * g.w
    assert abs(f.cx - speaker.cx) < 1.0
    assert all(g.contains(b) for p in people if (b := p.box(7.9)) is not None)


def test_zoom_in_needs_confirmation_over_consecutive_detections() -> None:
    settings = FramingSettings(zoom_confirm_count=3)
    framer = Framer(SOURCE_W, SOURCE_H, settings)
    face = [Detection(Box(600, 300, FACE_W, FACE_H), 0.9)]
    wide = Box(0, 0, SOURCE_W, SOURCE_H)
    framer.observe(0.0, face)
    framer.observe(0.2, face)
    assert framer.target == wide
    framer.observe(0.4, [])  # a miss breaks the streak
    framer.observe(0.6, face)
    framer.observe(0.8, face)
    assert framer.target == wide
    framer.observe(1.0, face)
    assert framer.target.w < SOURCE_W / 2


def test_crop_is_frame_rate_independent_and_deterministic() -> None:
    runs = {}
    for fps in (25.0, 30.0, 60.0):
        r = simulate(meeting_scene(), 20.0, fps=fps)
        runs[fps] = {round(t * 1000): c for t, c in r.crops}
    shared = set(runs[25.0]) & set(runs[30.0]) & set(runs[60.0])
    assert len(shared) > 50
    for ms in shared:
        a, b, c = runs[25.0][ms], runs[30.0][ms], runs[60.0][ms]
        for box in (b, c):
            assert box.x == pytest.approx(a.x, abs=1e-9)
            assert box.w == pytest.approx(a.w, abs=1e-9)
    again = simulate(meeting_scene(), 20.0)
    assert [c for _, c in again.crops] == list(runs[30.0].values())


def test_reset_goes_back_to_wide_shot() -> None:
    framer = Framer(SOURCE_W, SOURCE_H)
    for k in range(20):
        framer.observe(k * 0.2, [Detection(Box(600, 300, FACE_W, FACE_H), 0.9)])
    assert framer.crop(4.0).w < SOURCE_W
    framer.reset()
    assert framer.crop(4.1) == Box(0, 0, SOURCE_W, SOURCE_H)


def test_bad_input_is_rejected_or_ignored() -> None:
    framer = Framer(SOURCE_W, SOURCE_H)
    with pytest.raises(ValueError, match="finite"):
        framer.observe(math.nan, [])
    with pytest.raises(ValueError, match="finite"):
        framer.crop(math.inf)
    with pytest.raises(ValueError, match="finite"):
        Box(math.nan, 0, 1, 1)
    with pytest.raises(ValueError, match="non-negative"):
        Box(0, 0, -1, 1)
    with pytest.raises(ValueError, match="source size"):
        Framer(0, 720)
    with pytest.raises(ValueError, match="min_zoom"):
        FramingSettings(min_zoom=3.0, max_zoom=2.0)
    outside = Detection(Box(5000, 5000, 50, 50), 0.9)
    weak = Detection(Box(600, 300, 70, 90), 0.1)
    nan_score = Detection(Box(600, 300, 70, 90), math.nan)
    for k in range(10):
        framer.observe(k * 0.2, [outside, weak, nan_score])
    assert framer.target == Box(0, 0, SOURCE_W, SOURCE_H)
    framer.observe(1.0, [])  # time going backwards counts as "now", no crash
    assert framer.crop(0.5) == Box(0, 0, SOURCE_W, SOURCE_H)


def test_walk_across_room_figures_meet_targets() -> None:
    walker = Person(path=((2.0, 100.0, 300.0), (22.0, 1100.0, 310.0)), enter=2.0)
    for seed in range(3):
        r = simulate([seated(500, 300), walker], 25.0, seed=seed)
        assert r.inside_share >= 0.99
        assert r.share_gain > 1.0


def test_face_turned_away_briefly_does_not_zoom_in() -> None:
    settings = FramingSettings()
    turner = Person(path=((0.0, 1000.0, 300.0),), leave=8.0)
    back = Person(path=((0.0, 1000.0, 300.0),), enter=9.5)  # away 1.5 s < hold
    r = simulate(
        [seated(400, 300), turner, back], 16.0, settings=settings, noise_px=0.0, miss_rate=0.0
    )
    width_before = crop_at(r, 7.9).w
    assert min(c.w for t, c in r.crops if t >= 7.9) == pytest.approx(width_before)
    assert all(c.contains(Box(1000, 300, FACE_W, FACE_H)) for t, c in r.crops if t >= 9.6)
