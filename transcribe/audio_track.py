"""One track's audio on its own clock: decoded frames in, 16 kHz mono utterances out.

aiortc hands out decoded Opus as 48 kHz stereo ``s16`` frames; Whisper and the Silero VAD
want float32 mono at 16 kHz. ``AudioStream`` resamples each frame (av.AudioResampler: a few
microseconds a frame, cheap enough for the event loop) and feeds one UtteranceSegmenter.

Its clock is the count of samples pushed, so an utterance's ``start``/``end`` are offsets
from the stream's first frame, and ``wall(offset)`` turns them into epoch seconds with the
wall-clock time of that first frame (the contract's caption times). The samples count only
stays true while the frames are contiguous, which their presentation timestamps (the RTP
clock, aiortc's TimestampMapper) tell: a short gap (a lost packet, a muted moment: the SFU
drops a muted track's packets) is filled with silence, which also lets the VAD close an
utterance the mute cut off; a long gap or a jump backwards ends the stream, and the next
frame starts a new one with a fresh wall-clock anchor (``continues`` is False).
"""

from __future__ import annotations

import logging
from fractions import Fraction

import av
import numpy as np
import numpy.typing as npt

from .utterances import Utterance, UtteranceSegmenter

logger = logging.getLogger(__name__)

RATE = 16_000
# Gaps up to this long are filled with silence; longer ones start a new stream. One second
# covers packet loss and short mutes; filling an hour-long mute would run the VAD over an
# hour of zeros on the event loop for nothing.
MAX_GAP_FILL_S = 1.0
# A timestamp this far behind the expected one is a new timeline (another source on the
# slot, a restarted sender), not jitter.
MAX_BACKWARDS_S = 0.1
# Smaller differences are rounding between the frame size and the RTP clock: ignored.
MIN_GAP_S = 0.005

Samples = npt.NDArray[np.float32]


class AudioStream:
    def __init__(self, track_sid: str, wall_start: float, segmenter: UtteranceSegmenter) -> None:
        self.track_sid = track_sid
        self.wall_start = wall_start  # epoch seconds of stream offset 0
        self.samples = 0  # pushed to the segmenter so far (16 kHz)
        self._segmenter = segmenter
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        self._next_pts: float | None = None  # where the next frame should start (seconds)

    def wall(self, offset_s: float) -> float:
        """Epoch seconds of a stream offset (an utterance's ``start`` or ``end``)."""
        return self.wall_start + offset_s

    def continues(self, frame: av.AudioFrame) -> bool:
        """False if ``frame`` is too far from where this stream left off to belong to it."""
        start = _start_s(frame)
        if start is None or self._next_pts is None:
            return True
        gap = start - self._next_pts
        return -MAX_BACKWARDS_S <= gap <= MAX_GAP_FILL_S

    def push(self, frame: av.AudioFrame) -> list[Utterance]:
        """Resample ``frame`` (after silence for a short gap before it) and segment it."""
        chunks: list[Samples] = []
        start = _start_s(frame)
        if start is not None:
            if self._next_pts is not None:
                gap = start - self._next_pts
                if MIN_GAP_S < gap <= MAX_GAP_FILL_S:
                    chunks.append(np.zeros(round(gap * RATE), dtype=np.float32))
            self._next_pts = start + frame.samples / (frame.sample_rate or 48_000)
        chunks.extend(self._resample(frame))
        return self._segment(chunks)

    def flush(self) -> list[Utterance]:
        """The end of the stream: what the resampler holds back, then the segmenter's tail."""
        utterances = self._segment(self._resample(None))
        return utterances + self._segmenter.flush()

    def _resample(self, frame: av.AudioFrame | None) -> list[Samples]:
        try:
            frames = self._resampler.resample(frame)
        except (ValueError, av.FFmpegError):
            # A frame in another format than the resampler was set up for (a codec switch
            # on the slot): start a fresh resampler rather than lose the rest of the track.
            logger.warning("track %s: resampling failed; resampler reset", self.track_sid)
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
            if frame is None:
                return []
            frames = self._resampler.resample(frame)
        return [f.to_ndarray().reshape(-1).astype(np.float32, copy=False) for f in frames]

    def _segment(self, chunks: list[Samples]) -> list[Utterance]:
        utterances: list[Utterance] = []
        for chunk in chunks:
            if len(chunk):
                self.samples += len(chunk)
                utterances.extend(self._segmenter.push(chunk))
        return utterances


def _start_s(frame: av.AudioFrame) -> float | None:
    if frame.pts is None:
        return None
    time_base = frame.time_base or Fraction(1, frame.sample_rate or 48_000)
    return float(frame.pts * time_base)
