"""Live rooms: who is connected to which meeting, and the media room that serves them.

A ``LiveRoom`` exists while somebody is in a meeting; it owns one ``sfu.MediaRoom`` and turns
its events (``sfu.events.MediaEvents``) into protocol messages. The ``RoomRegistry`` creates
live rooms on the first join and forgets them when the last participant leaves.

Joins and leaves of one room are serialised by the room's lock, so "same identity joins
twice" and "the room is full" are decided on a consistent roster (security checklist item 6).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from sfu.counters import MediaCounters
from sfu.errors import MediaError
from sfu.events import PublishedTrack
from sfu.room import MediaRoom
from signaling import protocol
from signaling.config import Config
from signaling.errors import ErrorCode, SparkleError
from signaling.lobby import Knock, Lobby
from signaling.metrics import Metrics, MetricsSnapshot
from signaling.participant import Connection, Participant
from signaling.store import Store
from signaling.tokens import RoomToken, TokenService

log = logging.getLogger(__name__)

# How long close() waits for connections to say goodbye before giving up on them.
SHUTDOWN_GRACE_S = 5.0


class LiveRoom:
    """One meeting with people in it. Implements ``sfu.events.MediaEvents``."""

    def __init__(
        self, config: Config, name: str, sid: str, max_participants: int, lobby: bool = False
    ) -> None:
        self.name = name
        self.sid = sid
        self.max_participants = max_participants
        self.lock = asyncio.Lock()
        self.closed = False
        # Set by a host's lock_room (signaling/moderation.py): only hosts may join meanwhile.
        self.locked = False
        self.participants: dict[str, Participant] = {}
        # Waiting room (signaling/lobby.py): knocks are not participants until admitted.
        self.lobby = Lobby(lobby)
        self._drops: set[asyncio.Future[None]] = set()
        self._config = config
        # The last active_speaker announced: a newcomer is told it, since the media plane
        # only reports changes and the speaker may not change for a long time.
        self.active_speaker: str | None = None
        self.media = MediaRoom(config.sfu_settings(), events=self)

    @property
    def participant_count(self) -> int:
        """Visible participants (hidden ones excluded)."""
        return sum(1 for p in self.participants.values() if not p.hidden)

    @property
    def empty(self) -> bool:
        """Nobody in the room and nobody waiting to get in."""
        return not self.participants and not len(self.lobby)

    def by_identity(self, identity: str) -> Participant | None:
        for participant in self.participants.values():
            if participant.identity == identity:
                return participant
        return None

    # --- membership (callers hold self.lock) ---------------------------------------------

    async def admit(
        self,
        connection: Connection,
        token: RoomToken,
        display_name: str,
        request_id: protocol.RequestId | None,
        host: bool,
    ) -> Participant:
        """Add a participant and send its ``joined``; raises ``SparkleError`` (room_full).

        ``host`` is the token's room_admin unless a host promoted or demoted the identity."""
        participant = _new_participant(connection, token, display_name, host)
        await self._seat(participant, request_id)
        return participant

    def knock(
        self,
        connection: Connection,
        token: RoomToken,
        display_name: str,
        request_id: protocol.RequestId | None,
    ) -> Participant:
        """Put a newcomer in the lobby: it gets ``lobby_waiting``, the hosts ``lobby_knock``."""
        previous = self.lobby.by_identity(token.identity)
        if previous is not None:
            # One waiting session per identity, as in the room itself: the newest wins.
            self.withdraw(previous.participant, "replaced")
            previous.participant.connection.terminate(
                SparkleError(ErrorCode.REPLACED).to_ws(), _close_code(ErrorCode.REPLACED)
            )
        # A lobby no larger than the room: a flood of knocks cannot grow without bound.
        if len(self.lobby) >= self.max_participants:
            raise SparkleError(ErrorCode.ROOM_FULL)
        participant = _new_participant(connection, token, display_name, host=False)
        self.lobby.add(Knock(participant, request_id))
        connection.send(protocol.lobby_waiting(self.name, request_id))
        self.tell_hosts(protocol.lobby_knock(participant.info()))
        return participant

    def withdraw(self, participant: Participant, reason: str) -> bool:
        """Take a waiting participant out of the lobby (hosts get ``lobby_left``)."""
        if self.lobby.discard(participant) is None:
            return False
        self.tell_hosts(protocol.lobby_left(participant.sid, reason))
        return True

    async def let_in(self, knock: Knock) -> bool:
        """Admit a waiting participant: it gets ``joined``, the others ``participant_joined``.
        False if it was no longer waiting or could not be seated (it is then told why)."""
        participant = knock.participant
        if self.lobby.discard(participant) is None:
            return False
        try:
            await self._seat(participant, knock.request_id)
        except SparkleError as exc:  # room_full: as if it had joined right now
            self.tell_hosts(protocol.lobby_left(participant.sid, exc.code.value))
            participant.connection.terminate(exc.to_ws(), exc.spec.close_code or 1011)
            return False
        except Exception:
            log.exception("room %s: admitting %s failed", self.name, participant.sid)
            self.tell_hosts(protocol.lobby_left(participant.sid, "error"))
            failure = SparkleError(ErrorCode.INTERNAL_ERROR, "could not admit you")
            participant.connection.terminate(failure.to_ws(), 1011)
            return False
        self.tell_hosts(protocol.lobby_left(participant.sid, "admitted"))
        return True

    def tell_hosts(self, message: dict[str, Any]) -> None:
        for participant in list(self.participants.values()):
            if participant.host:
                participant.send(message)

    def lobby_message(self) -> dict[str, Any]:
        return protocol.lobby([knock.participant.info() for knock in self.lobby.knocks()])

    def settings_message(self) -> dict[str, Any]:
        return protocol.room_updated(self.name, self.sid, self.locked, self.lobby.enabled)

    async def _seat(self, participant: Participant, request_id: protocol.RequestId | None) -> None:
        previous = self.by_identity(participant.identity)
        if previous is not None:
            # Exactly one live session per identity: the newest wins (LiveKit does the same),
            # so a user who reopens a tab is not locked out by a ghost.
            await self.remove(previous, "replaced")
            previous.connection.terminate(
                SparkleError(ErrorCode.REPLACED).to_ws(), _close_code(ErrorCode.REPLACED)
            )
        if not participant.hidden and self.participant_count >= self.max_participants:
            raise SparkleError(ErrorCode.ROOM_FULL)
        others = [p for p in self.participants.values() if not p.hidden]
        tracks = [
            protocol.track_info(track, self._is_muted(track))
            for track in self.media.published_tracks()
            if track.peer_id in self.participants
        ]
        self.participants[participant.sid] = participant
        try:
            await self.media.add_peer(
                participant.sid,
                allowed_sources=participant.allowed_sources,
                subscribe=participant.can_subscribe,
            )
        except BaseException:
            del self.participants[participant.sid]
            raise
        participant.release(
            protocol.joined(
                room_name=self.name,
                room_sid=self.sid,
                participant=participant.info(),
                participants=[p.info() for p in others],
                tracks=tracks,
                ice_servers=self._config.sfu_settings().ice_servers,
                max_message_bytes=self._config.max_message_bytes,
                messages_per_second=self._config.messages_per_second,
                request_id=request_id,
            )
        )
        if self.active_speaker is not None and self.active_speaker in self.participants:
            participant.send(protocol.active_speaker(self.active_speaker))
        if not participant.hidden:
            self.broadcast(protocol.participant_joined(participant.info()), exclude=participant)
        if participant.host and (self.lobby.enabled or len(self.lobby)):
            participant.send(self.lobby_message())

    async def remove(self, participant: Participant, reason: str) -> bool:
        """Remove a participant (idempotent); False if it was not (or no longer) here."""
        if self.participants.get(participant.sid) is not participant:
            return False
        del self.participants[participant.sid]
        # Shielded: the caller's task may be cancelled (aiohttp cancels a vanished client's
        # handler), but half a removal would leave a peer in the media room and the others
        # never told. The room owns the task and waits for it before closing the media.
        drop = asyncio.ensure_future(self._drop(participant, reason))
        self._drops.add(drop)
        drop.add_done_callback(self._drops.discard)
        await asyncio.shield(drop)
        return True

    async def _drop(self, participant: Participant, reason: str) -> None:
        try:
            # Unpublishes its tracks first: the others get track_unpublished, then
            # participant_left, so a client never holds a track of someone who is gone.
            await self.media.remove_peer(participant.sid)
        except MediaError as exc:
            log.warning("room %s: removing peer %s: %s", self.name, participant.sid, exc)
        except Exception:
            log.exception("room %s: removing peer %s failed", self.name, participant.sid)
        if not participant.hidden:
            self.broadcast(protocol.participant_left(participant.sid, reason))

    async def close_media(self) -> None:
        """Close the media room once pending removals are done; never raises."""
        if self._drops:
            await asyncio.gather(*self._drops, return_exceptions=True)
        try:
            await self.media.close()
        except Exception:
            log.exception("room %s: closing its media room failed", self.name)

    def set_muted(self, participant: Participant, source: str, muted: bool) -> None:
        if muted:
            participant.muted_sources.add(source)
        else:
            participant.muted_sources.discard(source)
        try:
            self.media.set_muted(participant.sid, source, muted)
        except MediaError as exc:
            log.debug("room %s: set_muted %s: %s", self.name, participant.sid, exc)
        for track in self.media.published_tracks():
            if track.peer_id == participant.sid and track.source == source:
                self.broadcast(protocol.track_muted(track, muted), exclude=participant)

    def broadcast(self, message: dict[str, Any], *, exclude: Participant | None = None) -> None:
        for participant in list(self.participants.values()):
            if participant is not exclude:
                participant.send(message)

    def _is_muted(self, track: PublishedTrack) -> bool:
        owner = self.participants.get(track.peer_id)
        return owner is not None and track.source in owner.muted_sources

    def _visible_publisher(self, peer_id: str) -> Participant | None:
        owner = self.participants.get(peer_id)
        return None if owner is None or owner.hidden else owner

    # --- sfu.events.MediaEvents ----------------------------------------------------------

    def track_published(self, track: PublishedTrack) -> None:
        owner = self._visible_publisher(track.peer_id)
        if owner is not None:
            if track.source in owner.muted_sources:
                # Muted before the track existed: the media plane must hold it back too.
                try:
                    self.media.set_muted(owner.sid, track.source, True)
                except MediaError as exc:
                    log.debug("room %s: set_muted %s: %s", self.name, owner.sid, exc)
            self.broadcast(protocol.track_published(track, self._is_muted(track)), exclude=owner)

    def track_unpublished(self, track: PublishedTrack) -> None:
        owner = self.participants.get(track.peer_id)
        if owner is None or not owner.hidden:
            # The owner may already be gone (remove() runs remove_peer after dropping it):
            # the others must still learn the track is over.
            self.broadcast(protocol.track_unpublished(track), exclude=owner)

    def track_refused(self, peer_id: str, mid: str, source: str, reason: str) -> None:
        owner = self.participants.get(peer_id)
        if owner is not None:
            error = SparkleError(
                ErrorCode.SOURCE_NOT_ALLOWED, f"track mid={mid} source={source}: {reason}"
            )
            owner.send(error.to_ws())

    def renegotiation_needed(self, peer_id: str, audio_slots: int, video_slots: int) -> None:
        owner = self.participants.get(peer_id)
        if owner is not None:
            owner.send(protocol.renegotiate(audio_slots, video_slots))

    def active_speaker_changed(self, peer_id: str | None) -> None:
        speaker = None if peer_id is None else self._visible_publisher(peer_id)
        self.active_speaker = None if speaker is None else speaker.sid
        self.broadcast(protocol.active_speaker(self.active_speaker))

    def peer_state_changed(self, peer_id: str, state: str) -> None:
        log.debug("room %s: peer %s is %s", self.name, peer_id, state)


