"""A small async client for the Sparkle WebSocket protocol (docs/protocol.md), for tests.

    async with WsClient.connect(base_url) as client:
        joined = await client.join(token)
        await client.send("ping", id="p1")
        pong = await client.wait_for("pong")

Every frame the server sends is kept in ``received`` (in order); ``wait_for`` takes the first
not yet consumed message of a type, so a test can wait for an event without caring what else
arrived in between. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

DEFAULT_TIMEOUT = 5.0
WS_PATH = "/api/v1/ws"


Exchange = Callable[[str, dict[str, str]], Awaitable[tuple[str, dict[str, str]]]]


class ProtocolClosed(AssertionError):
    """The socket closed while a test was waiting for a message."""


class OfferRefused(AssertionError):
    """The server answered an offer with an error."""

    def __init__(self, reply: dict[str, Any]) -> None:
        super().__init__(f"offer refused: {reply}")
        self.reply = reply


class WsClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: aiohttp.ClientSession | None):
        self.ws = ws
        self._own_session = session
        self.received: list[dict[str, Any]] = []  # everything, in arrival order
        self._unread: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.non_json_frames: list[Any] = []
        self._next_id = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        path: str = WS_PATH,
        **ws_kwargs: Any,
    ) -> AsyncIterator[WsClient]:
        """Connect to ``base_url`` (http://host:port) and close everything on exit."""
        own = session is None
        http = aiohttp.ClientSession() if session is None else session
        try:
            url = base_url.rstrip("/").replace("http://", "ws://", 1) + path
            ws = await asyncio.wait_for(http.ws_connect(url, **ws_kwargs), DEFAULT_TIMEOUT)
            client = cls(ws, http if own else None)
            try:
                yield client
            finally:
                await client.close()
        finally:
            if own:
                await http.close()

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    try:
                        payload = json.loads(msg.data)
                    except ValueError:
                        self.non_json_frames.append(msg.data)
                        continue
                    self.received.append(payload)
                    self._unread.append(payload)
                    self._changed.set()
                else:
                    self.non_json_frames.append(msg.data)
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            self._changed.set()

    # --- sending -----------------------------------------------------------------------------

    async def send(self, type_: str, **fields: Any) -> None:
        await self.send_json({"type": type_, **fields})

    async def send_json(self, payload: Any) -> None:
        await self.ws.send_str(json.dumps(payload))

    async def send_raw(self, text: str) -> None:
        await self.ws.send_str(text)

    async def send_bytes(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    # --- receiving ---------------------------------------------------------------------------

    async def recv(self, within: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The next unread message, whatever its type."""
        return await self._take(lambda _m: True, "any message", within)

    async def wait_for(
        self,
        type_: str,
        within: float = DEFAULT_TIMEOUT,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The first unread message of ``type_`` (matching ``predicate``); others stay unread."""

        def match(m: dict[str, Any]) -> bool:
            return m.get("type") == type_ and (predicate is None or predicate(m))

        return await self._take(match, repr(type_), within)

    async def wait_error(self, code: str, within: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        return await self.wait_for("error", within, lambda m: m.get("code") == code)

    async def _take(
        self, match: Callable[[dict[str, Any]], bool], what: str, within: float
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            for index, message in enumerate(self._unread):
                if match(message):
                    del self._unread[index]
                    return message
            if self.closed.is_set():
                raise ProtocolClosed(
                    f"socket closed ({self.close_code}) while waiting for {what}; "
                    f"unread: {self._unread}"
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no {what} within {within} s; unread: {self._unread}")
            self._changed.clear()
            # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation
            # that arrives as the inner wait completes (cpython gh-86296), which left a
            # cancelled reader waiting out its hour-long timeout at a test's teardown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._changed.wait()

    def unread(self, type_: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self._unread if type_ is None or m.get("type") == type_]

    async def wait_closed(self, within: float = DEFAULT_TIMEOUT) -> int | None:
        """Wait for the server to close the socket; return the close code."""
        await asyncio.wait_for(self.closed.wait(), within)
        return self.close_code

    # --- protocol shortcuts ------------------------------------------------------------------

    async def join(
        self, token: str, name: str | None = None, within: float = DEFAULT_TIMEOUT, **extra: Any
    ) -> dict[str, Any]:
        """Send ``join`` and return ``joined`` (raises if an error arrives instead)."""
        fields: dict[str, Any] = {"v": 1, "token": token, **extra}
        if name is not None:
            fields["name"] = name
        await self.send("join", **fields)
        reply = await self._take(lambda m: m.get("type") in ("joined", "error"), "'joined'", within)
        if reply["type"] != "joined":
            raise AssertionError(f"join refused: {reply}")
        return reply

    async def request(
        self, type_: str, *, within: float = DEFAULT_TIMEOUT, **fields: Any
    ) -> dict[str, Any]:
        """Send a message with a fresh ``id`` and return the reply that echoes it (the
        answer, a pong, or an error)."""
        self._next_id += 1
        request_id = f"{type_}-{self._next_id}"
        await self.send(type_, id=request_id, **fields)
        return await self._take(lambda m: m.get("id") == request_id, f"reply to {type_}", within)

    def offer_exchange(self, within: float = 10.0, frames: str | None = None) -> Exchange:
        """An ``exchange(sdp, sources) -> (answer_sdp, mids)`` over this socket, the shape
        ``tests.support.aiortc_client.MediaClient.connect`` takes. An error reply raises
        ``OfferRefused``. ``frames``: every track sent is declared a stand-in for that
        camera track sid (what a framing worker does, issue 6)."""

        async def exchange(sdp: str, sources: dict[str, str]) -> tuple[str, dict[str, str]]:
            tracks: list[dict[str, str]] = [
                {"mid": mid, "source": source} for mid, source in sources.items()
            ]
            if frames is not None:
                for track in tracks:
                    track["frames"] = frames
            reply = await self.request("offer", within=within, sdp=sdp, tracks=tracks)
            if reply["type"] != "answer":
                raise OfferRefused(reply)
            return reply["sdp"], dict(reply["mids"])

        return exchange

    def route_renegotiate(self, renegotiate: Callable[[int, int], None]) -> asyncio.Task[None]:
        """Forward every ``renegotiate`` to ``renegotiate(audio, video)`` until the socket
        closes (a MediaClient's ``renegotiate``); the task ends with the socket."""

        async def route() -> None:
            while not self.closed.is_set():
                try:
                    message = await self.wait_for("renegotiate", within=3600.0)
                except ProtocolClosed:
                    return
                renegotiate(message["recv"]["audio"], message["recv"]["video"])

        task = asyncio.create_task(route())
        self._tasks.append(task)
        return task

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if not self.ws.closed:
            await asyncio.wait_for(self.ws.close(), DEFAULT_TIMEOUT)
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


def mint(
    tokens: Any,
    room: str,
    identity: str,
    *,
    name: str = "",
    grants: Any = None,
    ttl_s: int = 600,
) -> str:
    """A real join token from the app's ``TokenService`` (full participant by default)."""
    from signaling.tokens import Grants

    return str(
        tokens.mint(room, identity, name, Grants.participant() if grants is None else grants, ttl_s)
    )
