"""HeaderWriter's packets read back, field for field, with aiortc's own RTP parser."""

from __future__ import annotations

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from sfu.aiortc_hooks import (
    ABS_SEND_TIME_URI,
    AUDIO_LEVEL_URI,
    MID_URI,
    extension_ids,
)
from sfu.rtp_header import ExtensionIds, HeaderWriter


def _parameters(mid: int, abs_send_time: int, audio_level: int) -> RTCRtpParameters:
    return RTCRtpParameters(
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=mid, uri=MID_URI),
            RTCRtpHeaderExtensionParameters(id=abs_send_time, uri=ABS_SEND_TIME_URI),
            RTCRtpHeaderExtensionParameters(id=audio_level, uri=AUDIO_LEVEL_URI),
            RTCRtpHeaderExtensionParameters(id=5, uri="urn:example:not-ours"),
        ]
    )


def _map(parameters: RTCRtpParameters) -> HeaderExtensionsMap:
    extensions = HeaderExtensionsMap()
    extensions.configure(parameters)
    return extensions


@pytest.mark.parametrize(
    ("ids", "mid"),
    [
        ((9, 3, 1), "1"),  # Chromium's usual ids: one-byte form
        ((9, 3, 1), "a-mid-of-more-than-16-bytes"),  # value > 16 bytes: two-byte form
        ((20, 3, 1), "0"),  # id > 14: two-byte form (a=extmap-allow-mixed)
    ],
)
def test_packets_parse_back_with_aiortc(ids, mid):
    parameters = _parameters(*ids)
    writer = HeaderWriter(0xDEADBEEF, mid, extension_ids(parameters))
    payload = bytes(range(200))
    for seq, level in ((65535, 0x80 | 42), (0, None)):
        data, header_length = writer.packet(
            111, 1, seq, 0xFFFFFFF0, payload, (0x123456).to_bytes(3, "big"), level
        )
        assert data[header_length:] == payload
        packet = RtpPacket.parse(data, _map(parameters))
        assert (packet.version, packet.payload_type, packet.marker) == (2, 111, 1)
        assert (packet.sequence_number, packet.timestamp, packet.ssrc) == (
            seq,
            0xFFFFFFF0,
            0xDEADBEEF,
        )
        assert packet.payload == payload and packet.csrc == [] and packet.padding_size == 0
        assert packet.extensions.mid == mid
        assert packet.extensions.abs_send_time == 0x123456
        assert packet.extensions.audio_level == (None if level is None else (True, 42))
        assert len(data) % 4 == (len(payload) % 4)  # the extension block is 32-bit aligned


def test_without_negotiated_extensions_there_is_no_extension_block():
    writer = HeaderWriter(7, "0", ExtensionIds())
    data, header_length = writer.packet(96, 0, 1, 2, b"xyz", b"\x01\x02\x03", 5)
    assert header_length == 12 and data[0] == 0x80  # V=2, X=0
    packet = RtpPacket.parse(data)
    assert (packet.payload_type, packet.sequence_number, packet.timestamp) == (96, 1, 2)
    assert packet.payload == b"xyz"


def test_csrcs_are_kept():
    writer = HeaderWriter(7, "0", ExtensionIds(mid=1))
    data, _ = writer.packet(96, 0, 1, 2, b"xyz", None, None, csrc=[11, 12])
    packet = RtpPacket.parse(data, _map(_parameters(1, 2, 3)))
    assert packet.csrc == [11, 12] and packet.extensions.mid == "0"


def test_ids_outside_the_rfc_8285_range_are_ignored():
    ids = extension_ids(_parameters(0, 256, 3))
    assert ids == ExtensionIds(mid=None, abs_send_time=None, audio_level=3)
