"""Who may enter a live room (issue 3): bans, the lock, the meeting password and its lockout.

Every refusal here is the same ``invalid_token``, whatever the cause (banned, locked room,
wrong password, locked out after too many wrong ones), so a joiner learns nothing it could
probe with (security checklist item 8). Only ``password_required`` differs: it is asked of a
holder of a valid token for this very room, which already proves the room exists.

Called by ``RoomRegistry.join`` under the room's lock, so a host's ban, lock or new password
and a join on its way are decided in one order.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from signaling.config import Config
from signaling.errors import ErrorCode, SparkleError
from signaling.password import PasswordAttempts, hash_password, verify_password
from signaling.store import Store
from signaling.tokens import RoomToken

log = logging.getLogger(__name__)


class Admission:
    def __init__(self, config: Config, store: Store) -> None:
        self._store = store
        self.attempts = PasswordAttempts(
            config.password_max_failures,
            config.password_failure_window_s,
            config.password_lockout_s,
        )
        # Checked against when a room has no password to check (signaling/api.py), so a
        # refusal costs the same time whatever its cause.
        self.stand_in_hash = hash_password(secrets.token_urlsafe(16))

    def keys(self, room: str, identity: str, address: str | None) -> list[str]:
        keys = [f"identity:{room}:{identity}"]
        if address:
            keys.append(f"address:{address}")
        return keys

    async def check(
        self,
        *,
        room: str,
        locked: bool,
        password_hash: str | None,
        token: RoomToken,
        host: bool,
        password: str | None,
        address: str | None,
    ) -> bool:
        """Raise ``invalid_token`` or ``password_required``; True if a right password was
        given (it may skip the lobby)."""
        if self._store.is_banned(room, token.identity):
            log.info("room %s: refused %s: banned", room, token.identity)
            raise SparkleError(ErrorCode.INVALID_TOKEN)
        if locked and not host and not token.grants.hidden:
            log.info("room %s: refused %s: locked", room, token.identity)
            raise SparkleError(ErrorCode.INVALID_TOKEN)
        if password_hash is None or host or token.grants.hidden:
            return False
        keys = self.keys(room, token.identity, address)
        if self.attempts.locked_out(keys):
            log.info("room %s: refused %s: locked out", room, token.identity)
            raise SparkleError(ErrorCode.INVALID_TOKEN)
        if password is None:
            raise SparkleError(ErrorCode.PASSWORD_REQUIRED)
        # scrypt takes tens of milliseconds: off the event loop, so media keeps flowing.
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, verify_password, password, password_hash):
            self.attempts.fail(keys)
            log.info("room %s: refused %s: wrong password", room, token.identity)
            raise SparkleError(ErrorCode.INVALID_TOKEN)
        return True
