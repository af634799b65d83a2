"""One receive slot's path from decoded audio to recognised utterances.

Two tasks per slot. The reader takes every decoded frame from the slot's remote track
(aiortc's ``track.recv()``), finds which published track the slot carries now, and pushes
the frame into that track's AudioStream; each utterance the segmenter closes goes into a
bounded queue. The recogniser takes utterances from the queue one at a time and hands them
to the session (which runs Whisper in the speech pool's processes and sends the caption).

Recognition can fall behind (more speakers than model processes): the queue then drops its
oldest utterance with a log line instead of growing, because a caption is only worth
something while it is live. A stream ends (its segmenter flushed, its last utterance
queued) when the slot moves to another track, when the session says the track is gone
(``end_track``), or in ``finish``, which also lets the recogniser drain the queue within a
time limit and leaves no task behind.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import av
from aiortc.mediastreams import MediaStreamError

from .audio_peer import AudioSlot
from .audio_track import AudioStream
from .utterances import Utterance, UtteranceSegmenter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingUtterance:
    """An utterance waiting for recognition, with the clock of the stream it came from."""

    track_sid: str
    wall_start: float  # epoch seconds of the stream's offset 0
    utterance: Utterance

    @property
    def start(self) -> float:
        return self.wall_start + self.utterance.start

    @property
    def end(self) -> float:
        return self.wall_start + self.utterance.end


class UtteranceQueue:
    """A FIFO of at most ``limit`` utterances that drops the oldest when full."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self.dropped = 0
        self._items: collections.deque[PendingUtterance] = collections.deque()
        self._changed = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: PendingUtterance) -> None:
        if self._closed:
            return
        if len(self._items) >= self.limit:
            old = self._items.popleft()
            self.dropped += 1
            seconds = old.utterance.end - old.utterance.start
            logger.warning(
                "recognition is behind: dropped a %.1f s utterance of track %s (%d dropped)",
                seconds, old.track_sid, self.dropped,
            )  # fmt: skip
        self._items.append(item)
        self._changed.set()

    def close(self) -> None:
        """No more items: ``get`` returns None once the queue is empty."""
        self._closed = True
        self._changed.set()

    async def get(self) -> PendingUtterance | None:
        while not self._items:
            if self._closed:
                return None
            self._changed.clear()
            await self._changed.wait()
        return self._items.popleft()


class SlotCaptioner:
    def __init__(
        self,
        slot: AudioSlot,
        track_sid: Callable[[], str | None],
        recognize: Callable[[PendingUtterance], Awaitable[None]],
        new_segmenter: Callable[[], UtteranceSegmenter],
        queue_limit: int,
    ) -> None:
        self.slot = slot
        self.queue = UtteranceQueue(queue_limit)
        self.stream: AudioStream | None = None
        self.frames = 0
        self._track_sid = track_sid  # what the slot carries now; None: nothing to transcribe
        self._recognize = recognize
        self._new_segmenter = new_segmenter
        self._reader: asyncio.Task[None] | None = None
        self._recognizer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reader = asyncio.ensure_future(self._read())
        self._recognizer = asyncio.ensure_future(self._recognize_all())

    def end_track(self, track_sid: str) -> None:
        """Track ``track_sid`` is gone: if this slot was transcribing it, flush it now."""
        if self.stream is not None and self.stream.track_sid == track_sid:
            self._end_stream()

    async def finish(self, drain_timeout_s: float) -> None:
        """Stop reading, flush the stream, and give the recogniser ``drain_timeout_s`` to
        finish what is queued; whatever is left then is dropped (logged)."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        self._end_stream()
        self.queue.close()
        recognizer = self._recognizer
        if recognizer is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(recognizer), drain_timeout_s)
        except TimeoutError:
            left = len(self.queue)
            logger.warning("slot %d: %d utterances not recognised in time", self.slot.index, left)
        finally:
            recognizer.cancel()
            await asyncio.gather(recognizer, return_exceptions=True)

    # --- reading --------------------------------------------------------------------------

    async def _read(self) -> None:
        track = self.slot.track
        if track is None:
            return
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return  # the connection closed
            if isinstance(frame, av.AudioFrame):
                self.frames += 1
                try:
                    self._take(frame)
                except Exception:
                    # One bad frame must not end the slot's transcription.
                    logger.exception("slot %d: a frame could not be processed", self.slot.index)

    def _take(self, frame: av.AudioFrame) -> None:
        sid = self._track_sid()
        stream = self.stream
        if stream is not None and (stream.track_sid != sid or not stream.continues(frame)):
            self._end_stream()
            stream = None
        if sid is None:
            return  # the slot carries nothing we know of (yet, or any more)
        if stream is None:
            self.stream = stream = AudioStream(sid, time.time(), self._new_segmenter())
        self._queue(stream, stream.push(frame))

    def _end_stream(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                self._queue(stream, stream.flush())
            except Exception:
                logger.exception("flushing track %s failed", stream.track_sid)

    def _queue(self, stream: AudioStream, utterances: list[Utterance]) -> None:
        for utterance in utterances:
            self.queue.put(PendingUtterance(stream.track_sid, stream.wall_start, utterance))

    # --- recognising ----------------------------------------------------------------------

    async def _recognize_all(self) -> None:
        while (item := await self.queue.get()) is not None:
            try:
                await self._recognize(item)
            except Exception:
                logger.exception("recognising an utterance of track %s failed", item.track_sid)
