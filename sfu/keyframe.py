"""Keyframes: spotting the first packet of one, and rate-limiting requests for one.

A pass-through SFU cannot make a keyframe; it must (1) hold a new subscriber until the
publisher sends one and (2) ask the publisher for one, without letting a storm of
subscriber PLIs (one per failed decode) turn into a storm of keyframes upstream.
"""

from __future__ import annotations

# H.264 NAL unit types (RFC 6184 section 5.2, ITU-T H.264 table 7-1).
_H264_IDR = 5
_H264_SPS = 7
_H264_STAP_A = 24
_H264_FU_A = 28


def is_keyframe_start(codec: str, payload: bytes) -> bool:
    """True if ``payload`` (an RTP payload of ``codec``, lower-case name) starts a keyframe.

    Audio codecs have no inter-frame dependency: every packet is a valid start.
    Unknown or truncated payloads are not keyframes (never raises).
    """
    if codec == "vp8":
        return vp8_keyframe_start(payload)
    if codec == "h264":
        return h264_keyframe_start(payload)
    return codec == "opus"


def vp8_keyframe_start(payload: bytes) -> bool:
    """RFC 7741 section 4.2-4.3: S=1 and PID=0 mark the start of partition 0; the first
    bit (P, "inverse key frame flag") of the VP8 payload header is 0 for a keyframe."""
    size = len(payload)
    if size < 1:
        return False
    first = payload[0]
    if not first & 0x10 or first & 0x07:  # S bit, PID
        return False
    pos = 1
    if first & 0x80:  # X: extension byte follows
        if size < 2:
            return False
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: PictureID, 7 or 15 bits (M bit)
            if pos >= size:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX
            pos += 1
    if pos >= size:
        return False
    return not payload[pos] & 0x01


def h264_keyframe_start(payload: bytes) -> bool:
    """RFC 6184: an IDR slice or SPS as a single NAL unit (5.6), inside a STAP-A (5.7.1),
    or as the start fragment of an FU-A (5.8)."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (_H264_IDR, _H264_SPS):
        return True
    if nal_type == _H264_STAP_A:
        pos = 1
        size = len(payload)
        while pos + 2 < size:
            length = (payload[pos] << 8) | payload[pos + 1]
            pos += 2
            if length == 0 or pos + length > size:
                return False
            if payload[pos] & 0x1F in (_H264_IDR, _H264_SPS):
                return True
            pos += length
        return False
    if nal_type == _H264_FU_A:
        if len(payload) < 2:
            return False
        header = payload[1]
        return bool(header & 0x80) and header & 0x1F in (_H264_IDR, _H264_SPS)
    return False


class PliLimiter:
    """At most one keyframe request per ``min_interval`` seconds (clock passed in)."""

    def __init__(self, min_interval: float) -> None:
        self.min_interval = min_interval
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        if self._last is not None and now - self._last < self.min_interval:
            return False
        self._last = now
        return True
