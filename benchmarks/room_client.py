"""A participant of a real Sparkle room for the recorder benchmark: signalling + one aiortc peer.

It speaks the public protocol (docs/protocol.md) the way the browser client does: ``join``,
then one offer at a time carrying its own tracks (sendonly, declared by mid and source) and
as many recvonly slots as the server asks for (``renegotiate``), max-bundle. Publishers get
tokens without ``can_subscribe``, so the server never asks them to receive anything and their
process only packetizes. The caller wraps the process in ``loopback_ice()`` (host candidates
on 127.0.0.1 only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack

from .clients import prefer_vp8

WS_PATH = "/api/v1/ws"
REPLY_TIMEOUT_S = 10.0


class RoomClient:
    def __init__(self, url: str, tracks: Sequence[tuple[str, MediaStreamTrack]] = ()) -> None:
        self.url = url.rstrip("/").replace("http", "ws", 1) + WS_PATH
        self.tracks = list(tracks)  # (source, track)
        # An explicit empty ICE server list: the default would contact a public STUN server.
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.joined: dict[str, Any] = {}
        self.mids: dict[str, str] = {}  # receive mid -> track sid (last answer)
        self._wanted = {"audio": 0, "video": 0}
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 0
        self._lock = asyncio.Lock()
        self._pending = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._added = False

    async def join(self, token: str, name: str) -> dict[str, Any]:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=10))
        self._ws = ws = await self._http.ws_connect(self.url, heartbeat=15.0)
        await ws.send_str(json.dumps({"type": "join", "v": 1, "token": token, "name": name}))
        async with asyncio.timeout(REPLY_TIMEOUT_S):
            while True:
                message = await ws.receive()
                if message.type is not aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"the server closed the socket ({ws.close_code})")
                reply: dict[str, Any] = json.loads(message.data)
                if reply.get("type") == "joined":
                    break
                if reply.get("type") in ("error", "lobby_waiting"):
                    raise RuntimeError(f"join refused: {reply}")
        self.joined = reply
        tracks = reply.get("tracks") or []
        for kind in ("audio", "video"):
            self._wanted[kind] = sum(1 for t in tracks if t.get("kind") == kind)
        self._reader = asyncio.create_task(self._read())
        await self.negotiate()
        return reply

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            future = self._replies.pop(str(data.get("id")), None)
            if future is not None and not future.done():
                future.set_result(data)
            elif data.get("type") == "renegotiate":
                recv = data.get("recv") or {}
                for kind in ("audio", "video"):
                    self._wanted[kind] = max(self._wanted[kind], int(recv.get(kind, 0)))
                task = asyncio.create_task(self.negotiate())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def negotiate(self) -> None:
        if self._lock.locked():
            self._pending = True  # one offer in flight (protocol rule); again after its answer
            return
        async with self._lock:
            while True:
                self._pending = False
                await self._offer_once()
                if not self._pending:
                    return

    async def _offer_once(self) -> None:
        pc = self.pc
        if not self._added:
            self._added = True
            for _, track in self.tracks:
                transceiver = pc.addTransceiver(track, direction="sendonly")
                if track.kind == "video":
                    prefer_vp8(transceiver)
                    # Pre-encoded clips restart at their keyframe on PLI/FIR (benchmarks/clip.py).
                    request = getattr(track, "request_keyframe", None)
                    if request is not None:
                        sender: Any = transceiver.sender
                        sender._send_keyframe = request
        for kind in ("audio", "video"):
            have = sum(
                1 for t in pc.getTransceivers() if t.kind == kind and t.direction == "recvonly"
            )
            for _ in range(self._wanted[kind] - have):
                pc.addTransceiver(kind, direction="recvonly")
        if not pc.getTransceivers():
            return  # nothing to send or receive yet: the server asks when there is
        await pc.setLocalDescription(await pc.createOffer())
        sources = [
            {"mid": t.mid, "source": source}
            for source, track in self.tracks
            for t in pc.getTransceivers()
            if t.sender.track is track and t.mid is not None
        ]
        reply = await self._request("offer", sdp=pc.localDescription.sdp, tracks=sources)
        if reply.get("type") != "answer":
            raise RuntimeError(f"offer refused: {reply}")
        self.mids = {str(m): str(s) for m, s in (reply.get("mids") or {}).items()}
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    async def _request(self, type_: str, **fields: Any) -> dict[str, Any]:
        assert self._ws is not None
        self._next_id += 1
        request_id = f"bench-{self._next_id}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = future
        await self._ws.send_str(json.dumps({"type": type_, "id": request_id, **fields}))
        return await asyncio.wait_for(future, REPLY_TIMEOUT_S)

    async def wait_connected(self, timeout: float) -> None:  # noqa: ASYNC109 (bounded below)
        async with asyncio.timeout(timeout):
            while self.pc.connectionState != "connected":
                if self.pc.connectionState in ("failed", "closed"):
                    raise RuntimeError(f"connection {self.pc.connectionState}")
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await ws.send_str(json.dumps({"type": "leave"}))
                await asyncio.wait_for(ws.close(), 2.0)
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self.pc.close()
        if self._http is not None:
            await self._http.close()
