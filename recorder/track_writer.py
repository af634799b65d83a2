"""One recorded track: encoded frames in, a growing, always-playable file out.

``TrackWriter(path, codec, clock_rate)`` muxes the frames aiortc's jitter buffer reassembles
(VP8 frames, H.264 Annex-B access units, Opus packets) into WebM, Matroska or Ogg with
PyAV, without decoding or encoding anything. The container follows the file suffix:

| suffix          | format   | codecs            |
|-----------------|----------|-------------------|
| ``.webm``       | WebM     | vp8, opus         |
| ``.mkv``/``.mka`` | Matroska | vp8, h264, opus |
| ``.ogg``/``.opus`` | Ogg   | opus              |

Timing. pts = the RTP timestamp, unwrapped across the 32-bit wrap (RFC 3550 §5.1: it wraps
every 13.3 h at 90 kHz), minus the first written frame's, in 1/clock_rate units. A gap in
arrival (loss, mute, pause, a publisher that stopped) is therefore a gap in the file, not a
squeeze. Frames whose pts does not increase (duplicates, reordering that got through) are
dropped. Video starts at its first keyframe: earlier delta frames cannot be decoded.

Crash safety (a SIGKILL at any moment leaves a file PyAV opens and decodes to about the
last frame written): every frame's bytes are handed to the kernel before ``write`` returns,
except the newest frame, which libavformat holds back (see ``_MUXER_OPTIONS``). The file
is not fsync'd per frame: a killed process loses nothing the kernel has, a power cut can.

The file is created when the first frame is accepted (for video: the first keyframe, whose
header gives the picture size the container needs); a writer that never got one leaves no
file. ``started`` tells whether it exists; ``first_rtp`` is the RTP timestamp of pts 0.
"""

from __future__ import annotations

import fractions
import io
import logging
from pathlib import Path
from typing import Any

import av

from recorder.codec_headers import (
    NAL_IDR,
    NAL_PPS,
    NAL_SPS,
    OPUS_CLOCK,
    h264_nal_type,
    h264_nal_units,
    h264_sps_size,
    opus_head,
    opus_packet_samples,
    opus_plc_packets,
    vp8_is_keyframe,
    vp8_keyframe_size,
)

log = logging.getLogger(__name__)

CODECS = ("opus", "vp8", "h264")
_FORMATS: dict[str, tuple[str, frozenset[str]]] = {
    ".webm": ("webm", frozenset({"vp8", "opus"})),
    ".mkv": ("matroska", frozenset({"vp8", "h264", "opus"})),
    ".mka": ("matroska", frozenset({"opus"})),
    ".ogg": ("ogg", frozenset({"opus"})),
    ".opus": ("ogg", frozenset({"opus"})),
}

# Why these options (libavformat as bundled with PyAV 18.1, FFmpeg 8.1):
# - flush_packets=1: mux.c flush_if_needed() calls avio_flush() after every packet, so the
#   bytes leave libav's 32 KiB AVIOContext buffer for the kernel. The default (-1) only
#   writes a marker, and the buffer would hold ~1 s of 256 kbps video.
# - Matroska/WebM: matroskaenc.c builds the open cluster in a dynamic buffer
#   (mkv->cluster_bc) and writes it to the AVIOContext only in mkv_end_cluster(); the
#   defaults for a seekable file are 5 s / 5 MiB clusters, i.e. up to 5 s lost on a kill.
#   cluster_time_limit=0 and cluster_size_limit=0 end the cluster as soon as the next
#   packet arrives ("cluster_size > cluster_size_limit"), so each frame gets its own
#   cluster and the newest frame is the only one in memory. Cost: a cluster header
#   (ID, size, timestamp; CRC-32 in .mkv) of 10-25 bytes per frame, <1 kB/s at 30 fps.
#   The Segment and Clusters start with EBML "unknown size" placeholders that the trailer
#   patches; a killed file keeps them unknown, which Matroska allows (RFC 8794 §6.2,
#   RFC 9559 §6.2) and demuxers read to the end of the file.
#   `live=1` is not set: it makes mkv_write_trailer() skip the Cues and the Duration,
#   which a cleanly closed recording should have for seeking.
# - Ogg: oggenc.c closes a page when it spans page_duration (µs, default 1 s); at 1 µs each
#   packet gets its own page, and ogg_write_pages() writes every page but a stream's newest
#   ("page_count < 2"). One page per packet also makes every packet's timestamp come from
#   its own granule position, so gaps survive demuxing exactly. Cost: 28 bytes per 20 ms.
_MATROSKA_OPTIONS = {"flush_packets": "1", "cluster_time_limit": "0", "cluster_size_limit": "0"}
_OGG_OPTIONS = {"flush_packets": "1", "page_duration": "1"}

