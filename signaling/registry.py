"""All live rooms of this process: joining one (with its bans, lock, password and lobby),
leaving it, and closing everything on shutdown.

A room being torn down (the last one left) is replaced by a fresh one on the next join; the
store keeps the room itself, so a meeting link keeps working between meetings.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from sfu.counters import MediaCounters
from signaling import messages, protocol
from signaling.admission import Admission
from signaling.api_keys import ApiKeys
from signaling.config import Config
from signaling.errors import ErrorCode, SparkleError
from signaling.framing import FramingService
from signaling.meetings import MeetingService
from signaling.metrics import Metrics, MetricsSnapshot
from signaling.participant import Connection, Participant
from signaling.recording import RecordingService
from signaling.retention import Retention
from signaling.room_settings import from_stored
from signaling.rooms import LiveRoom, close_code
from signaling.store import Store
from signaling.tokens import RoomToken, TokenService
from signaling.transcription import TranscriptionService
from signaling.webhook_events import RoomEvents
from signaling.webhooks import WebhookService

log = logging.getLogger(__name__)

# How long close() waits for connections to say goodbye before giving up on them.
SHUTDOWN_GRACE_S = 5.0


class RoomRegistry:
    """All live rooms of this process."""

    def __init__(
        self,
        config: Config,
        store: Store,
        tokens: TokenService,
        metrics: Metrics,
        *,
        api_keys: ApiKeys | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.tokens = tokens
        self.metrics = metrics
        # Per-connection rate limiters read this clock; tests inject a fake one.
        self.clock = clock
        self._store = store
        self.admission = Admission(config, store)
        # Issue 7: webhooks; the app passes its ApiKeys (one cache: a key's new webhook_url
        # counts at once), a registry built alone makes its own.
        keys = api_keys or ApiKeys(store, config.api_key, config.api_secret)
        self.api_keys = keys
        self.webhooks = WebhookService(config, store, keys, metrics)
        self.events = RoomEvents(self.webhooks, store, config.public_url)
        self.recordings = RecordingService(
            config,
            store,
            tokens,
            metrics,
            self.live_room,
            self.admission.attempts,
            on_finished=self.events.recording_ready,
        )
        self.meetings = MeetingService(config, store, self.recordings)
        self.transcription = TranscriptionService(
            config, tokens, self.meetings, self.live_room, metrics, notify=self.events.meeting_done
        )
        self.framing = FramingService(config, tokens, self.live_room, metrics)
        # Meetings first: deleting one deletes the recordings made during it.
        self.retention = Retention(
            [("meeting", self.meetings.sweep), ("recording", self.recordings.sweep)]
        )
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
        *,
        password: str | None = None,
        address: str | None = None,
    ) -> tuple[LiveRoom, Participant]:
        """Admit a verified token's holder to the token's room (the only room it opens)."""
        # A room being torn down (last one left) is replaced by a fresh one: retry.
        while True:
            if self._closing:
                raise SparkleError(ErrorCode.ROOM_DELETED, "the server is shutting down")
            room = self._get_or_create(token.room, token.api_key or None)
            async with room.lock:
                if room.closed:
                    continue
                try:
                    # Decided under the room's lock, so a ban or a lock that a host is applying
                    # right now cannot be overtaken by a join already on its way.
                    host = self.is_host(token)
                    password_ok = await self.admission.check(
                        room=room.name,
                        locked=room.locked,
                        password_hash=room.password_hash,
                        token=token,
                        host=host,
                        password=password,
                        address=address,
                    )
                    skip = password_ok and room.settings.password_skips_lobby
                    # Hidden participants (recorders, agents) come with tokens only an API
                    # key holder can mint, and a knock would reveal them: they skip it.
                    if room.settings.lobby and not host and not token.grants.hidden and not skip:
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
                if not participant.hidden and room.participants.get(participant.sid):
                    await self.arrived(room, participant)
                elif participant.transcriber:
                    self.transcription.worker_joined(room, participant)
                elif participant.framer:
                    self.framing.worker_joined(room, participant)
                return room, participant

    def is_host(self, token: RoomToken) -> bool:
        """Whether the token's holder is a host of the token's room: a host's stored
        promotion or demotion of the identity overrides the token's room_admin grant."""
        override = self._store.host_override(token.room, token.identity)
        return token.grants.room_admin if override is None else override

    async def arrived(self, room: LiveRoom, participant: Participant) -> None:
        """A visible participant was seated (joined, or admitted from the lobby): it attends
        the room's meeting (the first one starts it), and the room's auto_record and
        auto_transcribe start what is not under way yet."""
        started = room.meeting_id is None
        self.meetings.attend(room, participant)
        self.events.arrived(room, participant, started=started)
        if room.settings.auto_record and self.recordings.current(room.name) is None:
            try:
                await self.recordings.start(room, None)
            except SparkleError as exc:
                log.warning("room %s: automatic recording did not start: %s", room.name, exc)
        if room.settings.auto_transcribe and self.transcription.current(room.name) is None:
            try:
                await self.transcription.start(room, None)
            except SparkleError as exc:
                log.warning("room %s: automatic transcription did not start: %s", room.name, exc)

    def _meeting_over(self, room: LiveRoom) -> None:
        """The last visible participant left (hidden workers may still be in): the meeting,
        its transcription and its recording end. The workers then leave, which empties the
        room; their leave needs the room's lock, so the waits run in tasks."""
        self._end_meeting(room, "empty")
        self.transcription.stop_later(room.name)
        if self.recordings.current(room.name) is not None:
            self.recordings.request_stop(room.name)
            self.spawn(self._await_recording(room.name))

    async def leave(
        self, room: LiveRoom, participant: Participant, reason: str, *, lobby_only: bool = False
    ) -> bool:
        """Take ``participant`` out of the room or its lobby (with ``lobby_only``, only out of
        the lobby); False if it was in neither."""
        async with room.lock:
            removed = room.withdraw(participant, reason)
            if not removed and not lobby_only:
                removed = await room.remove(participant, reason)
            if removed and participant.transcriber:
                self.transcription.worker_left(room.name)
            if removed and participant.framer:
                self.framing.worker_left(room.name)
            if removed:
                self.framing.participant_left(room, participant)
            if not participant.hidden:
                # Also when someone else took it out (removed by a host, replaced by a newer
                # session): its own leave comes later and finds it gone already.
                self.events.left(room, participant, reason)
            if removed and room.participant_count == 0 and not len(room.lobby):
                self._meeting_over(room)
            if not room.empty or room.closed:
                return removed
            # Last one out: forget the live room and free its media resources now; the store
            # still remembers the room itself, so the meeting link keeps working.
            room.closed = True
            if self._rooms.get(room.name) is room:
                del self._rooms[room.name]
        await self._close_media(room)
        return removed

    def _end_meeting(self, room: LiveRoom, reason: str) -> None:
        """The room's meeting ends (``meetings.end``) and its webhook events go out."""
        self.events.finished(room, self.meetings.end(room), reason)

    async def _await_recording(self, name: str) -> None:
        await self.recordings.stop(name)

    def _get_or_create(self, name: str, owner_key: str | None = None) -> LiveRoom:
        room = self._rooms.get(name)
        if room is not None:
            return room
        record = self._store.get_room(name)
        if record is None:
            if not self.config.auto_create_rooms:
                # Same answer as a locked room or a wrong password: no way to probe which
                # rooms exist (security checklist item 8).
                raise SparkleError(ErrorCode.INVALID_TOKEN)
            try:
                # The token's key owns the room it creates: its webhook gets the events.
                record = self._store.create_room(
                    name,
                    max_participants=self.config.max_participants,
                    created_by="api",
                    owner_key=owner_key,
                )
            except SparkleError as exc:
                if exc.code is not ErrorCode.CONFLICT:
                    raise
                record = self._store.get_room(name)
                if record is None:
                    raise SparkleError(ErrorCode.INVALID_TOKEN) from None
        room = LiveRoom(self.config, record)
        self._rooms[name] = room
        return room

    async def _close_media(self, room: LiveRoom) -> None:
        await room.close_media()
        ended = replace(room.media.counters, tracks_published=0, tracks_subscribed=0)
        self._retired.add(ended)

    async def close_room(self, name: str, *, ended: bool = False) -> None:
        """The room was deleted through the API (everyone gets room_deleted and is closed) or,
        with ``ended``, a host ended the meeting (everyone gets bye "ended", close 1000)."""
        # Everyone, the recorder included, learns the recording stopped before the bye
        # (while the room can still be found to tell them).
        self.recordings.request_stop(name)
        self.transcription.request_stop(name)
        room = self._rooms.pop(name, None)
        if room is None:
            await self.transcription.stop(name)
            return
        async with room.lock:
            room.closed = True
            participants = list(room.participants.values())
            participants += [knock.participant for knock in room.lobby.clear()]
            room.participants.clear()
        if ended:
            farewell, code = messages.bye("ended"), 1000
        else:
            farewell = SparkleError(ErrorCode.ROOM_DELETED).to_ws()
            code = close_code(ErrorCode.ROOM_DELETED)
        for participant in participants:
            participant.connection.terminate(farewell, code)
        self._end_meeting(room, "ended" if ended else "deleted")
        await self._close_media(room)
        await self.recordings.stop(name)  # its worker closes its files and exits
        await self.transcription.stop(name)  # the action items are made

    def requires_name(self, name: str) -> bool:
        """The room's require_name (a live room's current one, else the stored one)."""
        room = self._rooms.get(name)
        if room is not None:
            return room.settings.require_name
        record = self._store.get_room(name)
        if record is None:
            return True
        return from_stored(record.settings, lobby=False, has_password=False).require_name

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
            connection.terminate(messages.bye("shutdown"), 1001)
        rooms = list(self._rooms.values())
        self._rooms.clear()
        for room in rooms:
            room.closed = True
            self._end_meeting(room, "shutdown")
        if connections:
            waits = [asyncio.ensure_future(c.wait_closed()) for c in connections]
            _done, pending = await asyncio.wait(waits, timeout=SHUTDOWN_GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for room in rooms:
            await self._close_media(room)
        await self.recordings.close()
        await self.transcription.close()
        await self.framing.close()
        await self.retention.close()
        if self._tasks:
            # Sessions' endings (leave, close handshake) started before or during shutdown.
            _done, late = await asyncio.wait(list(self._tasks), timeout=SHUTDOWN_GRACE_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        # Last: the events of the endings above are stored; what is not delivered yet is
        # delivered by the next start.
        await self.webhooks.close()
