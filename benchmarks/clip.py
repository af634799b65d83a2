"""A publisher's media, encoded once and replayed: the load generator never encodes live.

The video is 640x480 at 30 fps, VP8 at a fixed 1 Mbit/s, a scrolling noise texture with a
moving block (so every frame costs bits, like a camera). Only the first frame is a keyframe:
a keyframe is produced again by jumping back to frame 0 when the clip loops or when the
receiver asks for one (PLI/FIR; aiortc's sender ignores them on the pre-encoded path,
rtcrtpsender.py:258 only flags an encoder that never runs). Audio is Opus 48 kHz stereo,
20 ms packets, a tone.

``ClipTrack.recv`` returns ``av.Packet``s with pts/time_base set, so aiortc only packetizes
them (rtcrtpsender.py:321-323).
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from dataclasses import dataclass

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

WIDTH = 640
HEIGHT = 480
FPS = 30
VIDEO_BITRATE = 1_000_000
AUDIO_RATE = 48_000
AUDIO_SAMPLES = 960  # 20 ms, the WebRTC default Opus packet


@dataclass(frozen=True)
class EncodedClip:
    kind: str  # "audio" or "video"
    packets: tuple[bytes, ...]
    pts_step: int  # in time_base units per packet
    time_base: fractions.Fraction
    interval_s: float

    @property
    def bitrate(self) -> float:
        return sum(len(p) for p in self.packets) * 8 / (len(self.packets) * self.interval_s)


def encode_video(seconds: float = 4.0, seed: int = 7) -> EncodedClip:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width = WIDTH
    codec.height = HEIGHT
    codec.pix_fmt = "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.framerate = fractions.Fraction(FPS, 1)
    codec.bit_rate = VIDEO_BITRATE
    codec.gop_size = 100_000  # no spontaneous keyframes: only frame 0
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "minrate": str(VIDEO_BITRATE),
        "maxrate": str(VIDEO_BITRATE),
        "bufsize": str(VIDEO_BITRATE),
        "lag-in-frames": "0",
    }
    rng = np.random.default_rng(seed)
    # Low-frequency noise (8x8 cells, bilinear) so 1 Mbit/s gives a stable, camera-like load;
    # white noise would need several Mbit/s and make libvpx overshoot its rate control.
    cells = rng.integers(16, 236, size=(HEIGHT // 8 + 1, WIDTH * 2 // 8 + 1)).astype(np.float32)
    rows = np.linspace(0, cells.shape[0] - 1, HEIGHT)
    cols = np.linspace(0, cells.shape[1] - 1, WIDTH * 2)
    along = np.array([np.interp(cols, np.arange(cells.shape[1]), row) for row in cells])
    texture = np.array(
        [np.interp(rows, np.arange(cells.shape[0]), along[:, c]) for c in range(WIDTH * 2)]
    ).T.astype(np.uint8)
    packets: list[bytes] = []
    count = round(seconds * FPS)
    for index in range(count):
        shift = (index * 6) % WIDTH
        luma = texture[:, shift : shift + WIDTH].copy()
        top = 40 + (index * 7) % (HEIGHT - 120)
        luma[top : top + 80, 100:180] = 235
        chroma = np.full((HEIGHT // 2, WIDTH // 2), 128, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(
            np.concatenate(
                [luma, chroma.reshape(HEIGHT // 4, WIDTH), chroma.reshape(HEIGHT // 4, WIDTH)]
            ),
            format="yuv420p",
        )
        frame.pts = index
        frame.time_base = codec.time_base
        packets.extend(bytes(p) for p in codec.encode(frame))
    packets.extend(bytes(p) for p in codec.encode(None))
    return EncodedClip("video", tuple(packets[:count]), 1, fractions.Fraction(1, FPS), 1 / FPS)


def encode_audio(seconds: float = 4.0, tone_hz: float = 440.0) -> EncodedClip:
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = AUDIO_RATE
    codec.layout = "stereo"
    codec.format = "s16"
    codec.bit_rate = 48_000
    codec.time_base = fractions.Fraction(1, AUDIO_RATE)
    count = round(seconds * AUDIO_RATE / AUDIO_SAMPLES)
    packets: list[bytes] = []
    for index in range(count):
        t = (np.arange(AUDIO_SAMPLES) + index * AUDIO_SAMPLES) / AUDIO_RATE
        mono = (0.3 * 32767 * np.sin(2 * math.pi * tone_hz * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(mono, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = AUDIO_RATE
        frame.pts = index * AUDIO_SAMPLES
        frame.time_base = codec.time_base
        packets.extend(bytes(p) for p in codec.encode(frame))
    packets.extend(bytes(p) for p in codec.encode(None))
    return EncodedClip(
        "audio",
        tuple(packets[:count]),
        AUDIO_SAMPLES,
        fractions.Fraction(1, AUDIO_RATE),
        AUDIO_SAMPLES / AUDIO_RATE,
    )


class ClipTrack(MediaStreamTrack):
    """Plays an ``EncodedClip`` in real time, in a loop, restarting at frame 0 on request."""

    def __init__(self, clip: EncodedClip) -> None:
        super().__init__()
        self.kind = clip.kind
        self._clip = clip
        self._index = 0  # position in the clip
        self.sent = 0  # packets returned so far (drives pts and pacing)
        self._start: float | None = None
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        """Hooked as the sender's ``_send_keyframe``: the next packet is frame 0."""
        self.keyframe_requests += 1
        self._index = 0

    async def recv(self) -> av.Packet:  # type: ignore[override,type-arg,unused-ignore]
        clip = self._clip
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self.sent * clip.interval_s
        if due > now:
            await asyncio.sleep(due - now)
        if self._index >= len(clip.packets):
            self._index = 0
        packet = av.Packet(clip.packets[self._index])
        packet.pts = self.sent * clip.pts_step
        packet.time_base = clip.time_base
        self._index += 1
        self.sent += 1
        return packet
