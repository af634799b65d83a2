"""The ``action_items`` table (issue 5): what minutes/action_items.py found in a meeting's
transcript, and what hosts changed, added or confirmed on the summary page.

A host's work is never overwritten: when the items are made again (transcription turned on
a second time in the same meeting), only items nobody confirmed or edited are replaced, and
an utterance that already has a kept item gets no second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from signaling.store import Store

_COLUMNS = (
    "id, meeting_id, task, owner, owner_name, due, due_text, segment_id, start, quote, "
    "confirmed, edited"
)


@dataclass(frozen=True)
class ActionItemRecord:
    id: int
    meeting_id: str
    task: str
    owner: str | None  # a participant identity; None = nobody yet
    owner_name: str | None
    due: str | None  # YYYY-MM-DD in the meeting's time zone
    due_text: str | None  # the words it came from ("by Friday")
    segment_id: int | None  # the utterance it came from; None when a host added it
    start: float | None  # that utterance's start, epoch seconds
    quote: str
    confirmed: bool
    edited: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "owner": self.owner,
            "owner_name": self.owner_name,
            "due": self.due,
            "due_text": self.due_text,
            "segment_id": self.segment_id,
            "start": self.start,
            "quote": self.quote,
            "confirmed": self.confirmed,
            "edited": self.edited,
        }


class ActionItemStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    def for_meeting(self, meeting_id: str) -> list[ActionItemRecord]:
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM action_items WHERE meeting_id = ? "
            "ORDER BY COALESCE(start, 1e18), id",
            (meeting_id,),
        )
        return [_record(row) for row in rows]

    def get(self, meeting_id: str, item_id: int) -> ActionItemRecord | None:
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM action_items WHERE meeting_id = ? AND id = ?",
            (meeting_id, item_id),
        )
        return _record(rows[0]) if rows else None

    def add(self, item: ActionItemRecord) -> int:
        return self._store.insert(*_insert(item))

    def update(self, item: ActionItemRecord) -> None:
        """Write a host's change; the item counts as edited from now on."""
        self._store.write(
            "UPDATE action_items SET task = ?, owner = ?, owner_name = ?, due = ?, "
            "confirmed = ?, edited = 1 WHERE meeting_id = ? AND id = ?",
            (
                item.task,
                item.owner,
                item.owner_name,
                item.due,
                int(item.confirmed),
                item.meeting_id,
                item.id,
            ),
        )

    def delete(self, meeting_id: str, item_id: int) -> bool:
        return (
            self._store.write(
                "DELETE FROM action_items WHERE meeting_id = ? AND id = ?", (meeting_id, item_id)
            )
            > 0
        )

    def replace_automatic(self, meeting_id: str, items: Sequence[ActionItemRecord]) -> None:
        """Replace the items nobody touched with ``items``, in one transaction."""
        kept = {
            row.segment_id
            for row in self.for_meeting(meeting_id)
            if (row.confirmed or row.edited) and row.segment_id is not None
        }
        statements: list[tuple[str, tuple[Any, ...]]] = [
            (
                "DELETE FROM action_items WHERE meeting_id = ? AND confirmed = 0 AND edited = 0",
                (meeting_id,),
            )
        ]
        statements += [_insert(item) for item in items if item.segment_id not in kept]
        self._store.write_many(statements)


def _insert(item: ActionItemRecord) -> tuple[str, tuple[Any, ...]]:
    return (
        "INSERT INTO action_items (meeting_id, task, owner, owner_name, due, due_text, "
        "segment_id, start, quote, confirmed, edited) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            item.meeting_id,
            item.task,
            item.owner,
            item.owner_name,
            item.due,
            item.due_text,
            item.segment_id,
            item.start,
            item.quote,
            int(item.confirmed),
            int(item.edited),
        ),
    )


def _record(row: tuple[Any, ...]) -> ActionItemRecord:
    (iid, meeting_id, task, owner, owner_name, due, due_text, segment_id, start, quote) = row[:10]
    confirmed, edited = row[10:]
    return ActionItemRecord(
        id=int(iid),
        meeting_id=str(meeting_id),
        task=str(task),
        owner=None if owner is None else str(owner),
        owner_name=None if owner_name is None else str(owner_name),
        due=None if due is None else str(due),
        due_text=None if due_text is None else str(due_text),
        segment_id=None if segment_id is None else int(segment_id),
        start=None if start is None else float(start),
        quote=str(quote),
        confirmed=bool(confirmed),
        edited=bool(edited),
    )
