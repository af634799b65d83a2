"""The framer's media path with real aiortc peers on 127.0.0.1 (framing/video_peer.py,
framing/framed_track.py): a "room" peer sends a synthetic meeting-room camera
(benchmarks/framing_scene.py) to the framer's receive slot; the framer frames it and sends
the framed camera back on its sendonly transceiver, declared ``frames: <track sid>``; the
room peer receives frames of the configured output size.

The room peer plays the SFU's part of the negotiation (answers the framer's offers and
names the track each receive mid carries); the end-to-end run through the server is in the
server's own tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from framing.camera_framing import CameraFraming
from framing.face_detector import DetectorUnavailable, FaceDetector
from framing.framed_track import FramedOutput, Framing, Yuv
from framing.framer import Detection
from framing.framing_settings import FramingSettings
from framing.geometry import Box
from framing.video_peer import VideoPeer, VideoSlot
from recorder.aiortc_frames import bind_ice
from tests.support.room_camera import SceneCamera

LOOPBACK = ("127.0.0.1",)
CAMERA_SID = "TR_camera"
SOURCE = (640, 360)
OUTPUT = (320, 180)


@dataclass
class RoomPeer:
    """Plays the SFU for the framer: sends the camera, answers offers, takes framed frames."""

    camera: SceneCamera
    pc: RTCPeerConnection = field(
        default_factory=lambda: RTCPeerConnection(RTCConfiguration(iceServers=[]))
    )
    offers: list[list[dict[str, Any]]] = field(default_factory=list)
    framed: list[tuple[float, int, int]] = field(default_factory=list)  # (time, width, height)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self.readers.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, VideoFrame)
                self.framed.append((time.monotonic(), frame.width, frame.height))
                self.arrived.set()

    async def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        assert type_ == "offer"
        self.offers.append(fields["tracks"])
        await self.pc.setRemoteDescription(RTCSessionDescription(fields["sdp"], "offer"))
        if not any(t.sender.track is self.camera for t in self.pc.getTransceivers()):
            # The framer's receive slot is its first m-section (receive_slots.py adds
            # slots before senders): addTrack takes the first free video transceiver.
            self.pc.addTrack(self.camera)
        bind_ice(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        mids = {
            t.mid: CAMERA_SID for t in self.pc.getTransceivers() if t.sender.track is self.camera
        }
        return {"type": "answer", "sdp": self.pc.localDescription.sdp, "mids": mids}

    async def frames_after(self, count: int, within_s: float) -> list[tuple[float, int, int]]:
        start = len(self.framed)
        async with asyncio.timeout(within_s):
            while len(self.framed) < start + count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.framed[start:]

    async def close(self) -> None:
        await self.pc.close()
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


@dataclass
class Framer:
    """The framer's side: its peer and one output, wired as framing/worker.py wires them."""

    peer: VideoPeer
    outputs: dict[str, FramedOutput]

    async def close(self) -> None:
        await self.peer.cancel_tasks()
        await asyncio.gather(*(o.close() for o in self.outputs.values()))
        await self.peer.close()


