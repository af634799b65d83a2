"""The rooms store: a real SQLite file, versioned schema, all-or-nothing writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from signaling.errors import ErrorCode, SparkleError
from signaling.store import SCHEMA_VERSION, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    clock = iter(float(t) for t in range(1000, 2000))
    s = Store(tmp_path / "db" / "sparkle.db", clock=lambda: next(clock))
    yield s
    s.close()


def test_create_get_list_delete(store: Store) -> None:
    created = store.create_room(
        "standup", max_participants=5, metadata={"team": "core"}, created_by="api"
    )
    assert created.name == "standup" and created.sid.startswith("RM_")
    assert store.get_room("standup") == created
    other = store.create_room("retro", max_participants=3)
    assert [r.name for r in store.list_rooms()] == ["standup", "retro"]  # creation order
    assert other.metadata == {} and other.created_by == "api"
    assert store.delete_room("standup") is True
    assert store.delete_room("standup") is False
    assert store.get_room("standup") is None
    assert [r.name for r in store.list_rooms()] == ["retro"]


def test_duplicate_name_is_a_conflict_and_keeps_the_first(store: Store) -> None:
    first = store.create_room("standup", max_participants=5)
    with pytest.raises(SparkleError) as caught:
        store.create_room("standup", max_participants=9)
    assert caught.value.code is ErrorCode.CONFLICT
    assert caught.value.message == "room 'standup' already exists"
    assert store.get_room("standup") == first


@pytest.mark.parametrize("name", ["", "*", "a/b", "a" * 65, "with space", "../x"])
def test_invalid_names_are_refused(store: Store, name: str) -> None:
    with pytest.raises(SparkleError) as caught:
        store.create_room(name, max_participants=5)
    assert caught.value.code is ErrorCode.BAD_MESSAGE
    assert store.list_rooms() == []


def test_data_survives_reopening_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "sparkle.db"
    first = Store(path)
    record = first.create_room("standup", max_participants=4, metadata={"a": [1, 2]})
    first.close()
    second = Store(path)
    try:
        assert second.get_room("standup") == record
        assert second.schema_version() == SCHEMA_VERSION
    finally:
        second.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sparkle.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="Upgrade Sparkle or use another data_dir"):
        Store(path)


def test_a_failed_write_is_rolled_back_and_the_next_one_works(store: Store) -> None:
    store.create_room("standup", max_participants=5)
    with pytest.raises(SparkleError):
        store.create_room("standup", max_participants=9)  # fails inside BEGIN ... COMMIT
    # Had the failed transaction been left open, this BEGIN would raise.
    assert store.create_room("retro", max_participants=5).name == "retro"
    assert [(r.name, r.max_participants) for r in store.list_rooms()] == [
        ("standup", 5),
        ("retro", 5),
    ]


def test_unserialisable_metadata_writes_nothing(store: Store) -> None:
    with pytest.raises(TypeError):
        store.create_room("standup", max_participants=5, metadata={"x": object()})
    assert store.get_room("standup") is None


def test_writes_are_visible_to_another_connection_at_once(tmp_path: Path) -> None:
    path = tmp_path / "sparkle.db"
    writer, reader = Store(path), Store(path)
    try:
        writer.create_room("standup", max_participants=5)
        assert reader.get_room("standup") is not None
        assert writer.delete_room("standup")
        assert reader.get_room("standup") is None
    finally:
        writer.close()
        reader.close()
