"""``python -m benchmarks.transcoding_recorder``: the naive recorder the benchmark compares against.

    SPARKLE_RECORDER_TOKEN=... python -m benchmarks.transcoding_recorder \\
        --url http://127.0.0.1:PORT --out DIR

It joins like the real recorder (hidden, a recorder token, one recvonly slot per published
track, renegotiating when asked) but takes aiortc's default receive path: every track is
decoded (aiortc's decoder thread, rtcrtpreceiver.py ``decoder_worker``) and each decoded
frame re-encoded into a WebM file per track, the way ``aiortc.contrib.media.MediaRecorder``
does it (``track.recv()`` then ``stream.encode`` and ``container.mux`` on the event loop).
Unlike MediaRecorder with FFmpeg's libvpx defaults (deadline "good": ~86 ms of CPU per
640x480 frame here, it cannot keep up with one 30 fps stream), video is encoded with aiortc's
own real-time VP8 settings (codecs/vpx.py) at the source's 1 Mbit/s: the cheapest sane
transcoding recorder, so the comparison flatters the baseline. Audio is decoded and
re-encoded to Opus, as MediaRecorder does for WebM.

On SIGTERM/SIGINT it flushes and closes every file and prints one JSON line on stdout:
per track the frames it received, the packets it wrote, and the decoded frames still
queued (``backlog``: > 0 means it was falling behind).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import signal
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .loopback import loopback_ice
from .room_client import RoomClient

TOKEN_ENV = "SPARKLE_RECORDER_TOKEN"
VIDEO_BITRATE = 1_000_000
# aiortc's VP8 encoder options (codecs/vpx.py Vp8Encoder.encode), CBR at VIDEO_BITRATE.
VP8_OPTIONS = {
    "bufsize": str(VIDEO_BITRATE),
    "cpu-used": "-6",
    "deadline": "realtime",
    "lag-in-frames": "0",
    "minrate": str(VIDEO_BITRATE),
    "maxrate": str(VIDEO_BITRATE),
    "noise-sensitivity": "4",
    "overshoot-pct": "15",
    "partitions": "0",
    "static-thresh": "1",
    "undershoot-pct": "100",
}
# The muxer settings of the real recorder (recorder/track_writer.py): a cluster per frame,
# flushed to the kernel at once. Both sides then mux the same way and differ only in
# decoding + encoding; it also lets the benchmark see each file's first frame on disk.
MUXER_OPTIONS = {"flush_packets": "1", "cluster_time_limit": "0", "cluster_size_limit": "0"}


@dataclass
class TrackStats:
    file: str
    kind: str
    received: int = 0  # decoded frames taken from aiortc
    written: int = 0  # encoded packets muxed
    backlog: int = 0  # decoded frames still queued at the end


class TranscodingSink:
    """One track -> decode (aiortc) -> encode -> one WebM file."""

    def __init__(self, track: MediaStreamTrack, path: Path) -> None:
        self.track = track
        self.stats = TrackStats(path.name, track.kind)
        self.container: Any = av.open(
            str(path), mode="w", format="webm", options=dict(MUXER_OPTIONS)
        )
        self.stream: Any = None
        self.task = asyncio.create_task(self._run())
        self.task.add_done_callback(_report_failure)

    def _open_stream(self, frame: av.VideoFrame | av.AudioFrame) -> None:
        if isinstance(frame, av.VideoFrame):
            stream = self.container.add_stream("libvpx", rate=30)
            stream.width, stream.height = frame.width, frame.height
            stream.pix_fmt = "yuv420p"
            stream.bit_rate = VIDEO_BITRATE
            stream.codec_context.time_base = fractions.Fraction(1, 90000)  # RTP clock
            stream.codec_context.gop_size = 3000
            stream.codec_context.qmin, stream.codec_context.qmax = 2, 56
            stream.options = dict(VP8_OPTIONS)
        else:
            stream = self.container.add_stream("libopus", rate=48000)
            stream.layout = frame.layout.name
            stream.bit_rate = 48_000
        self.stream = stream

    async def _run(self) -> None:
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.VideoFrame | av.AudioFrame)
            self.stats.received += 1
            if self.stream is None:
                self._open_stream(frame)
            self._mux(self.stream.encode(frame))

    def _mux(self, packets: list[Any]) -> None:
        for packet in packets:
            self.container.mux(packet)
            self.stats.written += 1

    async def close(self) -> TrackStats:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        queue: Any = getattr(self.track, "_queue", None)
        self.stats.backlog = queue.qsize() if queue is not None else 0
        if self.stream is not None:
            with contextlib.suppress(av.FFmpegError):
                self._mux(self.stream.encode(None))
        self.container.close()
        return self.stats


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        error = task.exception()
        print(f"transcoding failed: {error!r}", file=sys.stderr, flush=True)


async def record(url: str, token: str, out: Path) -> list[TrackStats]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    client = RoomClient(url)
    sinks: list[TranscodingSink] = []

    def on_track(track: MediaStreamTrack) -> None:
        suffix = "video" if track.kind == "video" else "audio"
        sinks.append(TranscodingSink(track, out / f"{suffix}-{len(sinks) + 1}.webm"))

    client.pc.on("track", on_track)
    try:
        await client.join(token, "Transcoding recorder")
        await stop.wait()
        return [await sink.close() for sink in sinks]
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        parser.error(f"the join token must be in ${TOKEN_ENV}")
    args.out.mkdir(parents=True, exist_ok=True)
    with loopback_ice():
        stats = asyncio.run(record(args.url, token, args.out))
    print(json.dumps({"tracks": [asdict(s) for s in stats]}), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
