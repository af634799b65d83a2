"""Floor control (issue 3): who may speak and share, raised hands, and host mutes.

The name is BFCP's (RFC 4582): the floor is the right to send media to the room. Every rule
is applied in the media plane, not only announced: a microphone a host muted is muted in the
SFU (its packets are dropped however long a modified client keeps sending), and a screen
share without permission is never published (``MediaRoom.set_allowed_sources``), so hiding
a button is never the only thing that stands between a client and the room.

Effective permissions: hosts have all of them; otherwise ``speak`` comes from the room's
``self_unmute`` or a host's grant, ``screen_share`` and ``file_share`` from the room's
policy ("everyone") or a grant. A grant lasts as long as the participant's session.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING

from sfu.errors import MediaError
from signaling import messages
from signaling.messages import ParticipantInfo
from signaling.participant import Participant
from signaling.room_settings import RoomSettings

if TYPE_CHECKING:
    from signaling.rooms import LiveRoom

log = logging.getLogger(__name__)

SCREEN_SOURCES = ("screen_share", "screen_share_audio")


class Floor:
    def __init__(self, room: LiveRoom) -> None:
        self._room = room
        # Hand tickets only grow, so the queue order survives lowering and raising again.
        self._tickets = itertools.count(1)

    # --- permissions ----------------------------------------------------------------------

    def may(self, participant: Participant, permission: str) -> bool:
        if participant.host:
            return True
        settings = self._room.settings
        if permission == "speak":
            return settings.self_unmute or "speak" in participant.grants
        if permission == "screen_share":
            return settings.screen_share == "everyone" or permission in participant.grants
        if permission == "file_share":
            return settings.file_share == "everyone" or permission in participant.grants
        return False

    def info(self, participant: Participant) -> ParticipantInfo:
        return ParticipantInfo(
            sid=participant.sid,
            identity=participant.identity,
            name=participant.name,
            host=participant.host,
            hand=participant.hand,
            speak=self.may(participant, "speak"),
            screen_share=self.may(participant, "screen_share"),
            file_share=self.may(participant, "file_share"),
        )

    def media_sources(self, participant: Participant) -> frozenset[str]:
        """The sources the media plane may publish for ``participant``: its token's, less
        screen sharing without permission; only the camera while require_camera holds it."""
        sources = participant.allowed_sources
        if participant.held:
            return sources & {"camera"}
        if not self.may(participant, "screen_share"):
            sources = sources - set(SCREEN_SOURCES)
        return sources

    def refresh_media(self, participant: Participant) -> None:
        """Apply ``media_sources`` now: a revoked screen share stops at once."""
        try:
            self._room.media.set_allowed_sources(participant.sid, self.media_sources(participant))
        except MediaError as exc:
            log.debug("room %s: sources of %s: %s", self._room.name, participant.sid, exc)

    def apply_limits(self, settings: RoomSettings) -> None:
        for source in SCREEN_SOURCES:
            self._room.media.set_source_limit(source, settings.max_screen_shares)

    def announce(self, participant: Participant) -> None:
        """Everyone learns ``participant``'s new role, hand or permissions."""
        if not participant.hidden:
            message = messages.participant_updated(self.info(participant))
            if participant.held:
                participant.send(message)
            else:
                self._room.broadcast(message)

    def settings_changed(self, before: RoomSettings) -> None:
        """After ``update_room``: permissions that follow room policy changed for many."""
        after = self._room.settings
        policy = ("self_unmute", "screen_share", "file_share")
        if all(getattr(before, name) == getattr(after, name) for name in policy):
            return
        for participant in list(self._room.participants.values()):
            if participant.host or participant.hidden:
                continue
            if before.screen_share != after.screen_share:
                self.refresh_media(participant)
            self.announce(participant)

    # --- entering -------------------------------------------------------------------------

    def on_entry(self, participant: Participant) -> None:
        """Before ``joined``: the room's mute-on-entry applies to newcomers but hosts."""
        if self._room.settings.mute_on_entry and not participant.host and not participant.hidden:
            participant.muted_sources.add("microphone")

    def after_entry(self, participant: Participant) -> None:
        """After ``joined``: tell a newcomer muted on entry, so its client mutes too."""
        if "microphone" in participant.muted_sources and self._room.settings.mute_on_entry:
            participant.send(messages.muted_by_host("microphone", None))

    # --- host actions ---------------------------------------------------------------------

    def host_mute(self, actor: Participant, target: Participant, source: str) -> None:
        """Mute ``target``'s ``source`` in the media plane; without self-unmute, its right to
        speak goes too, until a host grants it again (``ask_unmute``)."""
        self._room.set_muted(target, source, True)
        revoke = source == "microphone" and not self._room.settings.self_unmute
        if revoke and "speak" in target.grants:
            target.grants.discard("speak")
            self.announce(target)
        target.send(messages.muted_by_host(source, self.info(actor)))

    def set_hand(self, participant: Participant, raised: bool) -> None:
        if raised == (participant.hand is not None):
            return
        participant.hand = next(self._tickets) if raised else None
        self.announce(participant)

    def ask_unmute(self, actor: Participant, target: Participant) -> None:
        if not self.may(target, "speak"):
            target.grants.add("speak")
        target.hand = None
        self.announce(target)
        target.send(messages.unmute_requested(self.info(actor)))

    def set_permission(
        self, actor: Participant, target: Participant, permission: str, allowed: bool
    ) -> None:
        if allowed:
            target.grants.add(permission)
        else:
            target.grants.discard(permission)
        if permission == "speak" and not self.may(target, "speak"):
            self.host_mute(actor, target, "microphone")
        if permission == "screen_share":
            sharing = self._sharing(target)
            self.refresh_media(target)
            if sharing and not self.may(target, "screen_share"):
                target.send(messages.share_stopped(self.info(actor)))
        self.announce(target)

    def stop_share(self, actor: Participant, target: Participant) -> bool:
        stopped = False
        for source in SCREEN_SOURCES:
            try:
                stopped = self._room.media.stop_source(target.sid, source) or stopped
            except MediaError as exc:
                log.debug("room %s: stop_share %s: %s", self._room.name, target.sid, exc)
        target.send(messages.share_stopped(self.info(actor)))
        return stopped

    def _sharing(self, participant: Participant) -> bool:
        return any(
            t.peer_id == participant.sid and t.source in SCREEN_SOURCES
            for t in self._room.media.published_tracks()
        )
