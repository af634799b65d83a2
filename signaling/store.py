"""Rooms that were created on purpose (API or "New meeting"), kept in one SQLite file.

Calls are synchronous on purpose: the database is a local file, each statement touches one
row by its unique index and takes well under a millisecond, which is less than a thread hop
to an executor would cost. WAL mode lets readers proceed while a write commits
(https://sqlite.org/wal.html), and every write runs in its own explicit transaction
(``BEGIN IMMEDIATE`` ... ``COMMIT``, ``ROLLBACK`` on any error), so a crash never leaves half
a room behind.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signaling.errors import ErrorCode, SparkleError
from signaling.room_name import is_valid_room_name

# Bump and add a step to _MIGRATIONS when the schema changes; PRAGMA user_version records
# which steps a database file has already run (https://sqlite.org/pragma.html#pragma_user_version).
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE rooms (
        name TEXT PRIMARY KEY NOT NULL,
        sid TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        max_participants INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        created_by TEXT NOT NULL DEFAULT ''
    )
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True)
class RoomRecord:
    name: str
    sid: str
    created_at: float
    max_participants: int
    metadata: dict[str, Any]
    created_by: str  # "api" (an API key holder) or "meeting" (the home page's button)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sid": self.sid,
            "created_at": self.created_at,
            "max_participants": self.max_participants,
            "metadata": self.metadata,
            "created_by": self.created_by,
        }


class Store:
    """The rooms table. Open with ``Store(path)``; ``close()`` when done."""

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        # isolation_level=None: we issue BEGIN ourselves, so each write is exactly one
        # explicit transaction (the sqlite3 module's implicit ones are easy to get wrong).
        self._conn = sqlite3.connect(self._path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable on commit
        self._conn.execute("PRAGMA busy_timeout=2000")
        self._migrate()

    @property
    def path(self) -> Path:
        return self._path

    def _migrate(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self._path} has schema version {version}; this Sparkle knows "
                f"{SCHEMA_VERSION}. Upgrade Sparkle or use another data_dir."
            )
        for step in range(version, SCHEMA_VERSION):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(_MIGRATIONS[step])
                self._conn.execute(f"PRAGMA user_version = {step + 1}")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def create_room(
        self,
        name: str,
        *,
        max_participants: int,
        metadata: dict[str, Any] | None = None,
        created_by: str = "api",
    ) -> RoomRecord:
        if not is_valid_room_name(name):
            raise SparkleError(ErrorCode.BAD_MESSAGE, f"invalid room name {name!r}")
        record = RoomRecord(
            name=name,
            sid="RM_" + secrets.token_urlsafe(9),
            created_at=self._clock(),
            max_participants=max_participants,
            metadata=dict(metadata or {}),
            created_by=created_by,
        )
        try:
            self._write(
                "INSERT INTO rooms (name, sid, created_at, max_participants, metadata,"
                " created_by) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.name,
                    record.sid,
                    record.created_at,
                    record.max_participants,
                    json.dumps(record.metadata, separators=(",", ":")),
                    record.created_by,
                ),
            )
        except sqlite3.IntegrityError:
            raise SparkleError(ErrorCode.CONFLICT, f"room {name!r} already exists") from None
        return record

    def get_room(self, name: str) -> RoomRecord | None:
        row = self._conn.execute(
            "SELECT name, sid, created_at, max_participants, metadata, created_by"
            " FROM rooms WHERE name = ?",
            (name,),
        ).fetchone()
        return None if row is None else _record(row)

    def list_rooms(self) -> list[RoomRecord]:
        rows = self._conn.execute(
            "SELECT name, sid, created_at, max_participants, metadata, created_by"
            " FROM rooms ORDER BY created_at, name"
        ).fetchall()
        return [_record(row) for row in rows]

    def delete_room(self, name: str) -> bool:
        """True if the room existed."""
        return self._write("DELETE FROM rooms WHERE name = ?", (name,)) > 0

    def close(self) -> None:
        self._conn.close()

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = self._conn.execute(sql, params)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return cursor.rowcount


def _record(row: tuple[Any, ...]) -> RoomRecord:
    name, sid, created_at, max_participants, metadata, created_by = row
    return RoomRecord(
        name=str(name),
        sid=str(sid),
        created_at=float(created_at),
        max_participants=int(max_participants),
        metadata=json.loads(metadata),
        created_by=str(created_by),
    )
