"""Host commands: promote/demote, remove and ban, room settings (lock, lobby, password,
mute and share policy), end the meeting, the waiting room (admit or deny one or all), and
the floor (mute one or everyone, hands, speak and share permissions, stop a share).

Everything is decided here, on the server: a client's idea of who is host is never trusted.
A host is a participant whose token has ``room_admin`` or whom a host promoted; promotions,
demotions and bans are stored per room and identity (``signaling.store``), so a reconnect
with the same token gets the same role and a banned identity stays out. Every action is
written to the room's audit log, readable at ``GET /api/v1/rooms/{name}/audit``.

Commands run under the room's lock, like joins and leaves, so a ban or a lock and a join on
its way are decided in one order (``RoomRegistry.join`` checks both under the same lock).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from signaling import protocol
from signaling.commands import (
    Admit,
    AdmitAll,
    AskUnmute,
    EndMeeting,
    HostCommand,
    LowerHand,
    MuteParticipant,
    RecordingControl,
    RemoveParticipant,
    SetFraming,
    SetHost,
    SetPermission,
    StopShare,
    TranscriptionControl,
    Unban,
    UpdateRoom,
    settings_as_dict,
)
from signaling.errors import ErrorCode, SparkleError
from signaling.fields import BadMessage, MessageError
from signaling.lobby import Knock
from signaling.participant import Participant
from signaling.password import hash_password
from signaling.registry import RoomRegistry
from signaling.rooms import LiveRoom

log = logging.getLogger(__name__)

SOURCE_CAMERA = "camera"


async def handle(
    registry: RoomRegistry, room: LiveRoom, actor: Participant, command: HostCommand
) -> None:
    """Carry out ``command`` for ``actor``; raises ``MessageError`` (forbidden, not_found,
    bad_message) with the command's id."""
    if isinstance(command, EndMeeting):
        async with room.lock:
            if not _present(room, actor):
                return
            _require_host(actor, command.id)
            _audit(registry, room, actor, "end_meeting", None, {})
        # Outside the lock: close_room takes it itself.
        log.info("room %s: %s ended the meeting", room.name, actor.identity)
        await registry.close_room(room.name, ended=True)
        return
    async with room.lock:
        if not _present(room, actor):
            return  # removed or replaced meanwhile: its command is moot
        _require_host(actor, command.id)
        await _dispatch(registry, room, actor, command)


async def _dispatch(
    registry: RoomRegistry, room: LiveRoom, actor: Participant, command: HostCommand
) -> None:
    floor = room.floor
    if isinstance(command, SetHost):
        _set_host(registry, room, actor, command)
    elif isinstance(command, RemoveParticipant):
        await _remove(registry, room, actor, command)
    elif isinstance(command, Unban):
        lifted = registry.store.unban(room.name, command.identity)
        _audit(registry, room, actor, "unban", command.identity, {"was_banned": lifted})
    elif isinstance(command, UpdateRoom):
        await _update_room(registry, room, actor, command)
    elif isinstance(command, Admit):
        knock = room.lobby.get(command.participant_sid)
        if knock is None:
            raise MessageError(
                ErrorCode.NOT_FOUND,
                f"nobody with sid {command.participant_sid!r} is waiting",
                command.id,
            )
        await _decide(registry, room, actor, [knock], admit=not command.deny)
    elif isinstance(command, AdmitAll):
        await _decide(registry, room, actor, room.lobby.knocks(), admit=not command.deny)
    elif isinstance(command, MuteParticipant):
        if command.participant_sid is None:
            targets = [p for p in room.participants.values() if not p.host and not p.hidden]
            for target in targets:
                floor.host_mute(actor, target, command.source)
            details = {"source": command.source, "count": len(targets)}
            _audit(registry, room, actor, "mute_all", None, details)
        else:
            target = _target(room, actor, command.participant_sid, command.id)
            floor.host_mute(actor, target, command.source)
            _audit(registry, room, actor, "mute", target.identity, {"source": command.source})
    elif isinstance(command, LowerHand):
        target = _target(room, actor, command.participant_sid, command.id)
        floor.set_hand(target, False)
        _audit(registry, room, actor, "lower_hand", target.identity, {})
    elif isinstance(command, AskUnmute):
        target = _target(room, actor, command.participant_sid, command.id)
        floor.ask_unmute(actor, target)
        _audit(registry, room, actor, "ask_unmute", target.identity, {})
    elif isinstance(command, SetPermission):
        target = _target(room, actor, command.participant_sid, command.id)
        floor.set_permission(actor, target, command.permission, command.allowed)
        action = "allow" if command.allowed else "revoke"
        details = {"permission": command.permission}
        _audit(registry, room, actor, action, target.identity, details)
    elif isinstance(command, RecordingControl):
        await _recording(registry, room, actor, command)
    elif isinstance(command, TranscriptionControl):
        await _transcription(registry, room, actor, command)
    elif isinstance(command, StopShare):
        target = _target(room, actor, command.participant_sid, command.id)
        stopped = floor.stop_share(actor, target)
        _audit(registry, room, actor, "stop_share", target.identity, {"was_sharing": stopped})


