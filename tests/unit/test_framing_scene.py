"""The synthetic meeting room (benchmarks/framing_scene.py) that issue 6's framing evaluation
and detector comparison are scored on: its ground truth must be where the faces are drawn,
frames must be reproducible, and each named scene's scripted events must happen."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from benchmarks.framing_scene import (
    SCENE_NAMES,
    FaceBox,
    Keyframe,
    Person,
    Scene,
    face_truth,
    faces,
    render,
    scene,
)
from benchmarks.framing_scene import _sprite as sprite


def _face_patch(name: str, flip: bool, tint: tuple[float, float, float]) -> np.ndarray:
    s = sprite(name, flip, tint)
    x, y, w, h = s.face
    return cv2.cvtColor(s.bgr[y : y + h, x : x + w].astype(np.uint8), cv2.COLOR_BGR2GRAY)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel() - a.mean()
    b = b.astype(np.float64).ravel() - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def test_ground_truth_boxes_hold_the_face_photos() -> None:
    s = scene("still_group")
    frame = render(s, 2.0)
    truth = faces(s, 2.0)
    assert len(truth) == len(s.people) == 4
    for box, person in zip(truth, s.people, strict=True):
        drawn = cv2.cvtColor(
            frame[box.y : box.y + box.h, box.x : box.x + box.w], cv2.COLOR_BGR2GRAY
        )
        photo = _face_patch(person.portrait, person.flip, person.tint)
        photo = cv2.resize(photo, (box.w, box.h), interpolation=cv2.INTER_AREA)
        # The pixels inside the box are the face photo (up to scaling, noise and sway
        # rounding); one box shifted by half its size is not.
        assert _correlation(drawn, photo) > 0.8, (person.portrait, box)
        off = frame[box.y + box.h // 2 : box.y + box.h // 2 + box.h, box.x : box.x + box.w]
        off = cv2.cvtColor(off, cv2.COLOR_BGR2GRAY)
        assert _correlation(off, photo) < 0.6


def test_ground_truth_is_what_a_face_detector_finds() -> None:
    # Independent check with OpenCV's frontal Haar cascade on a still frame: every box it
    # finds overlaps one ground truth box, and it finds most of them.
    s = scene("still_group")
    frame = render(s, 0.0)
    clf = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")  # type: ignore[attr-defined]
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    found = [FaceBox(*map(int, r)) for r in clf.detectMultiScale(grey, 1.1, 5, minSize=(24, 24))]
    truth = faces(s, 0.0)
    assert len(found) >= 3

    def overlap(a: FaceBox, b: FaceBox) -> float:
        ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
        iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
        return ix * iy / (a.w * a.h + b.w * b.h - ix * iy)

    for f in found:
        assert max(overlap(f, t) for t in truth) > 0.5, f


def test_frames_are_deterministic_and_the_seed_matters() -> None:
    a, b = scene("walk_in", seed=3), scene("walk_in", seed=3)
    assert np.array_equal(render(a, 4.2), render(b, 4.2))
    assert faces(a, 4.2) == faces(b, 4.2)
    assert not np.array_equal(render(a, 4.2), render(scene("walk_in", seed=4), 4.2))
    frame = render(a, 4.2)
    assert frame.shape == (720, 1280, 3) and frame.dtype == np.uint8


def test_people_sitting_still_sway_a_little() -> None:
    s = scene("still_group")
    xs = np.array([[f.x for f in faces(s, t)] for t in s.frame_times()[::10]])
    span = xs.max(axis=0) - xs.min(axis=0)
    assert np.all(span >= 1) and np.all(span <= 6), span


def test_walk_in_adds_a_face_from_the_left_edge() -> None:
    s = scene("walk_in")
    counts = [len(faces(s, t)) for t in np.arange(0, 20, 0.25)]
    assert counts[0] == 2 and counts[-1] == 3
    first = next(t for t in np.arange(0, 20, 0.1) if len(faces(s, t)) == 3)
    assert 3.0 < first < 5.0
    newcomer = min(faces(s, first), key=lambda f: f.x)
    assert newcomer.x == 0  # enters clipped at the frame's left edge


def test_leave_and_return_drops_a_face_then_restores_it() -> None:
    s = scene("leave_and_return")
    assert len(faces(s, 1.0)) == 3
    assert len(faces(s, 10.0)) == 2
    assert len(faces(s, 18.0)) == 3
    # While gone the person is fully outside the picture: the frame equals a room without them.
    alone = Scene("two", s.people[:2], seed=s.seed)
    assert np.array_equal(render(s, 10.0), render(alone, 10.0))


def test_turning_narrows_then_hides_a_face_and_a_laptop_hides_another() -> None:
    s = scene("turning")
    by_person = {f.person: f for f in face_truth(s, 1.0)}
    assert sorted(by_person) == [0, 1, 2]
    # Three-quarter view (t 5..7 s): still a face, narrower, same height.
    three_quarter = {f.person: f for f in face_truth(s, 6.0)}[1]
    assert three_quarter.turn == pytest.approx(0.4)
    assert three_quarter.box.w < by_person[1].box.w * 0.9
    assert abs(three_quarter.box.h - by_person[1].box.h) <= 2
    # Turned away (t 8..11 s): no face; the laptop hides only the chin (still a face).
    at_9 = {f.person: f for f in face_truth(s, 9.0)}
    assert sorted(at_9) == [0, 2] and at_9[2].occlusion == pytest.approx(0.3)
    # Back to the camera; the laptop now hides most of the other face.
    assert sorted(f.person for f in face_truth(s, 12.5)) == [0, 1]
    assert len(faces(s, 15.0)) == 3


def test_empty_room_has_no_faces() -> None:
    s = scene("empty_room")
    assert all(faces(s, t) == [] for t in (0.0, 5.0, 19.9))
    # Sensor noise makes consecutive frames differ slightly, as a real camera's do.
    diff = cv2.absdiff(render(s, 0.0), render(s, 1 / 30))
    assert 0 < float(diff.mean()) < 6


def test_rendering_is_much_faster_than_real_time() -> None:
    s = scene("still_group")
    render(s, 0.0)  # decode photos and draw the room once
    start = time.perf_counter()
    for t in s.frame_times()[:60]:
        render(s, t)
    # 2 s of 30 fps video; generous bound for a shared CI machine.
    assert time.perf_counter() - start < 1.0


def test_bad_scripts_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown scene"):
        scene("party")
    with pytest.raises(ValueError, match="unknown portrait"):
        Person((Keyframe(0, 1, 1, 50),), portrait="lfw:150")
    with pytest.raises(ValueError, match="time order"):
        Person((Keyframe(2, 1, 1, 50), Keyframe(1, 1, 1, 50)))
    with pytest.raises(ValueError, match="at least one keyframe"):
        Person(())


def test_every_named_scene_renders() -> None:
    for name in SCENE_NAMES:
        s = scene(name)
        assert render(s, s.duration - 0.01).shape == (720, 1280, 3)
