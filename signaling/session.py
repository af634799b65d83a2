"""One participant's WebSocket: the connection state machine of docs/protocol.md.

States: awaiting ``join`` -> joined -> terminating. One task reads frames and handles them in
order; one writer task drains the outbox, so rooms can send to a session from synchronous
media events without awaiting, and a fatal error is always written before the close frame.
An offer is answered in its own task, so ICE candidates and pings keep flowing meanwhile;
candidates that arrive while an offer is in flight wait until it is applied.

Nothing a client sends can raise out of here: every handler runs inside one boundary that
turns ``SparkleError`` into an ``error`` reply and anything else into ``internal_error`` with a
reference the log line carries too (the frame itself is never logged: it may hold a token).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from sfu.errors import MediaError, SdpRejected, UnknownPeer
from signaling import chat, messages, moderation, protocol
from signaling.appkeys import METRICS, ROOMS, WS_ADMISSION
from signaling.commands import Chat, RaiseHand, SetFraming
from signaling.errors import ErrorCode, SparkleError
from signaling.participant import Participant
from signaling.protocol import (
    BadMessage,
    Caption,
    IceCandidate,
    Join,
    Leave,
    MessageError,
    Mute,
    Offer,
    Ping,
    RequestId,
)
from signaling.ratelimit import TokenBucket
from signaling.registry import RoomRegistry
from signaling.rooms import LiveRoom

log = logging.getLogger(__name__)

# A client that stops reading while the room keeps talking to it is cut off rather than
# allowed to grow the server's memory (1008, policy violation, RFC 6455 section 7.4.1).
MAX_OUTBOX = 1024
SLOW_CONSUMER_CLOSE = 1008
# Trickle ICE sends ~10 candidates per m-section; more than this during one offer is abuse.
MAX_PENDING_CANDIDATES = 256
# How long the end of a session waits for queued messages and the close handshake.
WRITER_DRAIN_S = 2.0


@dataclass(frozen=True)
class _Close:
    code: int


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    admission = request.app[WS_ADMISSION]
    try:
        address = admission.check(request)
    except SparkleError as exc:
        # Refused before the upgrade: a plain HTTP error, no session was created.
        request.app[METRICS].count_ws_error(exc.code.value)
        return web.json_response(exc.to_http(), status=exc.spec.http_status)
    with admission.seat(address):
        return await _serve_socket(request, address)


async def _serve_socket(request: web.Request, address: str) -> web.StreamResponse:
    registry = request.app[ROOMS]
    loop = asyncio.get_running_loop()
    opened_at = loop.time()
    config = registry.config
    ws = web.WebSocketResponse(
        # aiohttp fails the connection with 1009 itself when a message is too large
        # (RFC 6455 section 7.4.1); its default of 4 MiB invites memory abuse. Its limit is
        # exclusive (a message of exactly max_msg_size bytes is refused, aiohttp
        # _websocket/reader_py.py), ours is inclusive: hence the + 1.
        max_msg_size=config.max_message_bytes + 1,
        # aiohttp sends no WebSocket pings unless asked: without them a vanished client
        # holds its seat until TCP gives up.
        heartbeat=config.heartbeat_s,
        # No permessage-deflate: messages are small, and inflating is where compression
        # bombs live.
        compress=False,
    )
    await ws.prepare(request)
    session = Session(ws, registry, opened_at, address)
    await session.run()
    return ws


class Session:
    """Implements ``signaling.rooms.Connection`` for one WebSocket."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        registry: RoomRegistry,
        opened_at: float,
        address: str | None = None,
    ):
        self._ws = ws
        # The client's address: wrong meeting passwords are counted per address too.
        self._address = address
        self._registry = registry
        self._config = registry.config
        self._loop = asyncio.get_running_loop()
        self._opened_at = opened_at
        self._bucket = TokenBucket(
            self._config.messages_per_second, self._config.message_burst, clock=registry.clock
        )
        self._outbox: asyncio.Queue[dict[str, Any] | _Close] = asyncio.Queue()
        self._terminating = False
        self._done = asyncio.Event()
        self._room: LiveRoom | None = None
        self._participant: Participant | None = None
        self._offered = False
        self._offer_task: asyncio.Task[None] | None = None
        self._pending_candidates: list[IceCandidate] = []
        # Set while this participant waits in the room's lobby (signaling/lobby.py).
        self._lobby_deadline: float | None = None

    # --- Connection ----------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        if self._terminating:
            return
        if self._outbox.qsize() >= MAX_OUTBOX:
            log.warning("closing a WebSocket that stopped reading (%d queued)", MAX_OUTBOX)
            self._terminating = True
            self._outbox.put_nowait(_Close(SLOW_CONSUMER_CLOSE))
            return
        self._outbox.put_nowait(message)

    def terminate(self, message: dict[str, Any] | None, close_code: int) -> None:
        if self._terminating:
            return
        if message is not None:
            self._outbox.put_nowait(message)
        self._terminating = True
        self._outbox.put_nowait(_Close(close_code))

    async def wait_closed(self) -> None:
        await self._done.wait()

    # --- life cycle ----------------------------------------------------------------------

    async def run(self) -> None:
        self._registry.attach(self)
        writer = asyncio.create_task(self._write_loop())
        try:
            if self._registry.closing:
                self.terminate(messages.bye("shutdown"), 1001)
            await self._read_loop()
        finally:
            # aiohttp cancels the handler when the client vanishes if handler_cancellation
            # is on (aiohttp.test_utils always turns it on): the leave must happen anyway,
            # so it runs in a task of its own that the registry awaits on shutdown.
            await asyncio.shield(self._registry.spawn(self._end(writer)))

    async def _end(self, writer: asyncio.Task[None]) -> None:
        try:
            await self._finish(writer)
        finally:
            if not writer.done():
                writer.cancel()
            self._registry.detach(self)
            self._done.set()

    async def _read_loop(self) -> None:
        while True:
            timeout: float | None = None
            if self._participant is None and not self._terminating:
                timeout = self._opened_at + self._config.join_timeout_s - self._loop.time()
                if timeout <= 0:
                    self._reply(SparkleError(ErrorCode.JOIN_TIMEOUT))
                    continue
            elif self._lobby_deadline is not None and not self._terminating:
                timeout = self._lobby_deadline - self._loop.time()
                if timeout <= 0:
                    await self._lobby_expired()
                    continue
            try:
                msg = await self._ws.receive(timeout=timeout)
            except TimeoutError:
                continue  # the deadline check above sends join_timeout
            if msg.type is WSMsgType.TEXT:
                await self._on_frame(msg.data)
            elif msg.type is WSMsgType.BINARY:
                await self._on_frame(None)
            elif msg.type is WSMsgType.ERROR:
                # aiohttp has already closed the socket with the right code: 1009 for a
                # frame over max_msg_size, 1007 for text that is not UTF-8 (RFC 6455
                # section 8.1 requires failing the connection), 1002 for protocol errors.
                code = ErrorCode.MESSAGE_TOO_LARGE.value if self._ws.close_code == 1009 else None
                if code is not None:
                    self._registry.metrics.count_ws_error(code)
                log.info("WebSocket failed (close code %s): %s", self._ws.close_code, msg.data)
                return
            else:  # CLOSE, CLOSING, CLOSED
                return

    async def _lobby_expired(self) -> None:
        self._lobby_deadline = None
        room, participant = self._room, self._participant
        if room is None or participant is None:
            return
        if participant.held:
            # require_camera: its camera never came on; it holds a seat nobody can see.
            if await self._registry.leave(room, participant, "timeout"):
                self._room = self._participant = None
                self._reply(
                    SparkleError(
                        ErrorCode.LOBBY_TIMEOUT,
                        "this meeting requires a camera, and yours did not start in time",
                    )
                )
            return
        # lobby_only: a host may have admitted it a moment ago; then it simply stays.
        if await self._registry.leave(room, participant, "timeout", lobby_only=True):
            self._room = self._participant = None
            self._reply(SparkleError(ErrorCode.LOBBY_TIMEOUT))

    async def _finish(self, writer: asyncio.Task[None]) -> None:
        offer = self._offer_task
        if offer is not None:
            offer.cancel()
            await asyncio.gather(offer, return_exceptions=True)
        room, participant = self._room, self._participant
        self._room = self._participant = None
        if room is not None and participant is not None:
            try:
                await self._registry.leave(room, participant, "disconnected")
            except Exception:
                log.exception("room %s: leave after disconnect failed", room.name)
        self.terminate(None, 1000)
        try:
            await asyncio.wait_for(asyncio.shield(writer), WRITER_DRAIN_S)
        except TimeoutError:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    async def _write_loop(self) -> None:
        while True:
            item = await self._outbox.get()
            if isinstance(item, _Close):
                await self._ws.close(code=item.code)
                return
            if self._ws.closed:
                continue
            try:
                await self._ws.send_str(json.dumps(item, separators=(",", ":")))
            except (ConnectionError, RuntimeError) as exc:
                # The peer is gone; keep draining until the close sentinel arrives.
                log.debug("WebSocket send failed: %s", exc)

    # --- frames --------------------------------------------------------------------------

    async def _on_frame(self, text: str | None) -> None:
        if self._terminating:
            return  # a close is under way: whatever the client still sends is moot
        if not self._bucket.try_take():
            # Dropped unparsed: parsing is the cost being limited, so no id is echoed.
            self._reply(SparkleError(ErrorCode.RATE_LIMITED))
            return
        if text is None:
            self._reply(SparkleError(ErrorCode.BINARY_NOT_SUPPORTED))
            return
        request_id: RequestId | None = None
        try:
            message = protocol.parse(text)
            request_id = message.id
            await self._dispatch(message)
        except MessageError as exc:
            self._reply(exc, exc.request_id)
        except SparkleError as exc:
            self._reply(exc, request_id)
        except Exception:
            self._internal_error(request_id)

    async def _dispatch(self, message: protocol.ClientMessage) -> None:
        if isinstance(message, Join):
            await self._join(message)
            return
        room, participant = self._room, self._participant
        if room is None or participant is None:
            raise MessageError(ErrorCode.NOT_JOINED, request_id=message.id)
        if room.lobby.holds(participant) and not isinstance(message, Leave | Ping):
            # Waiting to be admitted: no media, no commands, nothing but goodbye or a ping.
            raise MessageError(ErrorCode.IN_LOBBY, request_id=message.id)
        if isinstance(message, Offer):
            self._offer(room, participant, message)
        elif isinstance(message, IceCandidate):
            if not self._offered:
                raise BadMessage("ice_candidate before any offer: send 'offer' first", message.id)
            if self._offer_task is not None:
                if len(self._pending_candidates) >= MAX_PENDING_CANDIDATES:
                    raise BadMessage(
                        f"more than {MAX_PENDING_CANDIDATES} ice candidates for one offer",
                        message.id,
                    )
                self._pending_candidates.append(message)
            else:
                await self._apply_candidate(room, participant, message)
        elif isinstance(message, Mute):
            if (
                not message.muted
                and message.source == "microphone"
                and not room.may(participant, "speak")
            ):
                # The SFU keeps dropping this microphone's packets (issue 3): only a host's
                # ask_unmute or set_permission gives the floor back.
                raise MessageError(
                    ErrorCode.FORBIDDEN,
                    "a host muted you; raise your hand to ask to speak",
                    message.id,
                )
            room.set_muted(participant, message.source, message.muted)
        elif isinstance(message, Ping):
            self.send(messages.pong(message.id))
        elif isinstance(message, Caption):
            self._registry.transcription.caption(room, participant, message)
        elif isinstance(message, SetFraming):
            await moderation.set_framing(self._registry, room, participant, message)
        elif isinstance(message, RaiseHand):
            if not participant.hidden:
                room.floor.set_hand(participant, message.raised)
        elif isinstance(message, Chat):
            if not room.receives_room_events(participant):
                raise MessageError(
                    ErrorCode.FORBIDDEN, "turn your camera on to join the meeting", message.id
                )
            await chat.handle(self._registry, room, participant, message)
        elif isinstance(message, Leave):
            self._room = self._participant = None
            # Shielded like the end of a session: a cancelled handler must not stop halfway.
            leaving = self._registry.spawn(self._leave(room, participant))
            await asyncio.shield(leaving)
            self.terminate(messages.bye("left"), 1000)
        else:
            await moderation.handle(self._registry, room, participant, message)

    async def _leave(self, room: LiveRoom, participant: Participant) -> None:
        await self._registry.leave(room, participant, "left")

    async def _join(self, message: Join) -> None:
        room, participant = self._room, self._participant
        if room is not None and participant is not None:
            code = ErrorCode.IN_LOBBY if room.lobby.holds(participant) else ErrorCode.ALREADY_JOINED
            raise MessageError(code, request_id=message.id)
        token = self._registry.tokens.verify(message.token)
        if not token.grants.room_join:
            # The same generic error as any other token problem: no oracle.
            raise SparkleError(ErrorCode.INVALID_TOKEN)
        name = _display_name(message.name if message.name is not None else token.name)
        if name is None:
            if self._registry.requires_name(token.room) or (message.name or "").strip():
                raise MessageError(ErrorCode.NAME_REQUIRED, request_id=message.id)
            # The room does not require a name (issue 3 policy): a neutral one, as Jitsi's
            # "Fellow Jitster", numbered so two guests can be told apart.
            name = f"Guest {secrets.randbelow(9000) + 1000}"
        room, participant = await self._registry.join(
            self, token, name, message.id, password=message.password, address=self._address
        )
        self._room, self._participant = room, participant
        if room.lobby.holds(participant) or participant.held:
            # join_timeout no longer applies: the wait is the host's (or the camera's), not
            # the client's; lobby_wait_timeout bounds it.
            self._lobby_deadline = self._loop.time() + self._config.lobby_wait_timeout_s
            log.info(
                "room %s: %s waits in the lobby as %s",
                room.name,
                participant.identity,
                participant.sid,
            )
            return
        self._registry.metrics.observe_join_latency(self._loop.time() - self._opened_at)
        log.info(
            "room %s: %s joined as %s%s",
            room.name,
            participant.identity,
            participant.sid,
            " (hidden)" if participant.hidden else "",
        )

    def _offer(self, room: LiveRoom, participant: Participant, message: Offer) -> None:
        if self._offer_task is not None:
            raise MessageError(ErrorCode.OFFER_IN_FLIGHT, request_id=message.id)
        if message.stand_ins() and not participant.framer:
            raise MessageError(
                ErrorCode.FORBIDDEN, "only an auto-framing worker may declare 'frames'", message.id
            )
        self._offered = True
        self._offer_task = asyncio.create_task(self._answer(room, participant, message))

    async def _answer(self, room: LiveRoom, participant: Participant, message: Offer) -> None:
        try:
            try:
                stand_ins = message.stand_ins()
                if stand_ins:
                    stand_ins = self._registry.framing.check_stand_ins(room, participant, stand_ins)
                answer = await room.media.handle_offer(
                    participant.sid, message.sdp, message.sources(), stand_ins
                )
            except SdpRejected as exc:
                self._pending_candidates.clear()
                self._reply(SparkleError(ErrorCode.SDP_REJECTED, exc.reason), message.id)
                return
            except UnknownPeer:
                return  # removed meanwhile (replaced, room deleted): nobody to answer
            self.send(messages.answer(answer.sdp, answer.mids, message.id))
            while self._pending_candidates:
                candidate = self._pending_candidates.pop(0)
                await self._apply_candidate(room, participant, candidate)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._internal_error(message.id)
        finally:
            self._offer_task = None

    async def _apply_candidate(
        self, room: LiveRoom, participant: Participant, message: IceCandidate
    ) -> None:
        try:
            await room.media.add_ice_candidate(
                participant.sid, message.candidate, message.sdp_mid, message.sdp_mline_index
            )
        except MediaError as exc:
            self._reply(BadMessage(f"ice_candidate: {exc.reason}", message.id), message.id)

    # --- replies -------------------------------------------------------------------------

    def _reply(self, exc: SparkleError, request_id: RequestId | None = None) -> None:
        self._registry.metrics.count_ws_error(exc.code.value)
        payload = exc.to_ws(request_id)
        if exc.fatal:
            close_code = exc.spec.close_code
            self.terminate(payload, 1011 if close_code is None else close_code)
        else:
            self.send(payload)

    def _internal_error(self, request_id: RequestId | None) -> None:
        reference = secrets.token_hex(6)
        log.exception("internal error, reference %s", reference)
        self._reply(
            SparkleError(ErrorCode.INTERNAL_ERROR, f"internal error (reference {reference})"),
            request_id,
        )


def _display_name(raw: str | None) -> str | None:
    """The trimmed name if it is 1 to 64 characters without control characters, else None."""
    name = (raw or "").strip()
    if not 1 <= len(name) <= protocol.MAX_NAME_LENGTH:
        return None
    # Control characters and bidi overrides/isolates (Unicode TR9; the "Trojan Source"
    # trick, CVE-2021-42574) would let a name spoof another in the roster. Other format
    # characters stay: emoji sequences need the zero-width joiner.
    if any(unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS for ch in name):
        return None
    return name


_BIDI_CONTROLS = frozenset(
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
