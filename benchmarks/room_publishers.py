"""``python -m benchmarks.room_publishers``: N camera + microphone publishers in one process.

    SPARKLE_BENCH_TOKENS='["tok1", ...]' python -m benchmarks.room_publishers \\
        --url http://127.0.0.1:PORT [--clip-s 4]

One publisher per token, each a RoomClient replaying the same pre-encoded 640x480@30 VP8
(~1 Mbit/s) and Opus clip (benchmarks/clip.py), so this process only packetizes and
encrypts: it never encodes live. Its own process keeps the load off the measured recorder's
core and out of the benchmark driver's event loop. Prints ``READY`` once every publisher is
connected; runs until its stdin closes (the driver ended or died: no orphan keeps sending).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from .clip import ClipTrack, encode_audio, encode_video
from .loopback import loopback_ice
from .room_client import RoomClient

TOKENS_ENV = "SPARKLE_BENCH_TOKENS"
CONNECT_TIMEOUT_S = 20.0


async def publish(url: str, tokens: list[str], clip_s: float) -> None:
    video, audio = encode_video(clip_s), encode_audio(clip_s)
    clients = [
        RoomClient(url, [("camera", ClipTrack(video)), ("microphone", ClipTrack(audio))])
        for _ in tokens
    ]
    try:
        for index, (client, token) in enumerate(zip(clients, tokens, strict=True)):
            await client.join(token, f"Publisher {index + 1}")
        await asyncio.gather(*(c.wait_connected(CONNECT_TIMEOUT_S) for c in clients))
        print("READY", flush=True)
        closed = asyncio.Event()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: _StdinWatch(closed), sys.stdin)
        await closed.wait()
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


class _StdinWatch(asyncio.Protocol):
    def __init__(self, closed: asyncio.Event) -> None:
        self._closed = closed

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--clip-s", type=float, default=4.0)
    args = parser.parse_args()
    tokens = json.loads(os.environ.get(TOKENS_ENV, "[]"))
    if not isinstance(tokens, list) or not tokens:
        parser.error(f"put a JSON list of join tokens in ${TOKENS_ENV}")
    with loopback_ice():
        asyncio.run(publish(args.url, [str(t) for t in tokens], args.clip_s))


if __name__ == "__main__":
    main()
