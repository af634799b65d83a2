"""A recording folder laid out on one clock: which track plays when, and what pauses cut.

The manifest (recorder/manifest.py) gives each track file its ``first_wall``: the wall-clock
time of the file's pts 0 (from an RTCP sender report, RFC 3550 §6.4.1). A track's media at
pts ``p`` therefore happened at ``first_wall + p``, and every track lands on one clock whose
origin is the earliest ``first_wall``. Gaps inside a file (loss, mute, a publisher that went
away) stay gaps. The timeline ends where the last track ends (its last packet's pts plus
that packet's duration, read from the file: a killed recorder leaves no ``track_end``).

Pauses: while a recording is paused the recorder writes nothing, so the stretch between a
``pause`` and its ``resume`` holds no media. The export cuts it out (what people expect of a
paused recording) rather than showing seconds of frozen tiles; ``segments`` are the kept
stretches of the clock and ``wall_time`` maps an output time to the clock.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from .manifest import read_manifest

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
# Longer than any meeting; a larger span means a track's first_wall is wrong (a sender
# report from a clock that was far off), and the export would be hours of black.
MAX_DURATION_S = 24 * 3600.0
VIDEO_SOURCES = frozenset({"camera", "screen_share"})
AUDIO_SOURCES = frozenset({"microphone", "screen_share_audio"})


class ExportError(Exception):
    """The export failed (the output could not be written or encoded)."""


class NotExportable(ExportError):
    """The folder cannot be exported: no manifest, nothing playable, an absurd timeline."""


@dataclass(frozen=True)
class PlacedTrack:
    path: Path
    identity: str
    name: str
    source: str  # camera, microphone, screen_share, screen_share_audio
    kind: str  # audio or video
    start: float  # seconds on the timeline (0 = the earliest first_wall)
    end: float

    def covers(self, t: float) -> bool:
        return self.start <= t <= self.end


@dataclass(frozen=True)
class Participant:
    identity: str
    name: str


@dataclass(frozen=True)
class Timeline:
    origin: float  # unix time of timeline 0
    tracks: tuple[PlacedTrack, ...]
    segments: tuple[tuple[float, float], ...]  # kept stretches of the clock, in order
    skipped: tuple[str, ...] = ()  # files listed but unreadable, with the reason

    @property
    def end(self) -> float:
        return max((t.end for t in self.tracks), default=0.0)

    @property
    def duration(self) -> float:
        """Seconds of output: the clock without the paused stretches."""
        return sum(b - a for a, b in self.segments)

    @property
    def participants(self) -> list[Participant]:
        """Everyone with a track, in order of first appearance (the grid's stable order)."""
        seen: dict[str, Participant] = {}
        for track in sorted(self.tracks, key=lambda t: (t.start, t.identity)):
            if track.identity not in seen:
                seen[track.identity] = Participant(track.identity, track.name or track.identity)
        return list(seen.values())

    def present(self, t: float) -> list[Participant]:
        """Participants with any track live at clock time ``t``, in the stable order."""
        live = {track.identity for track in self.tracks if track.covers(t)}
        return [p for p in self.participants if p.identity in live]

    def wall_time(self, t: float) -> float:
        """The clock time shown at output time ``t`` (pauses cut out)."""
        elapsed = 0.0
        for start, end in self.segments:
            if t < elapsed + (end - start):
                return start + (t - elapsed)
            elapsed += end - start
        return self.segments[-1][1] if self.segments else t

    def sample_spans(self, first: int, last: int, rate: int) -> list[tuple[int, int]]:
        """Output samples ``[first, last)`` as (clock sample, count) runs, pauses cut out.

        Integer arithmetic on the quantised segments, so consecutive blocks tile exactly:
        no sample is played twice or skipped at a block or segment boundary."""
        bounds = [(round(a * rate), round(b * rate)) for a, b in self.segments]
        spans: list[tuple[int, int]] = []
        offset = 0  # output samples before this segment
        for start, end in bounds:
            length = end - start
            lo, hi = max(first, offset), min(last, offset + length)
            if lo < hi:
                spans.append((start + lo - offset, hi - lo))
            offset += length
        if last > offset:  # past the end (rounding): silence at the clock's end
            spans.append((bounds[-1][1] if bounds else 0, last - max(first, offset)))
        return spans


def load_timeline(folder: Path) -> Timeline:
    """Read ``folder``'s manifest and probe its files (demux only, no decoding)."""
    manifest = Path(folder) / MANIFEST
    if not manifest.is_file():
        raise NotExportable(f"{folder} is not a recording: no {MANIFEST}")
    events = read_manifest(manifest)
    listed: list[tuple[dict[str, Any], Path]] = []
    skipped: list[str] = []
    for event in events:
        if event["event"] != "track":
            continue
        problem = _check_track(event, folder)
        if problem:
            skipped.append(f"{event.get('file')!r}: {problem}")
            continue
        listed.append((event, Path(folder) / event["file"]))
    if not listed:
        raise NotExportable(f"{folder} has no track to export" + _reasons(skipped))
    origin = min(float(event["first_wall"]) for event, _ in listed)
    tracks: list[PlacedTrack] = []
    for event, path in listed:
        try:
            length = probe_length(path)
        except (av.FFmpegError, OSError, ValueError) as exc:
            skipped.append(f"{path.name!r}: unreadable ({exc})")
            continue
        if length is None:
            skipped.append(f"{path.name!r}: no packets")
            continue
        start = float(event["first_wall"]) - origin
        identity = str(event.get("identity") or event.get("participant_sid") or path.stem)
        tracks.append(
            PlacedTrack(
                path=path,
                identity=identity,
                name=str(event.get("name") or identity),
                source=str(event["source"]),
                kind=str(event["kind"]),
                start=start,
                end=start + length,
            )
        )
    if not tracks:
        raise NotExportable(f"{folder} has no readable track" + _reasons(skipped))
    end = max(t.end for t in tracks)
    if end > MAX_DURATION_S:
        raise NotExportable(f"the tracks span {end:.0f} s: a track's first_wall is wrong")
    for reason in skipped:
        log.warning("export of %s skips %s", folder, reason)
    cuts = _pauses(events, origin, end)
    return Timeline(origin, tuple(tracks), tuple(_kept(0.0, end, cuts)), tuple(skipped))


def probe_length(path: Path) -> float | None:
    """Seconds from pts 0 to the end of the last packet; None if the file has none.

    Reads packets, not the container's duration: a file whose recorder was killed has no
    Duration element (recorder/track_writer.py), and demuxing is cheap next to decoding."""
    last: float | None = None
    with av.open(str(path)) as container:
        if not container.streams:
            return None
        stream = container.streams[0]
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.time_base is None:
                    continue
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                last = end if last is None else max(last, end)
        except av.FFmpegError:
            if last is None:
                raise
            # The demuxer gave up part-way (a file cut mid-write): what came before plays.
    return last


def _check_track(event: dict[str, Any], folder: Path) -> str:
    file = event.get("file")
    # Only a plain name inside the folder: a manifest is data, not a path to follow.
    if not isinstance(file, str) or not file or Path(file).name != file or file[0] == ".":
        return "not a plain file name"
    kind, source = event.get("kind"), event.get("source")
    if (kind, source) not in {("video", s) for s in VIDEO_SOURCES} | {
        ("audio", s) for s in AUDIO_SOURCES
    }:
        return f"unknown kind/source {kind!r}/{source!r}"
    first_wall = event.get("first_wall")
    if isinstance(first_wall, bool) or not isinstance(first_wall, int | float):
        return "first_wall is not a number"
    if not math.isfinite(first_wall):
        return "first_wall is not finite"
    if not (Path(folder) / file).is_file():
        return "missing"
    return ""


def _pauses(events: list[dict[str, Any]], origin: float, end: float) -> list[tuple[float, float]]:
    cuts: list[tuple[float, float]] = []
    paused_at: float | None = None
    for event in events:
        at = event.get("at")
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            continue
        if event["event"] == "pause" and paused_at is None:
            paused_at = float(at) - origin
        elif event["event"] == "resume" and paused_at is not None:
            cuts.append((paused_at, float(at) - origin))
            paused_at = None
    if paused_at is not None:  # paused until the end (or a crash)
        cuts.append((paused_at, end))
    return cuts


def _kept(start: float, end: float, cuts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """[start, end] minus the cuts, as ordered disjoint segments."""
    segments = [(start, end)]
    for cut_start, cut_end in sorted(cuts):
        out: list[tuple[float, float]] = []
        for a, b in segments:
            if cut_end <= a or cut_start >= b:
                out.append((a, b))
                continue
            if a < cut_start:
                out.append((a, cut_start))
            if cut_end < b:
                out.append((cut_end, b))
        segments = out
    return segments or [(start, start)]


def _reasons(skipped: list[str]) -> str:
    return (": " + "; ".join(skipped[:5])) if skipped else ""
