"""A room's host settings (issue 3): who gets in, who may speak, who may share.

Stored with the room (``rooms.settings`` as JSON, ``rooms.lobby`` and ``rooms.password_hash``
in their own columns), so the next meeting in the same room starts with them; ``locked`` is
the one setting that only lasts as long as the live meeting, like Jitsi's and Zoom's lock.

Defaults follow what users of Zoom and Jitsi expect (../shared/notes/anchors.md): a name is
required, participants may unmute themselves, and only hosts share screens and files until a
host allows more (Zoom's "only host can share" default; Jitsi has no such control and its
users ask for it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from typing import Any

from signaling.commands import (
    AUDIENCE_SETTINGS,
    BOOL_SETTINGS,
    MAX_SCREEN_SHARES,
    PLAIN_SETTINGS,
    SettingsChange,
    ShareAudience,
    is_time_zone,
)

log = logging.getLogger(__name__)

# Settings not in the ``rooms.settings`` JSON: the lobby and the password hash have columns
# of their own, and the lock only lasts as long as the live meeting.
_KEPT_ELSEWHERE = ("lobby", "locked", "has_password")


@dataclass(frozen=True)
class RoomSettings:
    lobby: bool = False
    locked: bool = False
    has_password: bool = False
    password_skips_lobby: bool = True
    mute_on_entry: bool = False
    self_unmute: bool = True
    require_name: bool = True
    require_camera: bool = False
    # Issue 4: start recording when the first participant arrives (signaling/recording.py).
    auto_record: bool = False
    # Issue 5: start live transcription when the meeting starts (signaling/transcription.py),
    # and the meeting's IANA time zone for due dates ("by Friday"); "" = default_time_zone.
    auto_transcribe: bool = False
    time_zone: str = ""
    screen_share: ShareAudience = "hosts"
    file_share: ShareAudience = "hosts"
    max_screen_shares: int = 1

    def changed(self, change: SettingsChange) -> RoomSettings:
        """These settings with ``change`` applied (the password itself is the caller's)."""
        values: dict[str, Any] = {}
        for name in PLAIN_SETTINGS:
            value = getattr(change, name)
            if value is not None:
                values[name] = value
        if change.password is not None:
            values["has_password"] = True
        elif change.clear_password:
            values["has_password"] = False
        return replace(self, **values)

    def to_wire(self, name: str, sid: str) -> dict[str, Any]:
        """Every setting; ``password`` says whether one is set, never what it is."""
        data = asdict(self)
        data["password"] = data.pop("has_password")
        return {"name": name, "sid": sid, **data}

    def stored_json(self) -> str:
        """The settings kept in ``rooms.settings``."""
        data = asdict(self)
        for name in _KEPT_ELSEWHERE:
            del data[name]
        return json.dumps(data, sort_keys=True)


def from_stored(text: str, *, lobby: bool, has_password: bool) -> RoomSettings:
    """Settings from the store; a value that is missing or not valid keeps its default, so an
    old or hand-edited row never stops a meeting from starting (it is logged)."""
    defaults = RoomSettings(lobby=lobby, has_password=has_password)
    try:
        data = json.loads(text)
    except ValueError:
        log.warning("room settings are not JSON; using defaults")
        return defaults
    if not isinstance(data, dict):
        return defaults
    values: dict[str, Any] = {}
    for name in BOOL_SETTINGS:
        if name not in _KEPT_ELSEWHERE and isinstance(data.get(name), bool):
            values[name] = data[name]
    for name in AUDIENCE_SETTINGS:
        if data.get(name) in ("hosts", "everyone"):
            values[name] = data[name]
    count = data.get("max_screen_shares")
    if isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= MAX_SCREEN_SHARES:
        values["max_screen_shares"] = count
    zone = data.get("time_zone")
    if isinstance(zone, str) and (zone == "" or is_time_zone(zone)):
        values["time_zone"] = zone
    return replace(defaults, **values)
