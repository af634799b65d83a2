"""Roles, bans and the audit log in the store (issue 3): a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from signaling.store import SCHEMA_VERSION, Store


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "db" / "sparkle.db"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    clock = iter(float(t) for t in range(1000, 2000))
    s = Store(path, clock=lambda: next(clock))
    yield s
    s.close()


def test_roles_and_bans_survive_a_reopen(store: Store, path: Path) -> None:
    assert store.host_override("r", "bob") is None
    store.set_host("r", "bob", True)
    store.set_host("r", "ann", True)
    store.set_host("r", "ann", False)  # the latest decision wins
    store.ban("r", "eve")
    store.ban("r", "eve")  # idempotent
    store.close()
    reopened = Store(path)
    try:
        assert reopened.host_override("r", "bob") is True
        assert reopened.host_override("r", "ann") is False
        assert reopened.host_override("other", "bob") is None  # per room
        assert reopened.is_banned("r", "eve") and not reopened.is_banned("other", "eve")
        assert reopened.unban("r", "eve") is True
        assert reopened.unban("r", "eve") is False
        assert not reopened.is_banned("r", "eve")
    finally:
        reopened.close()


def test_deleting_a_room_forgets_its_roles_and_bans_but_keeps_its_log(store: Store) -> None:
    store.create_room("r", max_participants=3)
    store.set_host("r", "bob", True)
    store.ban("r", "eve")
    store.add_audit(
        "r", actor_identity="ann", actor_name="Ann", action="lock", target_identity=None, details={}
    )
    assert store.delete_room("r") is True
    assert store.host_override("r", "bob") is None and not store.is_banned("r", "eve")
    assert [e.action for e in store.audit_log("r")] == ["lock"]


def test_audit_log_order_limit_and_json(store: Store) -> None:
    for n in range(5):
        store.add_audit(
            "r",
            actor_identity="ann",
            actor_name="Ann",
            action="remove",
            target_identity=f"p{n}",
            details={"ban": n % 2 == 0, "participant_sid": f"PA_{n}"},
        )
    store.add_audit(
        "x", actor_identity="z", actor_name="Z", action="lock", target_identity=None, details={}
    )
    entries = store.audit_log("r", limit=3)
    assert [e.target_identity for e in entries] == ["p2", "p3", "p4"]  # newest 3, oldest first
    assert entries[0].to_json() == {
        "id": entries[0].id,
        "at": entries[0].at,
        "actor": {"identity": "ann", "name": "Ann"},
        "action": "remove",
        "target_identity": "p2",
        "details": {"ban": True, "participant_sid": "PA_2"},
    }
    assert [e.at for e in entries] == sorted(e.at for e in entries)


def test_an_old_database_is_migrated_in_place(path: Path) -> None:
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE rooms (name TEXT PRIMARY KEY NOT NULL, sid TEXT NOT NULL UNIQUE,"
        " created_at REAL NOT NULL, max_participants INTEGER NOT NULL,"
        " metadata TEXT NOT NULL DEFAULT '{}', created_by TEXT NOT NULL DEFAULT '')"
    )
    conn.execute("INSERT INTO rooms VALUES ('old', 'RM_1', 1.0, 5, '{}', 'api')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = Store(path)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        record = store.get_room("old")
        assert record is not None and record.sid == "RM_1"
        store.ban("old", "eve")
        assert store.is_banned("old", "eve")
    finally:
        store.close()
