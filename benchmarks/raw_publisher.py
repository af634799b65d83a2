"""Synthetic video RTP at an exact packet rate, for the packet-rate and latency runs.

The connection is a normal aiortc publisher (one sendonly VP8 m-section whose track never
yields, so aiortc's own sender loop idles); packets are written straight to its DTLS
transport with the sender's SSRC and the negotiated payload type, like the SFU does.

Each packet is ``PACKET_BYTES`` of payload: a VP8 payload descriptor (RFC 7741 4.2), and on a
frame's first packet a VP8 keyframe header bit, so the SFU's keyframe gate opens at once;
then filler; then the trailer ``TRAILER`` (``time.perf_counter_ns()`` when the packet is
handed to the transport, and a magic). Pacing: every ``TICK_S`` the packets due so far are
sent, like libwebrtc's 5 ms pacer; 30 frames/s, the marker bit on each frame's last packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from typing import Any

from aiortc import RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .rtp_meter import TRAILER, TRAILER_MAGIC

PACKET_BYTES = 1100
TICK_S = 0.005
FPS = 30
_HEADER = struct.Struct("!BBHII")


class SilentTrack(MediaStreamTrack):
    """Keeps the m-section sendonly while aiortc's sender loop waits forever."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._ended = asyncio.Event()

    async def recv(self) -> None:  # type: ignore[override]
        await self._ended.wait()
        raise MediaStreamError

    def stop(self) -> None:
        self._ended.set()
        super().stop()


class RawPublisher:
    def __init__(self, sender: RTCRtpSender, payload_type: int) -> None:
        self._sender = sender
        s: Any = sender
        self._ssrc: int = s._ssrc
        self._payload_type = payload_type
        self.rate = 0.0  # packets per second; change at any time
        self.sent = 0
        self.errors = 0
        self._seq = 1000
        self._timestamp = 0
        self._task: asyncio.Task[None] | None = None
        self._filler = bytes(PACKET_BYTES - 2 - TRAILER.size)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        transport: Any = self._sender.transport
        owed = 0.0
        in_frame = 0
        last = time.monotonic()
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            owed += (now - last) * self.rate
            last = now
            per_frame = max(1, round(self.rate / FPS))
            while owed >= 1.0:
                owed -= 1.0
                first = in_frame == 0
                in_frame += 1
                last_of_frame = in_frame >= per_frame
                header = _HEADER.pack(
                    0x80,
                    self._payload_type | (0x80 if last_of_frame else 0),
                    self._seq,
                    self._timestamp,
                    self._ssrc,
                )
                # VP8 descriptor: S=1/PID=0 on a frame start, then P=0 (keyframe) header bit.
                vp8 = b"\x10\x00" if first else b"\x00\x01"
                trailer = TRAILER.pack(time.perf_counter_ns(), TRAILER_MAGIC)
                try:
                    await transport._send_rtp(header + vp8 + self._filler + trailer)
                    self.sent += 1
                except ConnectionError:
                    self.errors += 1
                self._seq = (self._seq + 1) & 0xFFFF
                if last_of_frame:
                    in_frame = 0
                    self._timestamp = (self._timestamp + 90000 // FPS) & 0xFFFFFFFF
