"""A transcript as WebVTT, SRT, JSON or plain text.

Times in every format are relative to the meeting's start (a player pairs the file with the
meeting's recording). Segments are written in the order they started (speakers' tracks
interleave; WebVTT requires cues ordered by start time, W3C WebVTT section 4.1). Whitespace
in names and text is collapsed to single spaces because a blank line ends a cue in both
WebVTT and SRT.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from .transcript import Segment


def _ordered(segments: Sequence[Segment]) -> list[Segment]:
    return sorted(segments, key=lambda s: (s.start, s.end))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _millis(epoch: float, meeting_start: float) -> int:
    # Words said before the meeting's recorded start (clock skew) are pinned to 0, and so is
    # a broken (non-finite) time: the text is kept either way.
    offset = epoch - meeting_start
    return max(0, round(offset * 1000)) if math.isfinite(offset) else 0


def _span(segment: Segment, meeting_start: float) -> tuple[int, int]:
    start = _millis(segment.start, meeting_start)
    # A cue's end must be after its start (WebVTT section 4.1); a zero-length or reversed
    # segment gets one millisecond.
    return start, max(start + 1, _millis(segment.end, meeting_start))


def _clock(millis: int, separator: str) -> str:
    seconds, ms = divmod(millis, 1000)
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def _vtt_escape(text: str) -> str:
    # WebVTT section 4.2.2 / 6.4: "&", "<" and ">" are written as character references in
    # cue text and in a voice span's annotation; escaping ">" also keeps "-->" out of cues.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_webvtt(segments: Sequence[Segment], meeting_start: float) -> str:
    """One cue per segment: ``<v Name>Name: text`` (the voice span names the speaker for
    players and styling; the visible prefix shows it where voices are not rendered)."""
    lines = ["WEBVTT", ""]
    for number, segment in enumerate(_ordered(segments), start=1):
        start, end = _span(segment, meeting_start)
        name = _vtt_escape(_one_line(segment.name)) or "Unknown"
        text = _vtt_escape(_one_line(segment.text))
        lines += [
            str(number),
            f"{_clock(start, '.')} --> {_clock(end, '.')}",
            f"<v {name}>{name}: {text}",
            "",
        ]
    return "\n".join(lines)


def to_srt(segments: Sequence[Segment], meeting_start: float) -> str:
    """SubRip: numbered cues, ``HH:MM:SS,mmm`` times (comma before the milliseconds)."""
    lines: list[str] = []
    for number, segment in enumerate(_ordered(segments), start=1):
        start, end = _span(segment, meeting_start)
        lines += [
            str(number),
            f"{_clock(start, ',')} --> {_clock(end, ',')}",
            f"{_one_line(segment.name) or 'Unknown'}: {_one_line(segment.text)}",
            "",
        ]
    return "\n".join(lines)


def to_json(segments: Sequence[Segment], meeting_start: float) -> str:
    """``{"meeting_start": epoch s, "segments": [{id, identity, name, start, end, text}]}``
    with start and end in seconds from the meeting's start."""
    document = {
        "meeting_start": meeting_start,
        "segments": [
            {
                "id": segment.id,
                "identity": segment.identity,
                "name": segment.name,
                "start": start / 1000,
                "end": end / 1000,
                "text": segment.text,
            }
            for segment in _ordered(segments)
            for start, end in [_span(segment, meeting_start)]
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def to_text(segments: Sequence[Segment], meeting_start: float) -> str:
    """One line per segment: ``[00:01:02] Name: text``."""
    lines = []
    for segment in _ordered(segments):
        seconds = _millis(segment.start, meeting_start) // 1000
        minutes, s = divmod(seconds, 60)
        hours, m = divmod(minutes, 60)
        name = _one_line(segment.name) or "Unknown"
        lines.append(f"[{hours:02d}:{m:02d}:{s:02d}] {name}: {_one_line(segment.text)}")
    return "\n".join(lines) + ("\n" if lines else "")