class StandInFraming:
    """A framing whose detector always finds one face; it crops the centre quarter."""

    def __init__(self, source_w: int, source_h: int, out_w: int, out_h: int) -> None:
        self.source = (source_w, source_h)
        self.out = (out_w, out_h)
        self.next_due = 0.0
        self.pending = False
        self.observed: list[tuple[float, int]] = []
        self.detect_threads: set[str] = set()

    def due(self, t: float) -> bool:
        if self.pending or t < self.next_due:
            return False
        self.pending, self.next_due = True, t + 0.2
        return True

    def cancel(self) -> None:
        self.pending = False

    def detect(self, yuv: Yuv) -> list[Detection]:
        self.detect_threads.add(threading.current_thread().name)
        return [Detection(Box(10, 10, 40, 40), 0.9)]

    def observe(self, t: float, detections: Sequence[Detection]) -> None:
        self.pending = False
        self.observed.append((t, len(detections)))

    def render(self, yuv: Yuv, t: float) -> Yuv:
        (w, h), (ow, oh) = self.source, self.out
        planes = (yuv[:h], yuv[h : h + h // 4].reshape(h // 2, w // 2))
        y = cv2.resize(planes[0], (ow, oh))
        u = cv2.resize(planes[1], (ow // 2, oh // 2)).reshape(-1, ow)
        v = cv2.resize(yuv[h + h // 4 :].reshape(h // 2, w // 2), (ow // 2, oh // 2))
        return np.concatenate([y, u, v.reshape(-1, ow)])

    def resize_source(self, width: int, height: int) -> None:
        self.source = (width, height)


@contextlib.asynccontextmanager
async def framed_call(
    new_framing: Any, executor: ThreadPoolExecutor, repeat_interval_s: float = 1.0
) -> AsyncIterator[tuple[RoomPeer, Framer]]:
    room = RoomPeer(SceneCamera())
    outputs: dict[str, FramedOutput] = {}

    def on_frame(slot: VideoSlot, frame: VideoFrame) -> None:
        output = outputs.get(peer.track_sid(slot) or "")
        if output is not None:
            output.feed(frame)

    def on_slot_end(slot: VideoSlot) -> None:
        output = outputs.get(peer.track_sid(slot) or "")
        if output is not None:
            output.end()

    peer = VideoPeer(LOOPBACK, room.request, on_frame, on_slot_end, repeat_interval_s)
    framer = Framer(peer, outputs)
    try:
        # As the session does on the server's ``renegotiate`` and ``framing_targets``.
        peer.renegotiate({"video": 1, "audio": 3})
        tracks = peer.set_outputs([CAMERA_SID])
        outputs[CAMERA_SID] = FramedOutput(
            tracks[CAMERA_SID], lambda w, h: new_framing(w, h, *OUTPUT), 15.0, executor
        )
        yield room, framer
    finally:
        await framer.close()
        await room.close()


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1, thread_name_prefix="detector") as pool:
        yield pool


async def test_the_framed_camera_comes_back_at_the_output_size(
    executor: ThreadPoolExecutor,
) -> None:
    """The real engine: BlazeFace through OpenCV DNN and the CameraFraming crop."""
    try:
        detector = FaceDetector(FramingSettings())
    except DetectorUnavailable as exc:
        pytest.skip(f"no face model: {exc}")
    framings: list[CameraFraming] = []

    def new_framing(source_w: int, source_h: int, out_w: int, out_h: int) -> Framing:
        framing = CameraFraming(source_w, source_h, out_w, out_h, FramingSettings(), detector)
        framings.append(framing)
        return framing

    async with framed_call(new_framing, executor) as (room, framer):
        frames = await room.frames_after(15, within_s=20.0)
        assert {(w, h) for _, w, h in frames} == {OUTPUT}
        output = framer.outputs[CAMERA_SID]
        assert output.failed is None
        assert [f.source_size for f in framings] == [SOURCE]
        # Detections ran (5 Hz cadence) on the camera's frames and reached the framer.
        assert output.detections >= 2
        assert framings[0].last_crop is not None
        # The only receive slot was offered (video only: the audio count is ignored), and the
        # output was declared as the framed stand-in of the camera's track.
        assert len(framer.peer.slots) == 1
        sender = framer.peer.outputs[0].transceiver
        assert sender is not None and sender.direction == "sendonly"
        assert room.offers[-1] == [{"mid": sender.mid, "source": "camera", "frames": CAMERA_SID}]


async def test_a_stalled_camera_keeps_its_last_picture_at_a_low_rate(
    executor: ThreadPoolExecutor,
) -> None:
    framings: list[StandInFraming] = []

    def new_framing(source_w: int, source_h: int, out_w: int, out_h: int) -> Framing:
        framings.append(StandInFraming(source_w, source_h, out_w, out_h))
        return framings[-1]

    async with framed_call(new_framing, executor, repeat_interval_s=0.25) as (room, framer):
        await room.frames_after(10, within_s=15.0)
        # The detector ran in the executor's thread, never on the event loop.
        assert framings[0].detect_threads and all(
            name.startswith("detector") for name in framings[0].detect_threads
        )
        assert framings[0].observed and all(n == 1 for _, n in framings[0].observed)
        track = framer.outputs[CAMERA_SID].track
        room.camera.pause()
        await asyncio.sleep(0.5)  # what was in flight drains
        repeats_before, received_before = track.repeats_sent, len(room.framed)
        await asyncio.sleep(1.5)
        repeated = track.repeats_sent - repeats_before
        received = len(room.framed) - received_before
        # About one picture per 0.25 s: subscribers keep a picture, at a low rate.
        assert 3 <= repeated <= 8, repeated
        assert 2 <= received <= 8, received
        room.camera.resume()
        frames = await room.frames_after(8, within_s=10.0)
        assert {(w, h) for _, w, h in frames} == {OUTPUT}
        assert framer.outputs[CAMERA_SID].failed is None
