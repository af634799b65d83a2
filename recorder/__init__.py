"""Sparkle's recorder: a worker process that joins a room as a hidden participant and
writes every track to disk without decoding (docs/architecture.md, issue 4).

- ``recorder.track_writer``: encoded frames -> one crash-safe WebM/Matroska/Ogg file.
- ``recorder.manifest``: the append-only JSON-lines manifest of a recording.

The package talks to the server only through the public WebSocket protocol: it never
imports ``sfu`` or ``signaling``.
"""
