"""Reading a recorded track file back with PyAV, the way a player would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av


@dataclass(frozen=True)
class TrackFile:
    format_name: str
    codec: str
    width: int
    height: int
    pts: list[float]  # seconds, per packet, in file order
    sizes: list[int]  # bytes, per packet
    decoded: int  # frames (video) or audio frames the decoder produced

    @property
    def span(self) -> float:
        """Seconds from the first to the last packet's pts (the last frame's length excluded)."""
        return self.pts[-1] - self.pts[0] if self.pts else 0.0

    def media_pts(self) -> list[float]:
        """pts of the packets that carry media: without Opus concealment packets (2 bytes:
        a TOC and a frame count, RFC 7845 §4.1), which the writer puts into Ogg gaps."""
        return [t for t, size in zip(self.pts, self.sizes, strict=True) if size > 2]


def read_track(path: Path, decode: bool = True) -> TrackFile:
    """Demux and (unless ``decode`` is false) decode every packet; a decode error raises."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        ctx = stream.codec_context
        pts: list[float] = []
        sizes: list[int] = []
        decoded = 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the demuxer's end-of-stream flush packet
            assert packet.pts is not None and packet.time_base is not None
            pts.append(float(packet.pts * packet.time_base))
            sizes.append(packet.size)
            if decode:
                decoded += len(ctx.decode(packet))
        if decode:
            decoded += len(ctx.decode(None))
        video = stream.type == "video"
        return TrackFile(
            format_name=container.format.name,
            codec=ctx.name,
            width=ctx.width if video else 0,
            height=ctx.height if video else 0,
            pts=pts,
            sizes=sizes,
            decoded=decoded,
        )
