"""The ``recordings`` table (issue 4): one row per recording, written by
signaling/recording.py; the files themselves live in ``recordings_dir``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signaling.store import Store

ACTIVE_STATES = ("recording", "paused")
_COLUMNS = "id, room, state, started_at, ended_at, started_by, folder, bytes, error"


@dataclass(frozen=True)
class RecordingRecord:
    id: str
    room: str
    state: str  # recording | paused | stopped | failed
    started_at: float
    ended_at: float | None
    started_by: str  # the host's identity, or "auto" (the room's auto_record)
    folder: str
    bytes: int
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "room": self.room,
            "state": self.state,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "started_by": self.started_by,
            "bytes": self.bytes,
            "error": self.error,
        }


class RecordingStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, record: RecordingRecord) -> None:
        self._store.write(
            f"INSERT INTO recordings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.room,
                record.state,
                record.started_at,
                record.ended_at,
                record.started_by,
                record.folder,
                record.bytes,
                record.error,
            ),
        )

    def set_state(self, recording_id: str, state: str) -> None:
        self._store.write("UPDATE recordings SET state = ? WHERE id = ?", (state, recording_id))

    def finish(
        self, recording_id: str, *, state: str, ended_at: float, size: int, error: str | None
    ) -> None:
        self._store.write(
            "UPDATE recordings SET state = ?, ended_at = ?, bytes = ?, error = ? WHERE id = ?",
            (state, ended_at, size, error, recording_id),
        )

    def get(self, recording_id: str) -> RecordingRecord | None:
        rows = self._store.query(f"SELECT {_COLUMNS} FROM recordings WHERE id = ?", (recording_id,))
        return _record(rows[0]) if rows else None

    def for_room(self, room: str) -> list[RecordingRecord]:
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM recordings WHERE room = ? ORDER BY started_at", (room,)
        )
        return [_record(row) for row in rows]

    def active(self) -> list[RecordingRecord]:
        marks = ", ".join("?" for _ in ACTIVE_STATES)
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM recordings WHERE state IN ({marks})", ACTIVE_STATES
        )
        return [_record(row) for row in rows]

    def older_than(self, started_before: float) -> list[RecordingRecord]:
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM recordings WHERE started_at < ? ORDER BY started_at",
            (started_before,),
        )
        return [_record(row) for row in rows]

    def delete(self, recording_id: str) -> bool:
        return self._store.write("DELETE FROM recordings WHERE id = ?", (recording_id,)) > 0


def _record(row: tuple[Any, ...]) -> RecordingRecord:
    rid, room, state, started_at, ended_at, started_by, folder, size, error = row
    return RecordingRecord(
        id=str(rid),
        room=str(room),
        state=str(state),
        started_at=float(started_at),
        ended_at=None if ended_at is None else float(ended_at),
        started_by=str(started_by),
        folder=str(folder),
        bytes=int(size),
        error=None if error is None else str(error),
    )
