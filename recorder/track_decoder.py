"""One recorded track file decoded as a stream, tolerating what a crash leaves behind.

Shared by the export's audio (recorder/mixer.py) and pictures (recorder/compositor.py):
frames come packet by packet, so one corrupt packet costs its own frame, not the rest of the
track, and a demuxer that gives up (a file cut mid-write by a SIGKILL) ends the track there.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from pathlib import Path
from typing import Any

import av

log = logging.getLogger(__name__)


class TrackDecoder:
    """The first ``kind`` ("audio" or "video") stream of ``path``; ValueError without one."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.errors = 0  # packets the decoder refused, and a demuxer that gave up
        self._container: Any = av.open(str(path))
        try:
            self.stream = getattr(self._container.streams, kind)[0]
        except IndexError:
            self._container.close()
            raise ValueError(f"{path.name} has no {kind} stream") from None
        self.frames = self._decode()

    def _decode(self) -> Generator[Any, None, None]:
        try:
            for packet in self._container.demux(self.stream):
                try:
                    yield from packet.decode()
                except av.FFmpegError:
                    self.errors += 1  # a corrupt packet: video resyncs at a keyframe
        except av.FFmpegError as exc:
            self.errors += 1
            log.warning("%s: reading stopped early: %s", self.path.name, exc)

    def close(self) -> None:
        self.frames.close()
        self._container.close()
