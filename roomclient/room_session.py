"""A worker's session in one room, as far as every public-protocol worker has it in common.

It speaks the public signalling protocol (docs/protocol.md) like any client: connects and
``join``s (roomclient/signal_client.py), checks that the token is for the room it was sent
to, keeps the roster (roomclient/roster.py) from ``joined``, ``track_published``,
``track_unpublished``, ``participant_joined``/``participant_updated`` and
``camera_accepted``, hands ``renegotiate`` to its receive slots
(roomclient/receive_slots.py), and finishes on ``bye`` or when the socket closes. At the
end its own tasks are cancelled, ``leave`` is sent and the peer connection closed.

What the session is for is the worker's: a subclass sets ``peer``, runs the room in
``_in_room`` (returning its exit code), says what an unpublished track means
(``_track_ended``) and any other message (``_on_message``), and shuts down its own work in
``_shutdown`` before calling ``_leave``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Protocol

import aiohttp

from .receive_slots import ReceiveSlots
from .roster import Roster
from .signal_client import JoinFailed, SignalClient, ws_url

logger = logging.getLogger(__name__)

# Waits until the session finishes or ``stop`` is set, or the seconds given pass (None: no
# limit).
Wait = Callable[[float | None], Awaitable[None]]


class RoomOptions(Protocol):
    """What the session needs of a worker's options."""

    @property
    def url(self) -> str: ...  # http(s)://host:port of the Sparkle server

    @property
    def room(self) -> str: ...

    @property
    def token(self) -> str: ...

    @property
    def join_timeout_s(self) -> float: ...


class RoomSession:
    peer: ReceiveSlots[Any]

    def __init__(self, options: RoomOptions, name: str, stop: asyncio.Event) -> None:
        self.url = options.url
        self.room = options.room
        self.join_timeout_s = options.join_timeout_s
        self.stop = stop
        self.roster = Roster()
        self.signal = SignalClient(options.token, name=name)
        self.finish_reason = ""
        self._finished = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- what a worker adds ---------------------------------------------------------------

    async def _before_join(self) -> None:
        """Anything to get ready before the join (the join's timeout does not count it)."""

    async def _in_room(self, joined: dict[str, Any]) -> int:
        """The session proper, from the ``joined`` message; returns the exit code."""
        raise NotImplementedError

    def _track_ended(self, sid: str) -> None:
        """Track ``sid`` was unpublished (the roster has already dropped it)."""

    def _on_message(self, kind: Any, message: dict[str, Any]) -> None:
        """A server message none of the common ones (a worker's own state)."""

    async def _shutdown(self) -> None:
        await self._leave()

    # --- life cycle -----------------------------------------------------------------------

    async def run(self) -> int:
        """Join and run the session until it ends; return its exit code. Raises JoinFailed."""
        url = ws_url(self.url)
        timeout = aiohttp.ClientTimeout(total=None, connect=self.join_timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                try:
                    return await self._session(http, url)
                finally:
                    await self.signal.close()  # still open if e.g. the join was refused
        finally:
            await self.peer.close()

    async def _session(self, http: aiohttp.ClientSession, url: str) -> int:
        seconds = self.join_timeout_s
        await self._before_join()
        try:
            joined = await asyncio.wait_for(self.signal.join(http, url), seconds)
        except (aiohttp.ClientError, OSError) as exc:
            raise JoinFailed(f"cannot connect to {url}: {type(exc).__name__}") from None
        except TimeoutError:
            raise JoinFailed(f"no answer to join within {seconds} s") from None
        try:
            room = joined.get("room")
            name = room.get("name") if isinstance(room, dict) else None
            if name != self.room:
                raise JoinFailed(f"the token is for room {name!r}, not {self.room!r}")
            return await self._in_room(joined)
        finally:
            await self._shutdown()

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[Wait]:
        """Read server messages while inside; yields a wait for the end of the session."""
        reader = self._spawn(self._read())
        stopping = asyncio.ensure_future(self.stop.wait())
        finished = asyncio.ensure_future(self._finished.wait())

        async def wait(seconds: float | None) -> None:
            await asyncio.wait(
                {stopping, finished}, return_when=asyncio.FIRST_COMPLETED, timeout=seconds
            )

        try:
            yield wait
        finally:
            for future in (stopping, finished):
                future.cancel()
            reader.cancel()
            await asyncio.gather(reader, stopping, finished, return_exceptions=True)

    def _finish(self, reason: str) -> None:
        if not self._finished.is_set():
            self.finish_reason = reason
            self._finished.set()

    async def _leave(self) -> None:
        """The last of a shutdown: every task stopped, ``leave`` said, the media closed."""
        await self.peer.cancel_tasks()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.signal.leave()
        await self.peer.close()

    # --- signalling -----------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            await self.signal.read(self._handle_safely, self._finished.is_set)
        finally:
            self._finish(self.finish_reason or "socket closed")

    def _handle_safely(self, message: dict[str, Any]) -> None:
        try:
            self.handle_message(message)
        except Exception:
            logger.exception("handling a server message failed")

    def handle_message(self, message: dict[str, Any]) -> None:
        """Apply one server message (public: a test can play the server's part)."""
        if self.signal.settle_reply(message):
            return
        kind = message.get("type")
        if kind == "renegotiate":
            self.peer.renegotiate(message.get("recv"))
        elif kind == "track_published":
            self.roster.add_track(message.get("track"))
        elif kind == "track_unpublished":
            sid = message.get("track_sid")
            self.roster.remove_track(sid)
            if isinstance(sid, str):
                self._track_ended(sid)
        elif kind in ("participant_joined", "participant_updated"):
            self.roster.add_participant(message.get("participant"))
        elif kind == "camera_accepted":
            self.roster.load(message.get("participants"), message.get("tracks"))
        elif kind == "bye":
            self._finish(f"bye ({message.get('reason')})")
        elif kind == "error":
            logger.warning("server error %s: %s", message.get("code"), message.get("message"))
        else:
            self._on_message(kind, message)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
