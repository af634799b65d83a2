"""One recorded track: its file (a TrackWriter), its manifest lines and its timing.

The manifest's ``track`` line carries ``first_wall``, the wall-clock time of the file's first
frame. The best source is the RTCP sender report (RFC 3550 section 6.4.1: an NTP time and the
RTP timestamp of the same instant, so any frame's RTP timestamp maps to wall-clock time); the
SFU sends one about every second (aiortc: 0.5-1.5 s), so the first frame usually arrives
before it. The line is therefore held until the first report, at most ``REPORT_WAIT_S`` (then
the first frame's arrival time is used, as when the track closes sooner). Arrival time is
worse: the receiver's jitter buffer holds audio back by four packets and video by a frame.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from roomclient.roster import ParticipantInfo, TrackInfo

from .codec_headers import NAL_IDR, h264_nal_type, h264_nal_units, vp8_is_keyframe
from .manifest import RecordingManifest
from .track_writer import TrackWriter, TrackWriterError

logger = logging.getLogger(__name__)

# How long a track line waits for a sender report before it settles for the arrival time.
REPORT_WAIT_S = 2.0
# Seconds between the NTP epoch (1900) and the Unix epoch (1970) (RFC 868).
NTP_EPOCH_OFFSET = 2208988800


@dataclass(frozen=True)
class SenderReport:
    ntp_timestamp: int  # NTP 32.32 fixed point (RFC 3550 section 4)
    rtp_timestamp: int

    def wall_time(self, rtp_timestamp: int, clock_rate: int) -> float:
        """Unix time of ``rtp_timestamp`` by this report (a signed 32-bit distance)."""
        delta = ((rtp_timestamp - self.rtp_timestamp + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        return self.ntp_timestamp / (1 << 32) - NTP_EPOCH_OFFSET + delta / clock_rate


class TrackRecording:
    def __init__(
        self,
        *,
        track: TrackInfo,
        participant: ParticipantInfo,
        path: Path,
        codec: str,
        clock_rate: int,
        manifest: RecordingManifest,
    ) -> None:
        self.track = track
        self.participant = participant
        self.path = path
        self.codec = codec
        self.clock_rate = clock_rate
        self._manifest = manifest
        self._writer = TrackWriter(path, codec, clock_rate)
        self.first_rtp: int | None = None
        self._first_arrival = 0.0
        self._listed = False  # the manifest's track line is written
        self.closed = False
        self.frames = 0
        # After a pause, frames refer to frames that were dropped: wait for a keyframe.
        self.awaiting_keyframe = False

    def hold_until_keyframe(self) -> None:
        self.awaiting_keyframe = self.track.kind == "video"

    def write(self, data: bytes, rtp_timestamp: int, report: SenderReport | None) -> bool:
        """Write one frame; False if it was dropped waiting for a keyframe (ask for one)."""
        if self.closed:
            return True
        if self.awaiting_keyframe:
            if not is_keyframe(self.codec, data):
                return False
            self.awaiting_keyframe = False
        try:
            self._writer.write(data, rtp_timestamp)
        except TrackWriterError:
            # The file failed (disk full, I/O error): what is on disk stays playable; the
            # track ends here rather than failing once per frame.
            logger.exception("recording %s stopped", self.path)
            self.close(report)
            return True
        if self.first_rtp is None and self._writer.started:
            self.first_rtp = self._writer.first_rtp
            self._first_arrival = time.time()
        if self.first_rtp is None:
            # The writer waits for a first keyframe (the file does not exist yet).
            return self.track.kind != "video"
        self.frames += 1
        if not self._listed and (
            report is not None or time.time() - self._first_arrival >= REPORT_WAIT_S
        ):
            self._list(report)
        return True

    def on_report(self, report: SenderReport) -> None:
        if not self._listed and self.first_rtp is not None and not self.closed:
            self._list(report)

    def _list(self, report: SenderReport | None) -> None:
        assert self.first_rtp is not None
        if report is None:
            first_wall = self._first_arrival
        else:
            first_wall = report.wall_time(self.first_rtp, self.clock_rate)
        self._manifest.track(
            file=self.path.name,
            track_sid=self.track.sid,
            participant_sid=self.participant.sid,
            identity=self.participant.identity,
            name=self.participant.name,
            source=self.track.source,
            kind=self.track.kind,
            codec=self.codec,
            clock_rate=self.clock_rate,
            first_rtp=self.first_rtp,
            first_wall=round(first_wall, 6),
        )
        self._listed = True

    def close(self, report: SenderReport | None) -> None:
        """Finish the file; list it (if it got a frame) and end it in the manifest."""
        if self.closed:
            return
        self.closed = True
        try:
            self._writer.close()
        except TrackWriterError:
            logger.exception("finishing %s failed", self.path)
        if self.first_rtp is None:
            return
        if not self._listed:
            self._list(report)
        self._manifest.track_end(file=self.path.name, at=time.time())


def is_keyframe(codec: str, data: bytes) -> bool:
    """A frame a decoder can start from: a VP8 key frame (RFC 6386 section 9.1), an H.264
    access unit with an IDR slice (ITU-T H.264 table 7-1); every Opus packet."""
    if codec == "vp8":
        return vp8_is_keyframe(data)
    if codec == "h264":
        return any(h264_nal_type(unit) == NAL_IDR for unit in h264_nal_units(data))
    return True