async def _recording(
    registry: RoomRegistry, room: LiveRoom, actor: Participant, command: RecordingControl
) -> None:
    recordings = registry.recordings
    try:
        if command.action == "start":
            by = {"sid": actor.sid, "name": actor.name, "identity": actor.identity}
            live = await recordings.start(room, by)
        elif command.action == "stop":
            current = recordings.current(room.name)
            if current is None or current.state not in ("recording", "paused"):
                raise SparkleError(ErrorCode.CONFLICT, "this meeting is not being recorded")
            recordings.request_stop(room.name)
            live = current
            # The worker's leave needs this room's lock, held here: wait outside it.
            registry.spawn(_finish_recording(registry, room.name))
        else:
            live = recordings.set_paused(room.name, command.action == "pause")
    except SparkleError as exc:
        raise MessageError(exc.code, exc.message, command.id) from None
    _audit(registry, room, actor, f"recording_{command.action}", None, {"recording": live.id})


async def _transcription(
    registry: RoomRegistry, room: LiveRoom, actor: Participant, command: TranscriptionControl
) -> None:
    service = registry.transcription
    try:
        if command.on:
            by = {"sid": actor.sid, "name": actor.name, "identity": actor.identity}
            job = await service.start(room, by)
        else:
            current = service.current(room.name)
            if current is None or current.state == "stopping":
                raise SparkleError(ErrorCode.CONFLICT, "transcription is not on")
            job = current
            # The worker's leave needs this room's lock, held here: wait outside it.
            service.stop_later(room.name)
    except SparkleError as exc:
        raise MessageError(exc.code, exc.message, command.id) from None
    action = "transcription_start" if command.on else "transcription_stop"
    _audit(registry, room, actor, action, None, {"meeting": job.meeting_id})


async def set_framing(
    registry: RoomRegistry, room: LiveRoom, actor: Participant, command: SetFraming
) -> None:
    """Auto-framing (issue 6): anyone for their own camera, hosts for anyone's (a room
    camera is often a participant of its own that nobody sits at)."""
    if actor.hidden:
        raise MessageError(ErrorCode.FORBIDDEN, request_id=command.id)
    sid = command.participant_sid
    if sid is None or sid == actor.sid:
        target = actor
    else:
        _require_host(actor, command.id)
        target = _target(room, actor, sid, command.id)
    if command.enabled and SOURCE_CAMERA not in target.allowed_sources:
        raise MessageError(
            ErrorCode.FORBIDDEN, "this participant may not publish a camera", command.id
        )
    was_on = target.sid in room.framing
    try:
        await registry.framing.set(room, actor, target, command.enabled)
    except SparkleError as exc:
        raise MessageError(exc.code, exc.message, command.id) from None
    if target is not actor and was_on != command.enabled:
        action = "framing_on" if command.enabled else "framing_off"
        _audit(registry, room, actor, action, target.identity, {})


async def _finish_recording(registry: RoomRegistry, name: str) -> None:
    await registry.recordings.stop(name)


def _present(room: LiveRoom, participant: Participant) -> bool:
    return not room.closed and room.participants.get(participant.sid) is participant


def _require_host(actor: Participant, request_id: protocol.RequestId | None) -> None:
    if not actor.host:
        raise MessageError(ErrorCode.FORBIDDEN, request_id=request_id)


def _target(
    room: LiveRoom, actor: Participant, sid: str, request_id: protocol.RequestId | None
) -> Participant:
    target = room.participants.get(sid)
    # A hidden participant is reported like an absent one: the answer must not reveal it.
    if target is None or target.hidden:
        raise MessageError(ErrorCode.NOT_FOUND, f"no participant {sid!r} in this room", request_id)
    if target is actor:
        raise BadMessage("a host command cannot target its sender", request_id)
    return target


