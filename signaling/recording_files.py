"""Which files of a recording's folder the API lists, serves and accepts (issue 4).

What the recorder writes (recorder/): track files, its manifest and its log, plus exports.
A name must match ``FILE_NAME`` (no separator, no leading dot: never ``..``, never the
hidden ``.upload-*`` temporaries of signaling/recorder_jobs_api.py) and end in one of
``SUFFIXES``; anything else is not a recording file, whatever is on disk.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
CONTENT_TYPES = {
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".ogg": "audio/ogg",
    ".mp4": "video/mp4",
    ".jsonl": "application/x-ndjson",
    ".log": "text/plain; charset=utf-8",
}
SUFFIXES = frozenset(CONTENT_TYPES)


def is_recording_file(name: str) -> bool:
    return bool(FILE_NAME.fullmatch(name)) and PurePosixPath(name).suffix in SUFFIXES
