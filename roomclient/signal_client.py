"""A worker's signalling socket: the public WebSocket protocol (docs/protocol.md), client side.

It joins as a hidden participant (``join`` -> ``joined``), sends requests that carry an
``id`` and waits for the server's reply with that id (``offer`` -> ``answer``), hands every
other server message to the session, and leaves (``leave``, then a short wait for ``bye``).
It knows nothing of recordings, captions or media: the session (roomclient/room_session.py
and the worker built on it) decides what a message means.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp

WS_PATH = "/api/v1/ws"
PROTOCOL_VERSION = 1
# The server pings every 15 s (docs/protocol.md "Limits"); ours notices a vanished server.
HEARTBEAT_S = 15.0
# How long an offer may wait for its answer, and ``leave`` for the server's ``bye``.
ANSWER_TIMEOUT_S = 10.0
LEAVE_TIMEOUT_S = 2.0


class JoinFailed(Exception):
    """The worker could not join the room (the message never contains the token)."""


def ws_url(base: str) -> str:
    """The socket's address for a server's http(s)://host:port."""
    return base.rstrip("/").replace("http", "ws", 1) + WS_PATH


def parse_message(text: str) -> dict[str, Any]:
    """One server message as a dict; anything that is not a JSON object reads as ``{}``."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class SignalClient:
    def __init__(self, token: str, name: str) -> None:
        self._token = token
        self._name = name  # the display name sent in ``join`` (a worker's own, never shown)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 0

    def __repr__(self) -> str:  # never print the token
        return "SignalClient()"

    async def join(self, http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
        """Connect and join; return the ``joined`` message or raise JoinFailed."""
        self._ws = ws = await http.ws_connect(url, heartbeat=HEARTBEAT_S, autoclose=True)
        # Hidden: the name is never shown, but a room with ``require_name`` wants one.
        join = {"type": "join", "v": PROTOCOL_VERSION, "token": self._token, "name": self._name}
        await ws.send_str(json.dumps(join))
        while True:
            message = await ws.receive()
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise JoinFailed(f"the server closed the socket ({ws.close_code})")
            reply = parse_message(message.data)
            kind = reply.get("type")
            if kind == "joined":
                return reply
            if kind == "error":
                code, text = reply.get("code"), reply.get("message")
                raise JoinFailed(f"join refused: {code}: {text}")
            if kind == "lobby_waiting":  # hidden participants skip the lobby: not our token
                raise JoinFailed("join refused: the token is not a recorder's (lobby)")

    async def read(
        self, handle: Callable[[dict[str, Any]], None], done: Callable[[], bool]
    ) -> None:
        """Hand each server message to ``handle`` until the socket closes or ``done()``;
        when the socket closes, every request still waiting for its reply fails."""
        ws = self._ws
        assert ws is not None
        try:
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                handle(parse_message(message.data))
                if done():
                    return
        finally:
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(ConnectionError("the socket closed"))

    def settle_reply(self, message: dict[str, Any]) -> bool:
        """If ``message`` answers one of our requests, hand it to that request: True."""
        reply_to = message.get("id")
        if isinstance(reply_to, str) and reply_to in self._replies:
            future = self._replies.pop(reply_to)
            if not future.done():
                future.set_result(message)
            return True
        return False

    async def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        """Send a request with a fresh id; return the server's reply to it."""
        ws = self._ws
        assert ws is not None
        self._next_id += 1
        request_id = f"rec-{self._next_id}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = future
        try:
            await ws.send_str(json.dumps({"type": type_, "id": request_id, **fields}))
            return await asyncio.wait_for(future, ANSWER_TIMEOUT_S)
        finally:
            self._replies.pop(request_id, None)

    async def send(self, type_: str, **fields: Any) -> None:
        """Send a message that has no reply (e.g. a transcriber's ``caption``); raises
        ConnectionError once the socket is closed."""
        ws = self._ws
        if ws is None or ws.closed:
            raise ConnectionError("the socket is closed")
        await ws.send_str(json.dumps({"type": type_, **fields}))

    async def leave(self) -> None:
        """Say ``leave``, give the server a moment for its ``bye``, and close."""
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await ws.send_str(json.dumps({"type": "leave"}))
                # The server answers ``bye`` and closes; don't wait for it long.
                async with asyncio.timeout(LEAVE_TIMEOUT_S):
                    async for _ in ws:
                        pass
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), LEAVE_TIMEOUT_S)

    async def close(self) -> None:
        """Close the socket if it is still open (e.g. the join was refused)."""
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), LEAVE_TIMEOUT_S)
