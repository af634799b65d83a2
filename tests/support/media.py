"""Synthetic media with known content for media-plane tests.

- ``ColorVideoTrack``: solid-colour frames, so a subscriber can check it got *this*
  publisher's picture after decoding.
- ``ToneAudioTrack``: a sine tone (loud enough to register as speech in the audio level).
- ``PreEncodedVideoTrack``: VP8 (libvpx) or H.264 (libx264, Annex-B) packets from its own
  fixed-bitrate encoder, with a keyframe (an IDR for H.264) only at the start and when
  asked. aiortc's own sender re-creates its encoder (and so emits a keyframe) whenever
  REMB moves the bitrate by >10% (codecs/vpx.py ``encode``); a late-joiner test against
  such a publisher would pass even if the SFU never asked for a keyframe. A track that
  yields ``av.Packet`` is only re-packetised by the sender (rtcrtpsender.py
  ``_next_encoded_frame``), which ignores PLI, so ``attach_to`` routes the sender's PLI/FIR
  callback (``_send_keyframe``, guarded in test_aiortc_hooks.py) here.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time

import av
import numpy as np
from aiortc import RTCRtpSender
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack

VIDEO_CLOCK = 90000
AUDIO_RATE = 48000


def solid_frame(color: tuple[int, int, int], width: int, height: int) -> av.VideoFrame:
    array = np.empty((height, width, 3), dtype=np.uint8)
    array[:, :] = color
    return av.VideoFrame.from_ndarray(array, format="rgb24")


def mean_color(frame: av.VideoFrame) -> tuple[int, int, int]:
    """Mean RGB of the frame's centre (decoded VP8 of a flat colour is within a few units)."""
    array = frame.to_ndarray(format="rgb24")
    h, w = array.shape[:2]
    centre = array[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    r, g, b = centre.reshape(-1, 3).mean(axis=0)
    return int(r), int(g), int(b)


def close_to(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


class ColorVideoTrack(VideoStreamTrack):
    def __init__(self, color: tuple[int, int, int], width: int = 160, height: int = 120) -> None:
        super().__init__()
        self.color = color
        self._frame = solid_frame(color, width, height)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = solid_frame(self.color, self._frame.width, self._frame.height)
        frame.pts = pts
        frame.time_base = time_base
        return frame


class ToneAudioTrack(AudioStreamTrack):
    """A sine tone, 20 ms frames at 48 kHz (what Opus encodes: one packet per frame)."""

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.5) -> None:
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude
        self._sample = 0

    async def recv(self) -> av.AudioFrame:
        # AudioStreamTrack.recv paces at 20 ms, but its frames are 8 kHz (160 samples):
        # labelled 48 kHz they would hold 3.3 ms each and Opus would send one packet per
        # 120 ms. Only its pacing is used here.
        await super().recv()
        samples = AUDIO_RATE // 50
        t = (np.arange(samples) + self._sample) / AUDIO_RATE
        wave = (np.sin(2 * math.pi * self.frequency * t) * self.amplitude * 32767).astype(np.int16)
        out = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        out.sample_rate = AUDIO_RATE
        out.pts = self._sample
        out.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._sample += samples
        return out


class PreEncodedVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(
        self,
        color: tuple[int, int, int],
        *,
        codec: str = "vp8",
        width: int = 160,
        height: int = 120,
        fps: int = 15,
        bitrate: int = 300_000,
    ) -> None:
        super().__init__()
        self.color = color
        self.codec_name = codec
        self.fps = fps
        self.keyframes = 0
        self.keyframe_requests = 0
        self._force = True  # the very first frame must be a keyframe
        self._index = 0
        self._start: float | None = None
        if codec == "vp8":
            context = av.CodecContext.create("libvpx", "w")
            options = {"deadline": "realtime", "lag-in-frames": "0", "cpu-used": "8"}
        elif codec == "h264":
            # Annex-B with SPS/PPS in band before every IDR (no global header), baseline
            # like aiortc's own H264 encoder; "forced-idr" makes a requested I frame an IDR,
            # not a recovery-point I frame a fresh decoder cannot start on.
            context = av.CodecContext.create("libx264", "w")
            context.profile = "Baseline"
            options = {
                "preset": "ultrafast",
                "tune": "zerolatency",
                "forced-idr": "1",
                "x264-params": "keyint=100000:min-keyint=100000:scenecut=0",
            }
        else:
            raise ValueError(f"no pre-encoder for {codec!r}")
        context.width = width
        context.height = height
        context.pix_fmt = "yuv420p"
        context.bit_rate = bitrate
        context.gop_size = 1_000_000  # never a keyframe by itself
        context.time_base = fractions.Fraction(1, fps)
        context.options = options
        self._codec = context
        self._frame = solid_frame(color, width, height).reformat(format="yuv420p")

    def set_color(self, color: tuple[int, int, int]) -> None:
        self.color = color
        width, height = self._frame.width, self._frame.height
        self._frame = solid_frame(color, width, height).reformat(format="yuv420p")

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self._force = True

    def attach_to(self, sender: RTCRtpSender) -> None:
        sender._send_keyframe = self.request_keyframe  # type: ignore[method-assign]

    async def recv(self) -> av.Packet:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._index / self.fps - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = self._frame
        frame.pts = self._index
        frame.time_base = fractions.Fraction(1, self.fps)
        if self._force:
            self._force = False
            frame.pict_type = av.video.frame.PictureType.I
        else:
            frame.pict_type = av.video.frame.PictureType.NONE
        packets = self._codec.encode(frame)
        self._index += 1
        data = b"".join(bytes(p) for p in packets)
        if packets and packets[0].is_keyframe:
            self.keyframes += 1
        packet = av.Packet(data)
        packet.pts = self._index * (VIDEO_CLOCK // self.fps)
        packet.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return packet


# The name the first tests used.
PreEncodedVp8Track = PreEncodedVideoTrack
