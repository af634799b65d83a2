"""A small typed WebDriver BiDi client over aiohttp (https://w3c.github.io/webdriver-bidi/).

Only what the Firefox browser test needs: numbered commands with a bounded wait for their
answer, events handed to subscribers, and conversion between Python values and BiDi's
``script.LocalValue`` / ``script.RemoteValue``. When the socket drops, every waiting command
fails at once (``BrowserCrashed``) instead of running into its timeout.

    bidi = await BidiConnection.open("ws://127.0.0.1:PORT/session")
    await bidi.command("session.new", {"capabilities": {}})
    tree = await bidi.command("browsingContext.getTree", {"maxDepth": 0})
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.support.browser import BrowserCrashed

COMMAND_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 10.0
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

Json = dict[str, Any]
EventHandler = Callable[[str, Json], None]


class BidiError(AssertionError):
    """Firefox answered a command with an error (``error`` is the BiDi error code)."""

    def __init__(self, method: str, error: str, message: str) -> None:
        super().__init__(f"{method}: {error}: {message}")
        self.error = error


class ScriptError(AssertionError):
    """A script run in the page threw (``script.evaluate`` returned ``exception``)."""


# ---- values between Python and the page (BiDi "LocalValue" / "RemoteValue") -----------------


def to_local_value(value: object) -> Json:
    """A JSON-like Python value as a BiDi ``script.LocalValue``."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            special = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
            return {"type": "number", "value": special}
        return {"type": "number", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, list | tuple):
        return {"type": "array", "value": [to_local_value(v) for v in value]}
    if isinstance(value, dict):
        return {"type": "object", "value": [[str(k), to_local_value(v)] for k, v in value.items()]}
    raise TypeError(f"cannot pass {type(value).__name__} to the page")


def from_remote_value(value: Json) -> Any:
    """A BiDi ``script.RemoteValue`` as Python; DOM nodes and the like become their dict."""
    kind = value.get("type")
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return value["value"]
    if kind == "number":
        number = value["value"]
        special = {"NaN": math.nan, "-0": -0.0, "Infinity": math.inf, "-Infinity": -math.inf}
        return special.get(number, number) if isinstance(number, str) else number
    if kind == "bigint":
        return int(value["value"])
    if kind in ("array", "set"):
        return [from_remote_value(v) for v in value.get("value", [])]
    if kind in ("object", "map"):
        out: dict[Any, Any] = {}
        for key, item in value.get("value", []):
            out[key if isinstance(key, str) else from_remote_value(key)] = from_remote_value(item)
        return out
    if kind == "date":
        return value["value"]
    return value


# ---- the WebSocket ---------------------------------------------------------------------------


class BidiConnection:
    """One WebSocket to Firefox's BiDi server: numbered commands, and events to a handler."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._http = http
        self._ws = ws
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Json]] = {}
        self._handlers: list[EventHandler] = []
        self._closed_because: str | None = None
        self._reader = asyncio.create_task(self._read(), name="bidi-reader")

    @classmethod
    async def open(cls, url: str, *, within: float = COMMAND_TIMEOUT_S) -> BidiConnection:
        http = aiohttp.ClientSession()
        try:
            ws = await asyncio.wait_for(
                http.ws_connect(
                    url,
                    timeout=aiohttp.ClientWSTimeout(ws_close=within),
                    max_msg_size=MAX_MESSAGE_BYTES,
                ),
                timeout=within,
            )
        except BaseException:
            await http.close()
            raise
        return cls(http, ws)

    @property
    def closed(self) -> str | None:
        """Why the connection is gone, or None while it is open."""
        return self._closed_because

    def on_event(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    async def command(
        self, method: str, params: Json, *, within: float = COMMAND_TIMEOUT_S
    ) -> Json:
        """Sends one command and returns its ``result``; raises BidiError on an error reply."""
        if self._closed_because is not None:
            raise BrowserCrashed(f"{method}: the BiDi connection is gone ({self._closed_because})")
        self._next_id += 1
        command_id = self._next_id
        reply: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = reply
        try:
            await self._ws.send_json({"id": command_id, "method": method, "params": params})
            message = await asyncio.wait_for(reply, timeout=within)
        except TimeoutError:
            raise AssertionError(f"{method}: no answer from Firefox within {within} s") from None
        finally:
            self._pending.pop(command_id, None)
        if message.get("type") == "error":
            raise BidiError(method, str(message.get("error")), str(message.get("message")))
        result: Json = message.get("result", {})
        return result

    async def _read(self) -> None:
        reason = "closed by Firefox"
        try:
            async for frame in self._ws:
                if frame.type is not aiohttp.WSMsgType.TEXT:
                    continue
                message = json.loads(frame.data)
                if message.get("type") == "event":
                    for handler in self._handlers:
                        handler(str(message.get("method")), message.get("params", {}))
                    continue
                reply = self._pending.get(message.get("id", -1))
                if reply is not None and not reply.done():
                    reply.set_result(message)
        except Exception as exc:  # a broken socket ends the session; say why
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            self._closed_because = reason
            for reply in self._pending.values():
                if not reply.done():
                    reply.set_exception(BrowserCrashed(f"the BiDi connection is gone ({reason})"))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(), timeout=CLOSE_TIMEOUT_S)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self._http.close()
