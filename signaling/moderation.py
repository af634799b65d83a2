"""Host commands: promote/demote, remove and ban, lock the room, end the meeting, and the
waiting room: turn it on or off, admit or deny one or all waiting participants.

Everything is decided here, on the server: a client's idea of who is host is never trusted.
A host is a participant whose token has ``room_admin`` or whom a host promoted; promotions,
demotions and bans are stored per room and identity (``signaling.store``), so a reconnect
with the same token gets the same role and a banned identity stays out. Every action is
written to the room's audit log, readable at ``GET /api/v1/rooms/{name}/audit``.

Commands run under the room's lock, like joins and leaves, so a ban or a lock and a join on
its way are decided in one order (``RoomRegistry.join`` checks both under the same lock).
"""

from __future__ import annotations

import logging
from typing import Any

from signaling import protocol
from signaling.errors import ErrorCode, SparkleError
from signaling.lobby import Knock
from signaling.participant import Participant
from signaling.protocol import (
    Admit,
    AdmitAll,
    BadMessage,
    EndMeeting,
    HostCommand,
    LockRoom,
    MessageError,
    RemoveParticipant,
    SetHost,
    SetLobby,
    Unban,
)
from signaling.rooms import LiveRoom, RoomRegistry

log = logging.getLogger(__name__)


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
        if isinstance(command, SetHost):
            _set_host(registry, room, actor, command)
        elif isinstance(command, RemoveParticipant):
            await _remove(registry, room, actor, command)
        elif isinstance(command, Unban):
            lifted = registry.store.unban(room.name, command.identity)
            _audit(registry, room, actor, "unban", command.identity, {"was_banned": lifted})
        elif isinstance(command, LockRoom):
            room.locked = command.locked
            room.broadcast(room.settings_message())
            action = "lock" if command.locked else "unlock"
            _audit(registry, room, actor, action, None, {})
        elif isinstance(command, SetLobby):
            await _set_lobby(registry, room, actor, command)
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
    room.broadcast(protocol.participant_updated(target.info()))
    if command.host and (room.lobby.enabled or len(room.lobby)):
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
    details = {"ban": command.ban, "participant_sid": target.sid}
    _audit(registry, room, actor, "remove", target.identity, details)


async def _set_lobby(
    registry: RoomRegistry, room: LiveRoom, actor: Participant, command: SetLobby
) -> None:
    room.lobby.enabled = command.enabled
    # Stored with the room, so the next meeting in it starts with the same setting.
    registry.store.set_lobby(room.name, command.enabled)
    room.broadcast(room.settings_message())
    _audit(registry, room, actor, "lobby_on" if command.enabled else "lobby_off", None, {})
    if not command.enabled:
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
