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
from collections.abc import Callable, Sequence
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
    # Issue 3: a host's promotion or demotion of an identity overrides its token's room_admin
    # grant, so a reconnect keeps the role; a ban keeps a still-valid token out.
    """
    CREATE TABLE room_roles (
        room TEXT NOT NULL,
        identity TEXT NOT NULL,
        host INTEGER NOT NULL,
        PRIMARY KEY (room, identity)
    )
    """,
    """
    CREATE TABLE room_bans (
        room TEXT NOT NULL,
        identity TEXT NOT NULL,
        banned_at REAL NOT NULL,
        PRIMARY KEY (room, identity)
    )
    """,
    """
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        room TEXT NOT NULL,
        at REAL NOT NULL,
        actor_identity TEXT NOT NULL,
        actor_name TEXT NOT NULL,
        action TEXT NOT NULL,
        target_identity TEXT,
        details TEXT NOT NULL DEFAULT '{}'
    )
    """,
    "CREATE INDEX audit_log_room ON audit_log (room, id)",
    # Issue 3: the waiting room (lobby), a per-room setting; off for rooms made before it.
    "ALTER TABLE rooms ADD COLUMN lobby INTEGER NOT NULL DEFAULT 0",
    # Issue 3: the rest of a room's host settings (signaling/room_settings.py) as one JSON
    # object, and its meeting password as a salted scrypt hash (never the password).
    "ALTER TABLE rooms ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE rooms ADD COLUMN password_hash TEXT",
    # Issue 3: files shared in a room's chat; the bytes live under data_dir/files/.
    """
    CREATE TABLE chat_files (
        id TEXT PRIMARY KEY NOT NULL,
        room TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        size INTEGER NOT NULL,
        uploader_identity TEXT NOT NULL,
        created_at REAL NOT NULL
    )
    """,
    "CREATE INDEX chat_files_room ON chat_files (room)",
    # Issue 4: recordings (signaling/recording.py); the files live in recordings_dir.
    """
    CREATE TABLE recordings (
        id TEXT PRIMARY KEY NOT NULL,
        room TEXT NOT NULL,
        state TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        started_by TEXT NOT NULL,
        folder TEXT NOT NULL,
        bytes INTEGER NOT NULL DEFAULT 0,
        error TEXT
    )
    """,
    "CREATE INDEX recordings_room ON recordings (room, started_at)",
    # Issue 4: share links to a recording (signaling/recording_links.py): the secret only
    # as a SHA-256, an optional password as a scrypt hash, and an expiry.
    """
    CREATE TABLE recording_links (
        id TEXT PRIMARY KEY NOT NULL,
        recording_id TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL,
        password_hash TEXT,
        expires_at REAL NOT NULL,
        created_at REAL NOT NULL
    )
    """,
    "CREATE INDEX recording_links_recording ON recording_links (recording_id)",
    # Issue 5: meetings (one per stretch of a room with people in it), who attended them,
    # their transcripts (one row per utterance of one speaker) with a full-text index, and
    # the action items made from them (signaling/meeting_store.py, transcript_store.py).
    """
    CREATE TABLE meetings (
        id TEXT PRIMARY KEY NOT NULL,
        room TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        time_zone TEXT NOT NULL,
        actions_state TEXT NOT NULL DEFAULT 'none'
    )
    """,
    "CREATE INDEX meetings_room ON meetings (room, started_at)",
    """
    CREATE TABLE meeting_participants (
        meeting_id TEXT NOT NULL,
        identity TEXT NOT NULL,
        name TEXT NOT NULL,
        joined_at REAL NOT NULL,
        PRIMARY KEY (meeting_id, identity)
    )
    """,
    """
    CREATE TABLE transcript_segments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        meeting_id TEXT NOT NULL,
        identity TEXT NOT NULL,
        name TEXT NOT NULL,
        start REAL NOT NULL,
        end REAL NOT NULL,
        text TEXT NOT NULL
    )
    """,
    "CREATE INDEX transcript_segments_meeting ON transcript_segments (meeting_id, start)",
    # An external-content FTS5 index over the segments' text, kept current by triggers
    # (https://sqlite.org/fts5.html#external_content_tables).
    """
    CREATE VIRTUAL TABLE transcript_search USING fts5(
        text, content='transcript_segments', content_rowid='id', tokenize='porter unicode61'
    )
    """,
    """
    CREATE TRIGGER transcript_segments_ai AFTER INSERT ON transcript_segments BEGIN
        INSERT INTO transcript_search (rowid, text) VALUES (new.id, new.text);
    END
    """,
    """
    CREATE TRIGGER transcript_segments_ad AFTER DELETE ON transcript_segments BEGIN
        INSERT INTO transcript_search (transcript_search, rowid, text)
        VALUES ('delete', old.id, old.text);
    END
    """,
    """
    CREATE TABLE action_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        meeting_id TEXT NOT NULL,
        task TEXT NOT NULL,
        owner TEXT,
        owner_name TEXT,
        due TEXT,
        due_text TEXT,
        segment_id INTEGER,
        start REAL,
        quote TEXT NOT NULL DEFAULT '',
        confirmed INTEGER NOT NULL DEFAULT 0,
        edited INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX action_items_meeting ON action_items (meeting_id, id)",
    # Issue 7: API keys, each with the origins that may embed its rooms and its webhook
    # (signaling/api_keys.py); the secrets sign and verify room tokens (HS256), so they are
    # kept as they are, like the primary pair in credentials.toml.
    """
    CREATE TABLE api_keys (
        key TEXT PRIMARY KEY NOT NULL,
        secret TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        embed_origins TEXT NOT NULL DEFAULT '[]',
        webhook_url TEXT,
        webhook_secret TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL
    )
    """,
    # Issue 7: whose a room is (the API key that created it, or whose token auto-created it;
    # NULL: the primary key's), so its webhook events go to that key's webhook_url.
    "ALTER TABLE rooms ADD COLUMN owner_key TEXT",
    # Issue 7: webhook events waiting for, or done with, delivery (signaling/webhooks.py).
    # ``seq`` orders one key's events; ``body`` is the exact JSON signed and sent, the same
    # bytes on every attempt. Each attempt is a row of webhook_attempts, written in the same
    # transaction as the event's new state.
    """
    CREATE TABLE webhook_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        api_key TEXT NOT NULL,
        event TEXT NOT NULL,
        room TEXT NOT NULL,
        created_at REAL NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL
    )
    """,
    "CREATE INDEX webhook_events_pending ON webhook_events (state, api_key, seq)",
    "CREATE INDEX webhook_events_key ON webhook_events (api_key, seq)",
    """
    CREATE TABLE webhook_attempts (
        event_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at REAL NOT NULL,
        url TEXT NOT NULL,
        status INTEGER,
        error TEXT,
        duration_ms REAL NOT NULL,
        PRIMARY KEY (event_id, attempt)
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
    lobby: bool = False  # non-hosts wait until a host admits them (signaling/lobby.py)
    # The other host settings as JSON (signaling/room_settings.py) and the meeting password's
    # scrypt hash (signaling/password.py); neither is ever sent to a client as such.
    settings: str = "{}"
    password_hash: str | None = None
    # The API key whose room it is (webhooks go to its webhook_url); None: the primary key.
    owner_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sid": self.sid,
            "created_at": self.created_at,
            "max_participants": self.max_participants,
            "metadata": self.metadata,
            "created_by": self.created_by,
            "lobby": self.lobby,
            "password": self.password_hash is not None,
        }


