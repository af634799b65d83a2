"""The server under test, in its own process so its CPU can be read from /proc.

    python -m benchmarks.media_server --mode forward|relay

Prints ``LISTENING <port>`` once its loopback HTTP endpoint is up, then serves:

- ``POST /join`` ``{"peer_id", "sdp", "sources": {mid: source}, "subscribe"}`` -> ``{"sdp"}``
- ``GET /stats`` -> ``{"counters": {...}, "renegotiations": int}``
- ``POST /shutdown``

Modes:

- ``forward``: Sparkle's ``sfu.room.MediaRoom`` with the default settings
  (``signaling.config.load(env={}).sfu_settings()``: media on 127.0.0.1, no STUN).
- ``relay``: the naive aiortc server the issue compares against: each publisher track goes
  through ``aiortc.contrib.media.MediaRelay``; each subscriber gets
  ``relay.subscribe(track, buffered=False)``, i.e. one decode per publisher track and one
  encode per subscriber (buffered=False: a subscriber whose encoder is late gets the newest
  frame instead of an ever-growing queue, what a sane relay server does). One sink consumes
  each publisher track so decoded frames never pile up when no one subscribes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole, MediaRelay

from sfu.events import PublishedTrack

from .loopback import loopback_ice


class CountingEvents:
    """MediaEvents for the benchmark: nothing to tell a client, but count renegotiations
    (the load clients offer enough slots up front, so there should be none)."""

    def __init__(self) -> None:
        self.renegotiations = 0

    def track_published(self, track: PublishedTrack) -> None:
        pass

    def track_unpublished(self, track: PublishedTrack) -> None:
        pass

    def track_refused(self, peer_id: str, mid: str, source: str, reason: str) -> None:
        print(f"track refused: {peer_id} {mid} {source}: {reason}", file=sys.stderr)

    def renegotiation_needed(self, peer_id: str, audio_slots: int, video_slots: int) -> None:
        self.renegotiations += 1

    def active_speaker_changed(self, peer_id: str | None) -> None:
        pass

    def stand_in_live(self, track: PublishedTrack) -> None:
        pass

    def peer_state_changed(self, peer_id: str, state: str) -> None:
        pass


class ForwardServer:
    def __init__(self) -> None:
        from sfu.room import MediaRoom
        from signaling.config import load

        self.events = CountingEvents()
        self.room = MediaRoom(load(env={}).sfu_settings(), self.events)

    async def join(
        self, peer_id: str, sdp: str, sources: Mapping[str, str], subscribe: bool
    ) -> str:
        await self.room.add_peer(
            peer_id, allowed_sources=frozenset(sources.values()), subscribe=subscribe
        )
        answer = await self.room.handle_offer(peer_id, sdp, sources)
        return answer.sdp

    def stats(self) -> dict[str, Any]:
        return {
            "counters": dataclasses.asdict(self.room.counters),
            "renegotiations": self.events.renegotiations,
        }

    async def close(self) -> None:
        await self.room.close()


class RelayServer:
    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.sources: dict[str, MediaStreamTrack] = {}  # kind -> the publisher's track
        self.pcs: list[RTCPeerConnection] = []
        self.sinks: list[MediaBlackhole] = []

    async def join(
        self, peer_id: str, sdp: str, sources: Mapping[str, str], subscribe: bool
    ) -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.append(pc)
        arrived: list[MediaStreamTrack] = []
        pc.on("track", arrived.append)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for track in arrived:
            self.sources[track.kind] = track
            sink = MediaBlackhole()
            sink.addTrack(self.relay.subscribe(track, buffered=False))
            await sink.start()
            self.sinks.append(sink)
        if subscribe:
            for transceiver in pc.getTransceivers():
                source = self.sources.get(transceiver.kind)
                if source is not None:
                    pc.addTrack(self.relay.subscribe(source, buffered=False))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    def stats(self) -> dict[str, Any]:
        return {"counters": {}, "renegotiations": 0}

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.stop()
        for pc in self.pcs:
            await pc.close()


Server = ForwardServer | RelayServer


async def serve(mode: str) -> None:
    server: Server = ForwardServer() if mode == "forward" else RelayServer()
    done = asyncio.Event()

    async def join(request: web.Request) -> web.Response:
        body = await request.json()
        sdp = await server.join(
            str(body["peer_id"]), str(body["sdp"]), dict(body["sources"]), bool(body["subscribe"])
        )
        return web.json_response({"sdp": sdp})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(server.stats())

    async def shutdown(request: web.Request) -> web.Response:
        done.set()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/join", join)
    app.router.add_get("/stats", stats)
    app.router.add_post("/shutdown", shutdown)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"LISTENING {port}", flush=True)
    # The parent closing our stdin (it died) also ends the server: no orphan keeps a core busy.
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: _StdinWatch(done), sys.stdin)
    await done.wait()
    await server.close()
    with contextlib.suppress(Exception):
        await runner.cleanup()


class _StdinWatch(asyncio.Protocol):
    def __init__(self, done: asyncio.Event) -> None:
        self._done = done

    def connection_lost(self, exc: Exception | None) -> None:
        self._done.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("forward", "relay"), required=True)
    args = parser.parse_args()
    if args.mode == "relay":
        with loopback_ice():
            asyncio.run(serve(args.mode))
    else:
        # The SFU gets its addresses from SfuSettings.listen_addresses, as in production.
        asyncio.run(serve(args.mode))


if __name__ == "__main__":
    main()
