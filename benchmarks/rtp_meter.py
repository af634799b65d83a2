"""Subscriber side of the load: counts RTP instead of decoding it.

A load client that decoded what it receives would cost more CPU than the SFU under test.
``RtpMeter.attach(pc)`` replaces, per instance, the ``_handle_rtp_data`` of the client's
DTLS transports (aiortc 1.16 rtcdtlstransport.py:614): SRTP is already removed there, and
nothing reaches the receivers, their jitter buffers or decoders. RTCP still flows both ways.

Per received stream (SSRC) it keeps the packet count, the highest extended sequence number
(RFC 3550 appendix A.1), frames (video packets with the marker bit) and, for packets that
carry the benchmark's trailer (see ``raw_publisher``), the one-way latency from the
publisher's ``time.perf_counter_ns()`` at send time (same process, same clock).
"""

from __future__ import annotations

import re
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection

# Trailer appended by benchmarks.raw_publisher: 8-byte send time + magic.
TRAILER_MAGIC = b"SPKB"
TRAILER = struct.Struct("!Q4s")


@dataclass
class StreamCount:
    kind: str
    packets: int = 0
    octets: int = 0  # RTP header + payload
    frames: int = 0
    highest: int = -1  # extended sequence number
    first: int = -1


@dataclass(frozen=True)
class StreamSnapshot:
    kind: str
    packets: int
    octets: int
    frames: int
    highest: int


@dataclass
class RtpMeter:
    """All streams one subscriber connection receives."""

    kinds: dict[int, str] = field(default_factory=dict)  # payload type -> kind
    streams: dict[int, StreamCount] = field(default_factory=dict)  # by SSRC
    latencies_ns: list[int] = field(default_factory=list)
    keep_latency: bool = False

    def attach(self, pc: RTCPeerConnection) -> None:
        """Call after setLocalDescription (and again after setRemoteDescription: with
        BUNDLE the transceivers end up sharing the first transport)."""
        for transceiver in pc.getTransceivers():
            transport: Any = transceiver.receiver.transport
            if getattr(transport, "_sparkle_meter", None) is self:
                continue
            transport._sparkle_meter = self
            transport._handle_rtp_data = self._on_rtp

    def learn_payload_types(self, sdp: str) -> None:
        """Payload type -> kind from an SDP this connection negotiated (RFC 8866 5.14)."""
        for match in re.finditer(r"^m=(audio|video) \d+ \S+ ([\d ]+)", sdp, re.MULTILINE):
            for pt in match.group(2).split():
                self.kinds[int(pt)] = match.group(1)

    async def _on_rtp(self, data: bytes, arrival_time_ms: int) -> None:
        if len(data) < 12:
            return
        ssrc = int.from_bytes(data[8:12], "big")
        stream = self.streams.get(ssrc)
        if stream is None:
            stream = self.streams[ssrc] = StreamCount(self.kinds.get(data[1] & 0x7F, "?"))
        seq = (data[2] << 8) | data[3]
        if stream.highest < 0:
            stream.highest = stream.first = seq
        else:
            delta = (seq - stream.highest) & 0xFFFF
            if delta < 0x8000:  # newer (a reordered older one leaves highest alone)
                stream.highest += delta
        stream.packets += 1
        stream.octets += len(data)
        if data[1] & 0x80 and stream.kind == "video":
            stream.frames += 1
        if self.keep_latency and data[-4:] == TRAILER_MAGIC:
            sent_ns, _ = TRAILER.unpack_from(data, len(data) - TRAILER.size)
            self.latencies_ns.append(time.perf_counter_ns() - sent_ns)

    def snapshot(self) -> dict[int, StreamSnapshot]:
        return {
            ssrc: StreamSnapshot(s.kind, s.packets, s.octets, s.frames, s.highest)
            for ssrc, s in self.streams.items()
        }


@dataclass(frozen=True)
class WindowCount:
    """What a set of streams received between two snapshots."""

    packets: int
    expected: int  # from sequence numbers; packets lost = expected - packets
    frames: int
    streams: int
    octets: int = 0

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.packets)

    @property
    def loss(self) -> float:
        return self.lost / self.expected if self.expected else 0.0


def window(
    before: dict[int, StreamSnapshot], after: dict[int, StreamSnapshot], kind: str
) -> WindowCount:
    """Count over streams of ``kind`` present in both snapshots (a stream that started in
    the window is left out: its start would look like loss or gain)."""
    packets = expected = frames = streams = octets = 0
    for ssrc, end in after.items():
        start = before.get(ssrc)
        if start is None or end.kind != kind:
            continue
        streams += 1
        packets += end.packets - start.packets
        expected += end.highest - start.highest
        frames += end.frames - start.frames
        octets += end.octets - start.octets
    return WindowCount(packets, expected, frames, streams, octets)