@dataclass(frozen=True)
class AuditEntry:
    """One moderation action, as ``GET /api/v1/rooms/{name}/audit`` returns it."""

    id: int
    room: str
    at: float
    actor_identity: str
    actor_name: str
    action: str
    target_identity: str | None
    details: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "actor": {"identity": self.actor_identity, "name": self.actor_name},
            "action": self.action,
            "target_identity": self.target_identity,
            "details": self.details,
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
        lobby: bool = False,
        owner_key: str | None = None,
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
            lobby=lobby,
            owner_key=owner_key,
        )
        try:
            self._write(
                "INSERT INTO rooms (name, sid, created_at, max_participants, metadata,"
                " created_by, lobby, owner_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.name,
                    record.sid,
                    record.created_at,
                    record.max_participants,
                    json.dumps(record.metadata, separators=(",", ":")),
                    record.created_by,
                    int(record.lobby),
                    record.owner_key,
                ),
            )
        except sqlite3.IntegrityError:
            raise SparkleError(ErrorCode.CONFLICT, f"room {name!r} already exists") from None
        return record

    def get_room(self, name: str) -> RoomRecord | None:
        row = self._conn.execute(
            "SELECT name, sid, created_at, max_participants, metadata, created_by, lobby,"
            " settings, password_hash, owner_key"
            " FROM rooms WHERE name = ?",
            (name,),
        ).fetchone()
        return None if row is None else _record(row)

    def list_rooms(self) -> list[RoomRecord]:
        rows = self._conn.execute(
            "SELECT name, sid, created_at, max_participants, metadata, created_by, lobby,"
            " settings, password_hash, owner_key"
            " FROM rooms ORDER BY created_at, name"
        ).fetchall()
        return [_record(row) for row in rows]

    def set_lobby(self, name: str, enabled: bool) -> bool:
        """Turn the room's lobby on or off; False if the room is not stored."""
        return self._write("UPDATE rooms SET lobby = ? WHERE name = ?", (int(enabled), name)) > 0

    def set_settings(self, name: str, settings_json: str) -> bool:
        """Store the room's host settings (``RoomSettings.stored_json``)."""
        return (
            self._write("UPDATE rooms SET settings = ? WHERE name = ?", (settings_json, name)) > 0
        )

    def set_password_hash(self, name: str, password_hash: str | None) -> bool:
        """Set (a hash from signaling/password.py) or remove (None) the meeting password."""
        sql = "UPDATE rooms SET password_hash = ? WHERE name = ?"
        return self._write(sql, (password_hash, name)) > 0

    def delete_room(self, name: str) -> bool:
        """True if the room existed. Its roles and bans go with it; its audit log stays."""
        # One transaction: a crash never leaves a room without its bans, nor bans that a
        # later room of the same name would inherit.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.execute("DELETE FROM room_roles WHERE room = ?", (name,))
            self._conn.execute("DELETE FROM room_bans WHERE room = ?", (name,))
            cursor = self._conn.execute("DELETE FROM rooms WHERE name = ?", (name,))
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return cursor.rowcount > 0

    # --- moderation: roles, bans, audit log ------------------------------------------------

    def host_override(self, room: str, identity: str) -> bool | None:
        """The role a host gave ``identity`` in ``room``, or None (the token decides)."""
        row = self._conn.execute(
            "SELECT host FROM room_roles WHERE room = ? AND identity = ?", (room, identity)
        ).fetchone()
        return None if row is None else bool(row[0])

    def set_host(self, room: str, identity: str, host: bool) -> None:
        self._write(
            "INSERT INTO room_roles (room, identity, host) VALUES (?, ?, ?)"
            " ON CONFLICT (room, identity) DO UPDATE SET host = excluded.host",
            (room, identity, int(host)),
        )

    def is_banned(self, room: str, identity: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM room_bans WHERE room = ? AND identity = ?", (room, identity)
        ).fetchone()
        return row is not None

    def ban(self, room: str, identity: str) -> None:
        self._write(
            "INSERT OR IGNORE INTO room_bans (room, identity, banned_at) VALUES (?, ?, ?)",
            (room, identity, self._clock()),
        )

    def unban(self, room: str, identity: str) -> bool:
        """True if the identity was banned."""
        sql = "DELETE FROM room_bans WHERE room = ? AND identity = ?"
        return self._write(sql, (room, identity)) > 0

    def add_audit(
        self,
        room: str,
        *,
        actor_identity: str,
        actor_name: str,
        action: str,
        target_identity: str | None,
        details: dict[str, Any],
    ) -> None:
        self._write(
            "INSERT INTO audit_log (room, at, actor_identity, actor_name, action,"
            " target_identity, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                room,
                self._clock(),
                actor_identity,
                actor_name,
                action,
                target_identity,
                json.dumps(details, separators=(",", ":")),
            ),
        )

    def audit_log(self, room: str, limit: int = 1000) -> list[AuditEntry]:
        """The room's newest ``limit`` entries, oldest first."""
        rows = self._conn.execute(
            "SELECT id, room, at, actor_identity, actor_name, action, target_identity, details"
            " FROM audit_log WHERE room = ? ORDER BY id DESC LIMIT ?",
            (room, limit),
        ).fetchall()
        return [
            AuditEntry(
                id=int(row[0]),
                room=str(row[1]),
                at=float(row[2]),
                actor_identity=str(row[3]),
                actor_name=str(row[4]),
                action=str(row[5]),
                target_identity=None if row[6] is None else str(row[6]),
                details=json.loads(row[7]),
            )
            for row in reversed(rows)
        ]

    def close(self) -> None:
        self._conn.close()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read; for modules that own a table of their own (chat_files)."""
        return list(self._conn.execute(sql, params).fetchall())

    def write(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One write in its own transaction; the number of rows it touched."""
        return self._write(sql, params)

    def insert(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One INSERT in its own transaction; the new row's rowid."""
        return self.write_many([(sql, params)])[0]

    def write_many(self, statements: Sequence[tuple[str, tuple[Any, ...]]]) -> list[int]:
        """Several writes in one transaction, all or none (a meeting's deletion, a new set of
        action items); for each, the new rowid of an INSERT, else the rows it touched."""
        results: list[int] = []
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                cursor = self._conn.execute(sql, params)
                is_insert = sql.lstrip().upper().startswith("INSERT")
                results.append(int(cursor.lastrowid or 0) if is_insert else cursor.rowcount)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return results

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
    name, sid, created_at, max_participants, metadata, created_by, lobby, settings, pw, owner = row
    return RoomRecord(
        name=str(name),
        sid=str(sid),
        created_at=float(created_at),
        max_participants=int(max_participants),
        metadata=json.loads(metadata),
        created_by=str(created_by),
        lobby=bool(lobby),
        settings=str(settings),
        password_hash=None if pw is None else str(pw),
        owner_key=None if owner is None else str(owner),
    )
