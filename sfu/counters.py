"""Plain counters the media plane keeps; the owner turns them into metrics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MediaCounters:
    packets_received: int = 0  # RTP from publishers, after RTX unwrapping
    bytes_received: int = 0
    packets_forwarded: int = 0  # RTP sent to subscribers (sum over subscribers)
    bytes_forwarded: int = 0
    packets_dropped: int = 0  # refused source, keyframe gate, malformed
    nack_received: int = 0  # NACKed sequence numbers from subscribers
    rtx_sent: int = 0  # retransmissions answered from history
    pli_received: int = 0  # PLI/FIR from subscribers
    pli_sent: int = 0  # PLI sent to publishers (after rate limiting)
    tracks_published: int = 0  # current
    tracks_subscribed: int = 0  # current (forwarding edges)

    def add(self, other: MediaCounters) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
