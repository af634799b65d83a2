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
from typing import Any

from sfu.errors import MediaError
from sfu.events import PublishedTrack
from sfu.room import MediaRoom
from signaling import messages, protocol
from signaling.chat import RoomChat
from signaling.config import Config
from signaling.errors import ErrorCode, SparkleError
from signaling.floor import Floor
from signaling.lobby import Knock, Lobby
from signaling.messages import ParticipantInfo
from signaling.participant import Connection, Participant
from signaling.room_settings import RoomSettings, from_stored
from signaling.store import RoomRecord
from signaling.tokens import RoomToken

log = logging.getLogger(__name__)


class LiveRoom:
    """One meeting with people in it. Implements ``sfu.events.MediaEvents``."""

    def __init__(self, config: Config, record: RoomRecord) -> None:
        self.name = record.name
        self.sid = record.sid
        self.max_participants = record.max_participants
        self.lock = asyncio.Lock()
        self.closed = False
        self.participants: dict[str, Participant] = {}
        # Host settings (signaling/room_settings.py); the password's hash is kept beside them.
        settings = from_stored(
            record.settings, lobby=record.lobby, has_password=record.password_hash is not None
        )
        self.password_hash = record.password_hash
        # Waiting room (signaling/lobby.py): knocks are not participants until admitted.
        self.lobby = Lobby()
        self._drops: set[asyncio.Future[None]] = set()
        self._config = config
        # The last active_speaker announced: a newcomer is told it, since the media plane
        # only reports changes and the speaker may not change for a long time.
        self.active_speaker: str | None = None
        self.media = MediaRoom(config.sfu_settings(), events=self)
        # Who may speak and share, raised hands, host mutes (signaling/floor.py).
        self.floor = Floor(self)
        # The recording under way, as ``recording`` messages carry it (signaling/recording.py
        # keeps it current); newcomers get it in ``joined`` (the consent notice).
        self.recording: dict[str, Any] | None = None
        # Issue 5: the meeting under way (signaling/meetings.py) and its live transcription
        # as ``transcription`` messages carry it (signaling/transcription.py); newcomers get
        # the latter in ``joined``, so everyone knows captions are being made.
        self.meeting_id: str | None = None
        self.transcription: dict[str, Any] | None = None
        # Issue 6: auto-framing, participant sid -> its ``framing`` message's fields while not
        # off (signaling/framing.py keeps it); newcomers get the list in ``joined``. And the
        # camera track sids whose framed video subscribers now see (the SFU's stand_in_live).
        self.framing: dict[str, dict[str, Any]] = {}
        self.framed_live: set[str] = set()
        self.chat = RoomChat(config)
        self._settings = settings
        self.floor.apply_limits(settings)

    @property
    def settings(self) -> RoomSettings:
        return self._settings

    @settings.setter
    def settings(self, settings: RoomSettings) -> None:
        self._settings = settings
        self.floor.apply_limits(settings)

    @property
    def locked(self) -> bool:
        """Set by a host (signaling/moderation.py): only hosts may join meanwhile."""
        return self._settings.locked

    def info(self, participant: Participant) -> ParticipantInfo:
        return self.floor.info(participant)

    def may(self, participant: Participant, permission: str) -> bool:
        """Effective permission: ``speak``, ``screen_share`` or ``file_share``."""
        return self.floor.may(participant, permission)

    def receives_room_events(self, participant: Participant) -> bool:
        """False while held back by the room's require_camera (it gets nothing but its own)."""
        return not participant.held

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
                SparkleError(ErrorCode.REPLACED).to_ws(), close_code(ErrorCode.REPLACED)
            )
        # A lobby no larger than the room: a flood of knocks cannot grow without bound.
        if len(self.lobby) >= self.max_participants:
            raise SparkleError(ErrorCode.ROOM_FULL)
        participant = _new_participant(connection, token, display_name, host=False)
        self.lobby.add(Knock(participant, request_id))
        connection.send(messages.lobby_waiting(self.name, request_id))
        self.tell_hosts(messages.lobby_knock(self.info(participant)))
        return participant

    def withdraw(self, participant: Participant, reason: str) -> bool:
        """Take a waiting participant out of the lobby (hosts get ``lobby_left``)."""
        if self.lobby.discard(participant) is None:
            return False
        self.tell_hosts(messages.lobby_left(participant.sid, reason))
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
            self.tell_hosts(messages.lobby_left(participant.sid, exc.code.value))
            participant.connection.terminate(exc.to_ws(), exc.spec.close_code or 1011)
            return False
        except Exception:
            log.exception("room %s: admitting %s failed", self.name, participant.sid)
            self.tell_hosts(messages.lobby_left(participant.sid, "error"))
            failure = SparkleError(ErrorCode.INTERNAL_ERROR, "could not admit you")
            participant.connection.terminate(failure.to_ws(), 1011)
            return False
        self.tell_hosts(messages.lobby_left(participant.sid, "admitted"))
        return True

    def tell_hosts(self, message: dict[str, Any]) -> None:
        for participant in list(self.participants.values()):
            if participant.host:
                participant.send(message)

    def lobby_message(self) -> dict[str, Any]:
        return messages.lobby([self.info(knock.participant) for knock in self.lobby.knocks()])

    def settings_wire(self) -> dict[str, Any]:
        return self._settings.to_wire(self.name, self.sid)

    def settings_message(self) -> dict[str, Any]:
        return messages.room_updated(self.settings_wire())

    def visible(self, *, exclude: Participant | None = None) -> list[Participant]:
        """Participants the others see: not hidden, not held back by require_camera."""
        return [
            p
            for p in self.participants.values()
            if not p.hidden and not p.held and p is not exclude
        ]

    def tracks_for(self, viewer: Participant) -> list[dict[str, Any]]:
        return [
            messages.track_info(track, self._is_muted(track))
            for track in self.media.published_tracks()
            if self._announced(track.peer_id) and track.peer_id != viewer.sid
        ]

    def _announced(self, peer_id: str) -> bool:
        owner = self.participants.get(peer_id)
        return owner is not None and not owner.held

    async def _seat(self, participant: Participant, request_id: protocol.RequestId | None) -> None:
        previous = self.by_identity(participant.identity)
        if previous is not None:
            # Exactly one live session per identity: the newest wins (LiveKit does the same),
            # so a user who reopens a tab is not locked out by a ghost.
            await self.remove(previous, "replaced")
            previous.connection.terminate(
                SparkleError(ErrorCode.REPLACED).to_ws(), close_code(ErrorCode.REPLACED)
            )
        if not participant.hidden and self.participant_count >= self.max_participants:
            raise SparkleError(ErrorCode.ROOM_FULL)
        settings = self._settings
        # require_camera: held back, seeing and seen by nobody, until its camera publishes.
        participant.held = (
            settings.require_camera and not participant.host and not participant.hidden
        )
        self.floor.on_entry(participant)
        others = [] if participant.held else self.visible()
        tracks = [] if participant.held else self.tracks_for(participant)
        self.participants[participant.sid] = participant
        try:
            await self.media.add_peer(
                participant.sid,
                allowed_sources=self.floor.media_sources(participant),
                subscribe=participant.can_subscribe and not participant.held,
            )
            if participant.framer:
                # A framing worker receives only the cameras it is told to frame
                # (signaling/framing.py sets them once it has joined).
                self.media.set_subscription(participant.sid, frozenset())
        except BaseException:
            del self.participants[participant.sid]
            raise
        participant.release(
            messages.joined(
                room=self.settings_wire(),
                participant=self.info(participant),
                participants=[self.info(p) for p in others],
                tracks=tracks,
                ice_servers=self._config.sfu_settings().ice_servers,
                max_message_bytes=self._config.max_message_bytes,
                messages_per_second=self._config.messages_per_second,
                camera_required=participant.held,
                recording=self.recording,
                transcription=self.transcription,
                framing=list(self.framing.values()),
                request_id=request_id,
            )
        )
        self.floor.after_entry(participant)
        if participant.held:
            return
        self._announce_arrival(participant)

    def _announce_arrival(self, participant: Participant) -> None:
        if self.active_speaker is not None and self._announced(self.active_speaker):
            participant.send(messages.active_speaker(self.active_speaker))
        if not participant.hidden:
            self.broadcast(messages.participant_joined(self.info(participant)), exclude=participant)
        if participant.host and (self._settings.lobby or len(self.lobby)):
            participant.send(self.lobby_message())

    def release_held(self, participant: Participant) -> None:
        """require_camera: its camera is on, so it enters: ``camera_accepted`` with the room,
        the others ``participant_joined`` and its tracks, and its receive side starts."""
        if not participant.held or self.participants.get(participant.sid) is not participant:
            return
        participant.held = False
        participant.send(
            messages.camera_accepted(
                [self.info(p) for p in self.visible(exclude=participant)],
                self.tracks_for(participant),
            )
        )
        self._announce_arrival(participant)
        for track in self.media.published_tracks():
            if track.peer_id == participant.sid:
                self.broadcast(
                    messages.track_published(track, self._is_muted(track)), exclude=participant
                )
        try:
            self.media.set_subscribe(participant.sid, participant.can_subscribe)
            self.media.set_allowed_sources(participant.sid, self.floor.media_sources(participant))
        except MediaError as exc:
            log.debug("room %s: releasing %s: %s", self.name, participant.sid, exc)

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
        self.chat.forget(participant.sid)
        if not participant.hidden and not participant.held:
            self.broadcast(messages.participant_left(participant.sid, reason))

    async def close_media(self) -> None:
        """Close the media room once pending removals are done; never raises."""
        if self._drops:
            await asyncio.gather(*self._drops, return_exceptions=True)
        try:
            await self.media.close()
        except Exception:
            log.exception("room %s: closing its media room failed", self.name)

    def set_muted(self, participant: Participant, source: str, muted: bool) -> None:
        """Mute or unmute ``participant``'s tracks of ``source`` in the media plane (a muted
        track is not forwarded, whatever its client keeps sending) and tell the others."""
        if muted:
            participant.muted_sources.add(source)
        else:
            participant.muted_sources.discard(source)
        try:
            self.media.set_muted(participant.sid, source, muted)
        except MediaError as exc:
            log.debug("room %s: set_muted %s: %s", self.name, participant.sid, exc)
        if participant.held:
            if source == "camera" and not muted and self._publishes(participant, "camera"):
                self.release_held(participant)
            return
        for track in self.media.published_tracks():
            if track.peer_id == participant.sid and track.source == source:
                self.broadcast(messages.track_muted(track, muted), exclude=participant)
        if source == "camera" and muted:
            self._camera_went_off(participant)

    def _publishes(self, participant: Participant, source: str) -> bool:
        return any(
            t.peer_id == participant.sid and t.source == source
            for t in self.media.published_tracks()
        )

    def _camera_went_off(self, participant: Participant) -> None:
        if self._settings.require_camera and not participant.host and not participant.hidden:
            self.tell_hosts(messages.camera_off(participant.sid))

    def broadcast(self, message: dict[str, Any], *, exclude: Participant | None = None) -> None:
        """To everyone in the room but ``exclude`` and those held back by require_camera."""
        for participant in list(self.participants.values()):
            if participant is not exclude and not participant.held:
                participant.send(message)

    def _is_muted(self, track: PublishedTrack) -> bool:
        owner = self.participants.get(track.peer_id)
        return owner is not None and track.source in owner.muted_sources

    def _visible_publisher(self, peer_id: str) -> Participant | None:
        owner = self.participants.get(peer_id)
        return None if owner is None or owner.hidden or owner.held else owner

    # --- sfu.events.MediaEvents ----------------------------------------------------------

    def track_published(self, track: PublishedTrack) -> None:
        owner = self.participants.get(track.peer_id)
        if owner is None or owner.hidden:
            return
        if track.source in owner.muted_sources:
            # Muted before the track existed: the media plane must hold it back too.
            try:
                self.media.set_muted(owner.sid, track.source, True)
            except MediaError as exc:
                log.debug("room %s: set_muted %s: %s", self.name, owner.sid, exc)
        if owner.held:
            if track.source == "camera" and track.source not in owner.muted_sources:
                # Deferred one loop turn: the media plane is still announcing this track.
                asyncio.get_running_loop().call_soon(self.release_held, owner)
            return
        self.broadcast(messages.track_published(track, self._is_muted(track)), exclude=owner)

    def track_unpublished(self, track: PublishedTrack) -> None:
        owner = self.participants.get(track.peer_id)
        if owner is not None and (owner.hidden or owner.held):
            return
        # The owner may already be gone (remove() runs remove_peer after dropping it):
        # the others must still learn the track is over.
        self.broadcast(messages.track_unpublished(track), exclude=owner)
        if owner is not None and track.source == "camera":
            self._camera_went_off(owner)

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
            owner.send(messages.renegotiate(audio_slots, video_slots))

    def active_speaker_changed(self, peer_id: str | None) -> None:
        speaker = None if peer_id is None else self._visible_publisher(peer_id)
        self.active_speaker = None if speaker is None else speaker.sid
        self.broadcast(messages.active_speaker(self.active_speaker))

    def stand_in_live(self, track: PublishedTrack) -> None:
        # Picked up by signaling/framing.py's watcher, which tells everyone framing is on.
        self.framed_live.add(track.sid)

    def peer_state_changed(self, peer_id: str, state: str) -> None:
        log.debug("room %s: peer %s is %s", self.name, peer_id, state)


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
        transcriber=grants.transcriber and grants.hidden,
        framer=grants.framer and grants.hidden,
    )


def close_code(code: ErrorCode) -> int:
    close_code = SparkleError(code).spec.close_code
    assert close_code is not None, f"{code.value} has no WebSocket close code"
    return close_code
