"""Keyframe detection (RFC 7741, RFC 6184) and PLI rate limiting."""

from __future__ import annotations

import pytest

from sfu.keyframe import PliLimiter, h264_keyframe_start, is_keyframe_start, vp8_keyframe_start


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (bytes([0x10, 0x00]), True),  # S=1 PID=0, P=0: keyframe
        (bytes([0x10, 0x01]), False),  # P=1: interframe
        (bytes([0x00, 0x00]), False),  # S=0: continuation
        (bytes([0x11, 0x00]), False),  # PID=1: not the first partition
        (bytes([0x90, 0x80, 0x12, 0x00]), True),  # X, I, 7-bit PictureID
        (bytes([0x90, 0x80, 0x92, 0x34, 0x00]), True),  # X, I, 15-bit PictureID (M)
        (bytes([0x90, 0x80, 0x92, 0x34, 0x01]), False),
        (bytes([0x90, 0xE0, 0x92, 0x34, 0x05, 0x20, 0x00]), True),  # I, L, T: +TL0 +TID
        (bytes([0x90, 0x80, 0x92]), False),  # truncated PictureID
        (bytes([0x90]), False),  # truncated extension
        (bytes([0x10]), False),  # no VP8 header
        (b"", False),
    ],
)
def test_vp8(payload, expected):
    assert vp8_keyframe_start(payload) is expected


def nal(kind: int, body: bytes = b"\x00") -> bytes:
    return bytes([0x60 | kind]) + body


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (nal(5), True),  # IDR slice
        (nal(7), True),  # SPS
        (nal(1), False),  # non-IDR slice
        (nal(8), False),  # PPS alone
        (bytes([24]) + b"\x00\x02" + nal(7) + b"\x00\x02" + nal(8), True),  # STAP-A with SPS
        (bytes([24]) + b"\x00\x02" + nal(1), False),
        (bytes([24]) + b"\x00\x09" + nal(5), False),  # STAP-A length past the end
        (bytes([24]) + b"\x00\x00", False),
        (bytes([28, 0x85]) + b"\x00", True),  # FU-A start of an IDR
        (bytes([28, 0x05]) + b"\x00", False),  # FU-A continuation
        (bytes([28, 0x81]) + b"\x00", False),  # FU-A start of a non-IDR
        (bytes([28]), False),
        (b"", False),
    ],
)
def test_h264(payload, expected):
    assert h264_keyframe_start(payload) is expected


def test_dispatch_by_codec():
    assert is_keyframe_start("vp8", bytes([0x10, 0x00]))
    assert is_keyframe_start("h264", nal(5))
    assert is_keyframe_start("opus", b"\x01")  # audio has no inter-frame dependency
    assert not is_keyframe_start("vp9", bytes([0x10, 0x00]))


def test_pli_limiter_allows_one_per_interval():
    limiter = PliLimiter(0.5)
    assert limiter.allow(10.0)
    assert not limiter.allow(10.1)
    assert not limiter.allow(10.49)
    assert limiter.allow(10.5)
    assert sum(limiter.allow(11.0 + i * 0.01) for i in range(100)) == 2  # 1 s of storm