class RoomRegistry:
    """All live rooms of this process."""

    def __init__(
        self,
        config: Config,
        store: Store,
        tokens: TokenService,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.tokens = tokens
        self.metrics = metrics
        # Per-connection rate limiters read this clock; tests inject a fake one.
        self.clock = clock
        self._store = store
        self._rooms: dict[str, LiveRoom] = {}
        # Counters of rooms that have ended: Prometheus counters must never go down, so what a
        # closed room forwarded stays in the totals (gauges are current values and are not kept).
        self._retired = MediaCounters()
        self._connections: set[Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def store(self) -> Store:
        return self._store

    @property
    def closing(self) -> bool:
        return self._closing

    def live_room(self, name: str) -> LiveRoom | None:
        return self._rooms.get(name)

    def live_rooms(self) -> list[LiveRoom]:
        return list(self._rooms.values())

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` as a task the registry owns: ``close`` waits for it."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def attach(self, connection: Connection) -> None:
        self._connections.add(connection)

    def detach(self, connection: Connection) -> None:
        self._connections.discard(connection)

    async def join(
        self,
        connection: Connection,
        token: RoomToken,
        display_name: str,
        request_id: protocol.RequestId | None = None,
    ) -> tuple[LiveRoom, Participant]:
        """Admit a verified token's holder to the token's room (the only room it opens)."""
        # A room being torn down (last one left) is replaced by a fresh one: retry.
        while True:
            if self._closing:
                raise SparkleError(ErrorCode.ROOM_DELETED, "the server is shutting down")
            room = self._get_or_create(token.room)
            async with room.lock:
                if room.closed:
                    continue
                try:
                    # Decided under the room's lock, so a ban or a lock that a host is applying
                    # right now cannot be overtaken by a join already on its way.
                    host = self._store.host_override(room.name, token.identity)
                    host = token.grants.room_admin if host is None else host
                    if self._store.is_banned(room.name, token.identity) or (
                        room.locked and not host
                    ):
                        # The answer to a bad token: a banned or locked-out user learns
                        # nothing it could probe with (security checklist item 8).
                        raise SparkleError(ErrorCode.INVALID_TOKEN)
                    # Hidden participants (recorders, agents) come with tokens only an API
                    # key holder can mint, and a knock would reveal them: they skip it.
                    if room.lobby.enabled and not host and not token.grants.hidden:
                        participant = room.knock(connection, token, display_name, request_id)
                    else:
                        participant = await room.admit(
                            connection, token, display_name, request_id, host
                        )
                except BaseException:
                    if not room.empty:
                        raise
                    # A failed first join must not leave an empty room behind.
                    room.closed = True
                    if self._rooms.get(room.name) is room:
                        del self._rooms[room.name]
                    await self._close_media(room)
                    raise
                return room, participant

    async def leave(
        self, room: LiveRoom, participant: Participant, reason: str, *, lobby_only: bool = False
    ) -> bool:
        """Take ``participant`` out of the room or its lobby (with ``lobby_only``, only out of
        the lobby); False if it was in neither."""
        async with room.lock:
            removed = room.withdraw(participant, reason)
            if not removed and not lobby_only:
                removed = await room.remove(participant, reason)
            if not room.empty or room.closed:
                return removed
            # Last one out: forget the live room and free its media resources now; the store
            # still remembers the room itself, so the meeting link keeps working.
            room.closed = True
            if self._rooms.get(room.name) is room:
                del self._rooms[room.name]
        await self._close_media(room)
        return removed

    def _get_or_create(self, name: str) -> LiveRoom:
        room = self._rooms.get(name)
        if room is not None:
            return room
        record = self._store.get_room(name)
        if record is None:
            if not self.config.auto_create_rooms:
                # Same answer as a bad token: no way to probe which rooms exist
                # (security checklist item 8).
                raise SparkleError(ErrorCode.INVALID_TOKEN)
            try:
                record = self._store.create_room(
                    name, max_participants=self.config.max_participants, created_by="api"
                )
            except SparkleError as exc:
                if exc.code is not ErrorCode.CONFLICT:
                    raise
                record = self._store.get_room(name)
                if record is None:
                    raise SparkleError(ErrorCode.INVALID_TOKEN) from None
        room = LiveRoom(self.config, record.name, record.sid, record.max_participants, record.lobby)
        self._rooms[name] = room
        return room

    async def _close_media(self, room: LiveRoom) -> None:
        await room.close_media()
        ended = replace(room.media.counters, tracks_published=0, tracks_subscribed=0)
        self._retired.add(ended)

    async def close_room(self, name: str, *, ended: bool = False) -> None:
        """The room was deleted through the API (everyone gets room_deleted and is closed) or,
        with ``ended``, a host ended the meeting (everyone gets bye "ended", close 1000)."""
        room = self._rooms.pop(name, None)
        if room is None:
            return
        async with room.lock:
            room.closed = True
            participants = list(room.participants.values())
            participants += [knock.participant for knock in room.lobby.clear()]
            room.participants.clear()
        if ended:
            farewell, code = protocol.bye("ended"), 1000
        else:
            farewell = SparkleError(ErrorCode.ROOM_DELETED).to_ws()
            code = _close_code(ErrorCode.ROOM_DELETED)
        for participant in participants:
            participant.connection.terminate(farewell, code)
        await self._close_media(room)

    def snapshot(self) -> MetricsSnapshot:
        media = replace(self._retired)
        participants = 0
        for room in self._rooms.values():
            media.add(room.media.counters)
            participants += len(room.participants)
        return MetricsSnapshot(rooms=len(self._rooms), participants=participants, media=media)

    async def close(self) -> None:
        """Graceful shutdown: ``bye`` to every client, close every socket and media room."""
        self._closing = True
        connections = list(self._connections)
        for connection in connections:
            # 1001 "going away" (RFC 6455 section 7.4.1): the server is shutting down.
            connection.terminate(protocol.bye("shutdown"), 1001)
        rooms = list(self._rooms.values())
        self._rooms.clear()
        for room in rooms:
            room.closed = True
        if connections:
            waits = [asyncio.ensure_future(c.wait_closed()) for c in connections]
            _done, pending = await asyncio.wait(waits, timeout=SHUTDOWN_GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for room in rooms:
            await self._close_media(room)
        if self._tasks:
            # Sessions' endings (leave, close handshake) started before or during shutdown.
            _done, late = await asyncio.wait(list(self._tasks), timeout=SHUTDOWN_GRACE_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)


def _new_participant(
    connection: Connection, token: RoomToken, display_name: str, host: bool
) -> Participant:
    grants = token.grants
    return Participant(
        sid="PA_" + secrets.token_urlsafe(9),
        identity=token.identity,
        name=display_name,
        host=host,
        hidden=grants.hidden,
        can_subscribe=grants.can_subscribe,
        # A hidden participant (a recorder, an agent) must not appear anywhere, and a
        # published track would reveal it: it never publishes.
        allowed_sources=frozenset() if grants.hidden else grants.can_publish_sources,
        connection=connection,
    )


def _close_code(code: ErrorCode) -> int:
    close_code = SparkleError(code).spec.close_code
    assert close_code is not None, f"{code.value} has no WebSocket close code"
    return close_code