def _set_host(registry: RoomRegistry, room: LiveRoom, actor: Participant, command: SetHost) -> None:
    target = _target(room, actor, command.participant_sid, command.id)
    registry.store.set_host(room.name, target.identity, command.host)
    target.host = command.host
    # A host has every permission; a demoted one only what the room's policy and its grants
    # give it (a screen share it may no longer make stops now).
    room.floor.refresh_media(target)
    room.floor.announce(target)
    if command.host and (room.settings.lobby or len(room.lobby)):
        target.send(room.lobby_message())  # a new host must see who is waiting
    _audit(registry, room, actor, "promote" if command.host else "demote", target.identity, {})


async def _remove(
    registry: RoomRegistry, room: LiveRoom, actor: Participant, command: RemoveParticipant
) -> None:
    target = _target(room, actor, command.participant_sid, command.id)
    if command.ban:
        # Stored before the removal, so no rejoin can slip in between.
        registry.store.ban(room.name, target.identity)
    removed = SparkleError(ErrorCode.REMOVED)
    close_code = removed.spec.close_code
    assert close_code is not None
    target.connection.terminate(removed.to_ws(), close_code)
    await room.remove(target, "removed")
    # Announced now with its reason; the target's own leave (its socket closing) finds it
    # announced already (signaling/webhook_events.py).
    registry.events.left(room, target, "removed")
    details = {"ban": command.ban, "participant_sid": target.sid}
    _audit(registry, room, actor, "remove", target.identity, details)


async def _update_room(
    registry: RoomRegistry, room: LiveRoom, actor: Participant, command: UpdateRoom
) -> None:
    change = command.settings
    before = room.settings
    if change.password is not None:
        # scrypt is slow on purpose: off the event loop.
        loop = asyncio.get_running_loop()
        password_hash: str | None = await loop.run_in_executor(None, hash_password, change.password)
    else:
        password_hash = None if change.clear_password else room.password_hash
    after = before.changed(change)
    # Stored with the room (all but the lock), so the next meeting in it starts the same.
    store = registry.store
    store.set_settings(room.name, after.stored_json())
    if after.lobby != before.lobby:
        store.set_lobby(room.name, after.lobby)
    if password_hash != room.password_hash:
        store.set_password_hash(room.name, password_hash)
        room.password_hash = password_hash
    room.settings = after
    room.broadcast(room.settings_message())
    room.floor.settings_changed(before)
    if after.locked != before.locked:
        _audit(registry, room, actor, "lock" if after.locked else "unlock", None, {})
    if after.lobby != before.lobby:
        _audit(registry, room, actor, "lobby_on" if after.lobby else "lobby_off", None, {})
    rest = {k: v for k, v in settings_as_dict(change).items() if k not in ("lobby", "locked")}
    if rest:
        _audit(registry, room, actor, "update_room", None, rest)
    if before.require_camera and not after.require_camera:
        # Nobody is held for a camera the room no longer asks for.
        for held in [p for p in room.participants.values() if p.held]:
            room.release_held(held)
    if not after.lobby and before.lobby:
        # Nobody may be left waiting for a door that no longer exists.
        await _decide(registry, room, actor, room.lobby.knocks(), admit=True)


async def _decide(
    registry: RoomRegistry, room: LiveRoom, actor: Participant, knocks: list[Knock], admit: bool
) -> None:
    """Let each of ``knocks`` in, or turn it away, in arrival order; one audit row each."""
    for knock in knocks:
        target = knock.participant
        if admit:
            seated = await room.let_in(knock)
            if seated:
                await registry.arrived(room, target)
            details = {"participant_sid": target.sid, "seated": seated}
            _audit(registry, room, actor, "admit", target.identity, details)
        elif room.withdraw(target, "denied"):
            denied = SparkleError(ErrorCode.LOBBY_DENIED)
            close_code = denied.spec.close_code
            assert close_code is not None
            target.connection.terminate(denied.to_ws(), close_code)
            _audit(registry, room, actor, "deny", target.identity, {"participant_sid": target.sid})


def _audit(
    registry: RoomRegistry,
    room: LiveRoom,
    actor: Participant,
    action: str,
    target_identity: str | None,
    details: dict[str, Any],
) -> None:
    log.info("room %s: %s %s %s", room.name, actor.identity, action, target_identity or "")
    registry.store.add_audit(
        room.name,
        actor_identity=actor.identity,
        actor_name=actor.name,
        action=action,
        target_identity=target_identity,
        details=details,
    )
