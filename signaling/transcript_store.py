"""The ``transcript_segments`` table and its full-text index (issue 5): one row per
utterance of one speaker, written as the transcriber's captions arrive
(signaling/transcription.py), so a crash of the server or the worker loses at most the
utterance being recognised, never the transcript so far.

Search runs on SQLite's FTS5 (porter stemming, so "deadlines" finds "deadline"). A user's
words are never passed to FTS5 as query syntax: each becomes a quoted term, so no input can
make a query error or widen the search (https://sqlite.org/fts5.html#full_text_query_syntax).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from minutes.transcript import Segment
from signaling.store import Store

# Words of a search query (letters, digits, apostrophes inside words); at most this many.
_WORD = re.compile(r"\w+(?:'\w+)*")
MAX_QUERY_WORDS = 16
# A snippet shows about this many tokens around the match, the match in [brackets].
SNIPPET_TOKENS = 16


@dataclass(frozen=True)
class SearchHit:
    meeting_id: str
    room: str
    segment: Segment
    snippet: str


def search_terms(query: str) -> str | None:
    """``query`` as an FTS5 query of quoted terms, all required, the last one as a prefix
    (search as you type); None when it has no word at all."""
    words = _WORD.findall(query)[:MAX_QUERY_WORDS]
    if not words:
        return None
    quoted = ['"' + word.replace('"', "") + '"' for word in words]
    quoted[-1] += "*"
    return " ".join(quoted)


class TranscriptStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, meeting_id: str, segment: Segment) -> int:
        """Store one utterance; its segment id."""
        return self._store.insert(
            "INSERT INTO transcript_segments (meeting_id, identity, name, start, end, text) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (meeting_id, segment.identity, segment.name, segment.start, segment.end, segment.text),
        )

    def segments(self, meeting_id: str) -> list[Segment]:
        rows = self._store.query(
            "SELECT id, identity, name, start, end, text FROM transcript_segments "
            "WHERE meeting_id = ? ORDER BY start, id",
            (meeting_id,),
        )
        return [_segment(row) for row in rows]

    def count(self, meeting_id: str) -> int:
        rows = self._store.query(
            "SELECT COUNT(*) FROM transcript_segments WHERE meeting_id = ?", (meeting_id,)
        )
        return int(rows[0][0])

    def search(
        self, query: str, meeting_ids: Sequence[str] | None, *, limit: int
    ) -> list[SearchHit]:
        """Segments matching every word of ``query``, best first, in ``meeting_ids`` (None:
        every meeting)."""
        terms = search_terms(query)
        if terms is None or (meeting_ids is not None and not meeting_ids):
            return []
        sql = (
            "SELECT s.id, s.identity, s.name, s.start, s.end, s.text, s.meeting_id, m.room, "
            f"snippet(transcript_search, 0, '[', ']', '...', {SNIPPET_TOKENS}) "
            "FROM transcript_search JOIN transcript_segments s ON s.id = transcript_search.rowid "
            "JOIN meetings m ON m.id = s.meeting_id WHERE transcript_search MATCH ?"
        )
        params: tuple[Any, ...] = (terms,)
        if meeting_ids is not None:
            sql += f" AND s.meeting_id IN ({', '.join('?' for _ in meeting_ids)})"
            params += tuple(meeting_ids)
        sql += " ORDER BY rank LIMIT ?"
        rows = self._store.query(sql, (*params, limit))
        return [
            SearchHit(
                meeting_id=str(row[6]), room=str(row[7]), segment=_segment(row[:6]), snippet=row[8]
            )
            for row in rows
        ]


def _segment(row: Sequence[Any]) -> Segment:
    sid, identity, name, start, end, text = row
    return Segment(
        identity=str(identity),
        name=str(name),
        start=float(start),
        end=float(end),
        text=str(text),
        id=int(sid),
    )