_WRAP = 1 << 32
_HALF = 1 << 31
# A run of this many frames all older than the last written one is not reordering: the
# sender restarted its timestamps (new encoder or SSRC). Re-anchor instead of dropping the
# rest of the track. ~1.7 s of 30 fps video, 1 s of 20 ms Opus.
RESYNC_AFTER = 50


class TrackWriterError(Exception):
    """The writer refused a call: it is closed, or its file failed (e.g. disk full)."""


class TrackWriter:
    def __init__(self, path: Path, codec: str, clock_rate: int) -> None:
        if codec not in CODECS:
            raise ValueError(f"unsupported codec {codec!r}: expected one of {CODECS}")
        if not isinstance(clock_rate, int) or clock_rate <= 0:
            raise ValueError(f"clock_rate must be a positive integer, got {clock_rate!r}")
        if codec == "opus" and clock_rate != OPUS_CLOCK:
            raise ValueError(f"Opus RTP runs at 48000 Hz (RFC 7587 §4.1), got {clock_rate}")
        suffix = Path(path).suffix.lower()
        if suffix not in _FORMATS or codec not in _FORMATS[suffix][1]:
            allowed = [s for s, (_, codecs) in _FORMATS.items() if codec in codecs]
            raise ValueError(f"{codec} cannot go into {path}: use one of {allowed}")
        self.path = Path(path)
        self.codec = codec
        self.clock_rate = clock_rate
        self._format = _FORMATS[suffix][0]
        self._time_base = fractions.Fraction(1, clock_rate)
        self._container: Any = None
        self._stream: Any = None
        self._closed = False
        self._first_rtp: int | None = None
        self._last_rtp = 0  # 32-bit RTP timestamp of the newest written frame
        self._last_pts = -1
        self._last_interval = 1
        self._backwards_run = 0
        self._h264_parameter_sets: dict[int, bytes] = {}
        self._audio_end = 0  # Opus: pts where the newest packet's audio ends
        self._last_audio = b""
        self.frames_written = 0
        self.frames_dropped = 0

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def started(self) -> bool:
        """Whether the file exists: a first frame (for video, a keyframe) was written."""
        return self._first_rtp is not None

    @property
    def first_rtp(self) -> int | None:
        """RTP timestamp of the first written frame (pts 0); None until one is written."""
        return self._first_rtp

    @property
    def duration(self) -> float:
        """Seconds from the first to the newest written frame's timestamp."""
        return max(self._last_pts, 0) / self.clock_rate

    def write(self, data: bytes, rtp_timestamp: int) -> None:
        """Mux one encoded frame. Drops (and counts) what cannot be written yet or ever."""
        if self._closed:
            raise TrackWriterError(f"track writer for {self.path} is closed")
        if not isinstance(rtp_timestamp, int) or not 0 <= rtp_timestamp < _WRAP:
            raise ValueError(f"rtp_timestamp must be a 32-bit unsigned int: {rtp_timestamp!r}")
        data = bytes(data)
        keyframe = self._inspect(data)
        if keyframe is None:
            self.frames_dropped += 1
            return
        if self._container is None:
            if not keyframe:
                self.frames_dropped += 1  # before the first keyframe: undecodable
                return
            if self.codec == "h264":
                data = self._with_parameter_sets(data)
            self._open(data)
            self._first_rtp = self._last_rtp = rtp_timestamp
            pts = 0
        else:
            unwrapped = self._pts(rtp_timestamp)
            if unwrapped is None:
                self.frames_dropped += 1
                return
            pts = unwrapped
        duration = opus_packet_samples(data) if self.codec == "opus" else 0
        try:
            if self._format == "ogg" and pts > self._audio_end:
                self._conceal(pts)
            self._mux(data, pts, duration, keyframe)
        except (av.FFmpegError, OSError) as exc:
            # Disk full or an I/O error: finish what is on disk and refuse further writes.
            self._abort()
            raise TrackWriterError(f"writing {self.path} failed: {exc}") from exc
        if pts > 0:
            self._last_interval = pts - self._last_pts
        self._last_pts = pts
        self._last_rtp = rtp_timestamp
        self._audio_end = pts + duration
        self._last_audio = data
        self.frames_written += 1

    def _mux(self, data: bytes, pts: int, duration: int, keyframe: bool) -> None:
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = self._time_base
        packet.stream = self._stream
        packet.is_keyframe = keyframe
        packet.duration = duration
        self._container.mux_one(packet)

    def _conceal(self, pts: int) -> None:
        # Ogg stores time only as each page's end (the granule position), and libavformat's
        # demuxer dates a packet by the previous page's end (ogg.c ogg_calc_pts), so a bare
        # jump in granules would put the first packet after a gap at the gap's start. RFC
        # 7845 §4.1: a muxer SHOULD fill gaps with packets that request concealment. Matroska
        # stores every block's timestamp and needs no filling.
        start = self._audio_end
        for filler, samples in opus_plc_packets(self._last_audio, pts - start):
            self._mux(filler, start, samples, True)
            start += samples

    def close(self) -> None:
        """Write the trailer (cues, sizes, duration). Idempotent."""
        if self._closed:
            return
        self._closed = True
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except (av.FFmpegError, OSError) as exc:
                raise TrackWriterError(f"closing {self.path} failed: {exc}") from exc

    def __enter__(self) -> TrackWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _pts(self, rtp_timestamp: int) -> int | None:
        # Unwrap relative to the newest written frame: a difference in [-2^31, 2^31) is the
        # shortest way around the 32-bit circle (RFC 3550 §5.1, as in RFC 1982 arithmetic).
        delta = (rtp_timestamp - self._last_rtp) % _WRAP
        if delta >= _HALF:
            delta -= _WRAP
        if delta > 0:
            self._backwards_run = 0
            return self._last_pts + delta
        self._backwards_run += 1
        if self._backwards_run < RESYNC_AFTER:
            return None  # a duplicate or a late frame
        log.warning(
            "%s: %d frames went back in time; the sender restarted its RTP clock, re-anchoring",
            self.path,
            self._backwards_run,
        )
        self._backwards_run = 0
        return self._last_pts + self._last_interval

    def _inspect(self, data: bytes) -> bool | None:
        """Whether ``data`` is a keyframe; None if it is malformed and must be dropped."""
        if not data:
            return None
        if self.codec == "opus":
            try:
                opus_packet_samples(data)
            except ValueError:
                return None
            return True
        if self.codec == "vp8":
            if not vp8_is_keyframe(data):
                return False
            try:
                vp8_keyframe_size(data)  # a keyframe must carry its start code and size
            except ValueError:
                return None
            return True
        units = list(h264_nal_units(data))
        if not units:
            return None
        for unit in units:
            if h264_nal_type(unit) in (NAL_SPS, NAL_PPS):
                self._h264_parameter_sets[h264_nal_type(unit)] = unit
        idr = any(h264_nal_type(unit) == NAL_IDR for unit in units)
        # An IDR is only a usable start if its SPS/PPS are known (they may have come in an
        # earlier access unit); the first packet's SPS/PPS become the CodecPrivate (avcC).
        if idr and self._container is None:
            return NAL_SPS in self._h264_parameter_sets and NAL_PPS in self._h264_parameter_sets
        return idr

    def _open(self, first: bytes) -> None:
        options = _OGG_OPTIONS if self._format == "ogg" else _MATROSKA_OPTIONS
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format=self._format, options=dict(options))
        try:
            if self.codec == "opus":
                stream = _opus_stream(container)
            else:
                width, height = self._picture_size(first)
                stream = container.add_mux_stream(self.codec, width=width, height=height)
            stream.time_base = self._time_base
        except Exception:
            container.close()
            raise
        self._container, self._stream = container, stream

    def _picture_size(self, keyframe: bytes) -> tuple[int, int]:
        if self.codec == "vp8":
            return vp8_keyframe_size(keyframe)
        return h264_sps_size(self._h264_parameter_sets[NAL_SPS])

    def _with_parameter_sets(self, access_unit: bytes) -> bytes:
        """The first H.264 packet, with the SPS/PPS in front if they came in earlier units.

        PyAV builds the Matroska CodecPrivate (avcC) from the first packet's parameter sets
        (extract_extradata bitstream filter, av/container/output.py _buffer_for_extradata);
        without them the file would have no decoder configuration."""
        types = {h264_nal_type(unit) for unit in h264_nal_units(access_unit)}
        if NAL_SPS in types and NAL_PPS in types:
            return access_unit
        prefix = b"".join(
            b"\x00\x00\x00\x01" + self._h264_parameter_sets[t] for t in (NAL_SPS, NAL_PPS)
        )
        return prefix + access_unit

    def _abort(self) -> None:
        self._closed = True
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except (av.FFmpegError, OSError):
                log.warning("%s: could not finish the file after a write error", self.path)


def _opus_stream(container: Any) -> Any:
    # Ogg and WebM both need the OpusHead as extradata (oggenc.c ogg_build_opus_headers
    # refuses a stream without it; WebM puts it in CodecPrivate). A mux-only stream has no
    # extradata setter in PyAV, so the stream is made from an *unopened* codec context
    # template: add_stream_from_template marks it initialised, so start_encoding() never
    # opens an encoder, and its codecpar (with our extradata) is what the muxer sees.
    scratch = av.open(io.BytesIO(), "w", format="ogg")
    try:
        template = scratch.add_stream("libopus", rate=OPUS_CLOCK)
        stream = container.add_stream_from_template(template, opaque=True)
    finally:
        scratch.close()
    stream.codec_context.extradata = opus_head(channels=2)
    stream.codec_context.sample_rate = OPUS_CLOCK
    return stream
