"""Which payload type a subscriber uses for the codec a publisher sends.

Pass-through means the subscriber must accept exactly the publisher's codec; only the
payload type number may differ (RFC 3264 section 6.1: each side picks its own numbers).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtpCodecParameters


def h264_profile(codec: RTCRtpCodecParameters) -> str:
    """profile_idc + constraint flags (RFC 6184 section 8.1); the level may differ."""
    value = codec.parameters.get("profile-level-id")
    return value[:4].lower() if isinstance(value, str) else "42e0"


def same_codec(a: RTCRtpCodecParameters, b: RTCRtpCodecParameters) -> bool:
    if a.mimeType.lower() != b.mimeType.lower() or a.clockRate != b.clockRate:
        return False
    if a.mimeType.lower() == "video/h264":
        # RFC 6184 section 8.2.2: packetization-mode must match, and the profile.
        mode_a = str(a.parameters.get("packetization-mode", "0"))
        mode_b = str(b.parameters.get("packetization-mode", "0"))
        return mode_a == mode_b and h264_profile(a) == h264_profile(b)
    return True


def find_payload_type(
    source: RTCRtpCodecParameters, offered: Sequence[RTCRtpCodecParameters]
) -> int | None:
    """The subscriber's payload type for ``source``, or None if it cannot receive it."""
    for codec in offered:
        if same_codec(source, codec):
            return codec.payloadType
    return None


def first_codec(codecs: Sequence[RTCRtpCodecParameters]) -> RTCRtpCodecParameters | None:
    """The first media codec (not RTX) of a negotiated list: what a publisher sends."""
    return next((c for c in codecs if not is_rtx(c)), None)
