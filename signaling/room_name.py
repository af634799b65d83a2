"""Room names: what a valid one looks like, and how a fresh readable one is made.

A room name appears in URLs (``/r/<room>``), in tokens (the ``room`` claim) and in the
database, so one rule applies everywhere: 1 to 64 characters from ``A-Z a-z 0-9 _ -``.
That excludes ``*`` (no wildcard room in a token, security checklist item 2), ``/`` and
``.`` (no path tricks), and anything that needs percent-encoding.
"""

from __future__ import annotations

import re
import secrets

MAX_ROOM_NAME_LENGTH = 64
_ROOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Lowercase letters without the ones people misread when a link is read aloud (l, o).
_ALPHABET = "abcdefghijkmnpqrstuvwxyz"


def is_valid_room_name(name: object) -> bool:
    """True for a string made of 1 to 64 characters from ``A-Z a-z 0-9 _ -``."""
    return isinstance(name, str) and _ROOM_NAME.fullmatch(name) is not None


def random_room_name() -> str:
    """A readable random name like ``abc-defg-hij`` (10 letters: ~45 bits of entropy).

    Like Google Meet's codes: guessing a live meeting's name is impractical, and the name
    still reads well in a link.
    """
    groups = (3, 4, 3)
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(n)) for n in groups)
