"""The ``meetings`` and ``meeting_participants`` tables (issue 5).

A meeting is one stretch of a room with people in it: it starts when the first visible
participant arrives and ends when the last one leaves (signaling/meetings.py). Transcripts,
action items and the access a participant has to them hang off the meeting; who attended is
kept so a participant's own room token can open the summary afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signaling.store import Store

_COLUMNS = "id, room, started_at, ended_at, time_zone, actions_state"
# What ``actions_state`` says: none (never transcribed), pending (transcription under way or
# its action items being made), ready.
ACTIONS_STATES = ("none", "pending", "ready")


@dataclass(frozen=True)
class MeetingRecord:
    id: str
    room: str
    started_at: float
    ended_at: float | None
    time_zone: str  # IANA name the due dates were resolved in
    actions_state: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "room": self.room,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "time_zone": self.time_zone,
            "action_items": self.actions_state,
        }


class MeetingStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, record: MeetingRecord) -> None:
        self._store.write(
            f"INSERT INTO meetings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.room,
                record.started_at,
                record.ended_at,
                record.time_zone,
                record.actions_state,
            ),
        )

    def end(self, meeting_id: str, ended_at: float) -> None:
        self._store.write(
            "UPDATE meetings SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
            (ended_at, meeting_id),
        )

    def end_all_open(self, ended_at: float) -> int:
        """At startup: meetings a previous process left open (it crashed) are over."""
        return self._store.write(
            "UPDATE meetings SET ended_at = ? WHERE ended_at IS NULL", (ended_at,)
        )

    def set_actions_state(self, meeting_id: str, state: str) -> None:
        assert state in ACTIONS_STATES
        self._store.write("UPDATE meetings SET actions_state = ? WHERE id = ?", (state, meeting_id))

    def set_time_zone(self, meeting_id: str, time_zone: str) -> None:
        self._store.write("UPDATE meetings SET time_zone = ? WHERE id = ?", (time_zone, meeting_id))

    def get(self, meeting_id: str) -> MeetingRecord | None:
        rows = self._store.query(f"SELECT {_COLUMNS} FROM meetings WHERE id = ?", (meeting_id,))
        return _record(rows[0]) if rows else None

    def for_room(self, room: str) -> list[MeetingRecord]:
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM meetings WHERE room = ? ORDER BY started_at DESC", (room,)
        )
        return [_record(row) for row in rows]

    def attended_by(self, identity: str, room: str | None = None) -> list[MeetingRecord]:
        """Meetings ``identity`` was in (of ``room`` only, when given), newest first."""
        sql = (
            f"SELECT {', '.join('m.' + c.strip() for c in _COLUMNS.split(','))} FROM meetings m "
            "JOIN meeting_participants p ON p.meeting_id = m.id WHERE p.identity = ?"
        )
        params: tuple[Any, ...] = (identity,)
        if room is not None:
            sql += " AND m.room = ?"
            params += (room,)
        rows = self._store.query(sql + " ORDER BY m.started_at DESC", params)
        return [_record(row) for row in rows]

    def all(self) -> list[MeetingRecord]:
        rows = self._store.query(f"SELECT {_COLUMNS} FROM meetings ORDER BY started_at DESC")
        return [_record(row) for row in rows]

    def older_than(self, started_before: float) -> list[MeetingRecord]:
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM meetings WHERE started_at < ? AND ended_at IS NOT NULL",
            (started_before,),
        )
        return [_record(row) for row in rows]

    def attend(self, meeting_id: str, identity: str, name: str, at: float) -> None:
        """Note that ``identity`` was in the meeting (its latest display name wins)."""
        self._store.write(
            "INSERT INTO meeting_participants (meeting_id, identity, name, joined_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (meeting_id, identity) DO UPDATE SET name = ?",
            (meeting_id, identity, name, at, name),
        )

    def attended(self, meeting_id: str, identity: str) -> bool:
        rows = self._store.query(
            "SELECT 1 FROM meeting_participants WHERE meeting_id = ? AND identity = ?",
            (meeting_id, identity),
        )
        return bool(rows)

    def participants(self, meeting_id: str) -> list[tuple[str, str]]:
        """(identity, name) of everyone who attended, in order of arrival."""
        rows = self._store.query(
            "SELECT identity, name FROM meeting_participants WHERE meeting_id = ? "
            "ORDER BY joined_at",
            (meeting_id,),
        )
        return [(str(identity), str(name)) for identity, name in rows]

    def delete(self, meeting_id: str) -> bool:
        """The meeting with its attendees, transcript and action items, in one transaction:
        nothing of it is left half-deleted (its recordings are the caller's)."""
        counts = self._store.write_many(
            [
                ("DELETE FROM action_items WHERE meeting_id = ?", (meeting_id,)),
                ("DELETE FROM transcript_segments WHERE meeting_id = ?", (meeting_id,)),
                ("DELETE FROM meeting_participants WHERE meeting_id = ?", (meeting_id,)),
                ("DELETE FROM meetings WHERE id = ?", (meeting_id,)),
            ]
        )
        return counts[-1] > 0


def _record(row: tuple[Any, ...]) -> MeetingRecord:
    mid, room, started_at, ended_at, time_zone, actions_state = row
    return MeetingRecord(
        id=str(mid),
        room=str(room),
        started_at=float(started_at),
        ended_at=None if ended_at is None else float(ended_at),
        time_zone=str(time_zone),
        actions_state=str(actions_state),
    )
