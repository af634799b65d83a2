"""Encoded frames exactly as a receiver sees them, for recorder tests.

``encoded_frames(codec, count)`` encodes synthetic content with aiortc's own encoders
(``Vp8Encoder``, ``H264Encoder``, ``OpusEncoder``), packetises it into RTP payloads, runs the
payloads through aiortc's depayloader and ``JitterBuffer`` (the path
``RTCRtpReceiver._handle_rtp_packet`` takes, rtcrtpreceiver.py:543-551) and returns what the
decoder thread would get: ``EncodedFrame(data, timestamp)`` with the depayloaded frame (VP8
frame, H.264 Annex-B access unit, Opus packet) and its RTP timestamp.

The content moves (a sliding gradient, a sweeping tone) so the encoders produce real delta
frames, and only the first video frame is a keyframe (aiortc's encoders keep their GOP open:
``gop_size = 3000`` for VP8, x264 ``zerolatency`` with its default keyint 250 > our counts).
"""

from __future__ import annotations

import fractions
import math
from dataclasses import dataclass

import av
import numpy as np
from aiortc.codecs import depayload, get_encoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

VIDEO_CLOCK = 90000
AUDIO_CLOCK = 48000
FPS = 30
AUDIO_FRAME_SAMPLES = 960  # 20 ms at 48 kHz: aiortc's Opus packet size

CODECS = {
    "vp8": RTCRtpCodecParameters(mimeType="video/VP8", clockRate=VIDEO_CLOCK, payloadType=97),
    "h264": RTCRtpCodecParameters(
        mimeType="video/H264",
        clockRate=VIDEO_CLOCK,
        payloadType=99,
        parameters={"packetization-mode": "1", "profile-level-id": "42e01f"},
    ),
    "opus": RTCRtpCodecParameters(
        mimeType="audio/opus", clockRate=AUDIO_CLOCK, channels=2, payloadType=96
    ),
}


@dataclass(frozen=True)
class EncodedFrame:
    data: bytes
    timestamp: int


def video_frame(index: int, width: int, height: int) -> av.VideoFrame:
    """A diagonal gradient that slides by 4 px a frame: cheap to make, never static."""
    x = np.arange(width, dtype=np.uint16)[None, :]
    y = np.arange(height, dtype=np.uint16)[:, None]
    luma = ((x + y + 4 * index) % 256).astype(np.uint8)
    array = np.stack([luma, np.full_like(luma, 128), 255 - luma], axis=-1)
    frame = av.VideoFrame.from_ndarray(array, format="rgb24")
    frame.pts = index * (VIDEO_CLOCK // FPS)
    frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
    return frame


def audio_frame(index: int) -> av.AudioFrame:
    t = (np.arange(AUDIO_FRAME_SAMPLES) + index * AUDIO_FRAME_SAMPLES) / AUDIO_CLOCK
    tone = (8000 * np.sin(2 * math.pi * (440 + index) * t)).astype(np.int16)
    stereo = np.repeat(tone, 2).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
    frame.sample_rate = AUDIO_CLOCK
    frame.pts = index * AUDIO_FRAME_SAMPLES
    frame.time_base = fractions.Fraction(1, AUDIO_CLOCK)
    return frame


def encoded_frames(
    codec: str, count: int, width: int = 320, height: int = 240
) -> list[EncodedFrame]:
    """``count`` consecutive encoded frames of ``codec`` as aiortc's receiver reassembles them."""
    params = CODECS[codec]
    encoder = get_encoder(params)
    is_video = codec != "opus"
    # The receiver's own buffer sizes (rtcrtpreceiver.py:295-299).
    jitter = JitterBuffer(capacity=512, is_video=True) if is_video else JitterBuffer(capacity=16)
    frames: list[EncodedFrame] = []
    sequence = 1000
    index = 0
    # The jitter buffer hands a frame over once the next frame's first packet arrives, so
    # encode until ``count`` have come out (plus the codecs' start-up delay for Opus).
    while len(frames) < count:
        source = video_frame(index, width, height) if is_video else audio_frame(index)
        payloads, timestamp = encoder.encode(source)
        index += 1
        for position, payload in enumerate(payloads):
            packet = RtpPacket(
                payload_type=params.payloadType,
                marker=int(position == len(payloads) - 1),
                sequence_number=sequence & 0xFFFF,
                timestamp=timestamp & 0xFFFFFFFF,
                payload=payload,
            )
            sequence += 1
            # What RTCRtpReceiver does before the jitter buffer (rtcrtpreceiver.py:543).
            packet._data = depayload(params, payload)  # type: ignore[attr-defined]
            _, frame = jitter.add(packet)
            if frame is not None and frame.data:
                frames.append(EncodedFrame(frame.data, frame.timestamp))
    return frames[:count]


def is_vp8_keyframe(data: bytes) -> bool:
    return bool(data) and data[0] & 1 == 0


def shifted(frames: list[EncodedFrame], offset: int) -> list[EncodedFrame]:
    """The same frames with RTP timestamps moved by ``offset`` (mod 2**32)."""
    return [EncodedFrame(f.data, (f.timestamp + offset) & 0xFFFFFFFF) for f in frames]
