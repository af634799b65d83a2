"""What the track writer reads from encoded frames without decoding them.

A recorder muxes frames as they arrive; to do that it needs a few facts that sit in the
first bytes of a frame: is it a keyframe, how big is the picture (the Matroska header needs
PixelWidth/PixelHeight: libavformat refuses a video track of 0x0), how long is an Opus
packet (Ogg granule positions count samples). Each function here reads one such header and
raises ``ValueError`` with a precise message on malformed input; it never touches pixels
or samples.
"""

from __future__ import annotations

from collections.abc import Iterator

VP8_START_CODE = b"\x9d\x01\x2a"
NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
OPUS_CLOCK = 48000  # RFC 7587 §4.1: the Opus RTP clock is always 48 kHz.
OPUS_MAX_PACKET_SAMPLES = 5760  # RFC 6716 §3.2.5: at most 120 ms per packet.

# H.264 profiles whose SPS carries chroma_format_idc and friends (ITU-T H.264 §7.3.2.1.1).
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def vp8_is_keyframe(frame: bytes) -> bool:
    # RFC 6386 §9.1: bit 0 of the frame tag is the inverse key-frame flag.
    return len(frame) > 0 and frame[0] & 0x01 == 0


def vp8_keyframe_size(frame: bytes) -> tuple[int, int]:
    """(width, height) from a VP8 keyframe header (RFC 6386 §9.1 and §19.1)."""
    if not vp8_is_keyframe(frame):
        raise ValueError("not a VP8 keyframe")
    if len(frame) < 10 or frame[3:6] != VP8_START_CODE:
        raise ValueError("VP8 keyframe without its start code 9d 01 2a")
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF  # top 2 bits: scaling
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    if width == 0 or height == 0:
        raise ValueError("VP8 keyframe declares a 0-pixel picture")
    return width, height


def h264_nal_units(access_unit: bytes) -> Iterator[bytes]:
    """NAL units of an Annex-B access unit (ITU-T H.264 Annex B: 00 00 01 start codes)."""
    start = access_unit.find(b"\x00\x00\x01")
    while start != -1:
        begin = start + 3
        following = access_unit.find(b"\x00\x00\x01", begin)
        end = len(access_unit) if following == -1 else following
        # A 4-byte start code (00 00 00 01) leaves its leading zero on the previous unit.
        unit = access_unit[begin:end].rstrip(b"\x00") if following != -1 else access_unit[begin:end]
        if unit:
            yield unit
        start = following


def h264_nal_type(unit: bytes) -> int:
    return unit[0] & 0x1F


class _BitReader:
    """Reads an RBSP: emulation-prevention bytes (00 00 03) removed (H.264 §7.4.1)."""

    def __init__(self, nal_payload: bytes) -> None:
        self._data = nal_payload.replace(b"\x00\x00\x03", b"\x00\x00")
        self._bit = 0

    def bit(self) -> int:
        byte, offset = divmod(self._bit, 8)
        if byte >= len(self._data):
            raise ValueError("H.264 SPS is truncated")
        self._bit += 1
        return (self._data[byte] >> (7 - offset)) & 1

    def bits(self, count: int) -> int:
        value = 0
        for _ in range(count):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        # Exp-Golomb (H.264 §9.1); 32 leading zeros is beyond any legal syntax element.
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("H.264 SPS has an invalid Exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)


def _skip_scaling_list(reader: _BitReader, size: int) -> None:
    # H.264 §7.3.2.1.1.1
    last, following = 8, 8
    for _ in range(size):
        if following != 0:
            following = (last + reader.se() + 256) % 256
        last = following if following != 0 else last


def h264_sps_size(sps: bytes) -> tuple[int, int]:
    """(width, height) of the cropped picture an H.264 SPS NAL unit describes (§7.3.2.1.1)."""
    if len(sps) < 4 or h264_nal_type(sps) != NAL_SPS:
        raise ValueError("not an H.264 sequence parameter set")
    reader = _BitReader(sps[1:])
    profile_idc = reader.bits(8)
    reader.bits(16)  # constraint flags, level_idc
    reader.ue()  # seq_parameter_set_id
    chroma_format_idc = 1
    separate_colour_plane = 0
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = reader.ue()
        if chroma_format_idc > 3:
            raise ValueError("H.264 SPS has an invalid chroma_format_idc")
        if chroma_format_idc == 3:
            separate_colour_plane = reader.bit()
        reader.ue()  # bit_depth_luma_minus8
        reader.ue()  # bit_depth_chroma_minus8
        reader.bit()  # qpprime_y_zero_transform_bypass_flag
        if reader.bit():  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format_idc != 3 else 12):
                if reader.bit():
                    _skip_scaling_list(reader, 16 if index < 6 else 64)
    reader.ue()  # log2_max_frame_num_minus4
    poc_type = reader.ue()
    if poc_type == 0:
        reader.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        reader.bit()  # delta_pic_order_always_zero_flag
        reader.se()  # offset_for_non_ref_pic
        reader.se()  # offset_for_top_to_bottom_field
        cycle = reader.ue()
        if cycle > 255:
            raise ValueError("H.264 SPS has too many ref frames in its POC cycle")
        for _ in range(cycle):
            reader.se()
    reader.ue()  # max_num_ref_frames
    reader.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = reader.ue() + 1
    height_map_units = reader.ue() + 1
    frame_mbs_only = reader.bit()
    if not frame_mbs_only:
        reader.bit()  # mb_adaptive_frame_field_flag
    reader.bit()  # direct_8x8_inference_flag
    crop = (0, 0, 0, 0)
    if reader.bit():  # frame_cropping_flag
        crop = (reader.ue(), reader.ue(), reader.ue(), reader.ue())
    # Crop units (§7.4.2.1.1, Table 6-1): chroma subsampling and field coding scale them.
    if chroma_format_idc == 0 or separate_colour_plane:
        unit_x, unit_y = 1, 2 - frame_mbs_only
    else:
        sub_width = 1 if chroma_format_idc == 3 else 2
        sub_height = 2 if chroma_format_idc == 1 else 1
        unit_x, unit_y = sub_width, sub_height * (2 - frame_mbs_only)
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_map_units * 16 - unit_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0 or width > 16384 or height > 16384:
        raise ValueError(f"H.264 SPS declares an impossible picture {width}x{height}")
    return width, height


def opus_packet_samples(packet: bytes) -> int:
    """Samples (at 48 kHz) an Opus packet decodes to, from its TOC byte (RFC 6716 §3.1)."""
    if not packet:
        raise ValueError("empty Opus packet")
    toc = packet[0]
    config = toc >> 3
    if config < 12:  # SILK-only: 10, 20, 40, 60 ms
        frame = (480, 960, 1920, 2880)[config % 4]
    elif config < 16:  # Hybrid: 10, 20 ms
        frame = (480, 960)[config % 2]
    else:  # CELT-only: 2.5, 5, 10, 20 ms
        frame = (120, 240, 480, 960)[config % 4]
    code = toc & 0x03
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    else:  # code 3: the frame count is in the next byte (§3.2.5)
        if len(packet) < 2:
            raise ValueError("Opus code-3 packet without its frame count byte")
        frames = packet[1] & 0x3F
        if frames == 0:
            raise ValueError("Opus code-3 packet with 0 frames")
    samples = frame * frames
    if samples > OPUS_MAX_PACKET_SAMPLES:
        raise ValueError(f"Opus packet of {samples} samples exceeds 120 ms")
    return samples


def opus_head(channels: int = 2) -> bytes:
    """An identification header (RFC 7845 §5.1) for a stream recorded from RTP.

    Pre-skip is 0: the recording starts mid-stream, after the sender's encoder delay, so
    there are no priming samples to hide, and timestamps stay exactly the RTP ones.
    Mapping family 0 (mono/stereo) is what WebRTC sends (RFC 7587 §7)."""
    if channels not in (1, 2):
        raise ValueError("Opus mapping family 0 carries 1 or 2 channels")
    return (
        b"OpusHead"
        + bytes([1, channels])
        + (0).to_bytes(2, "little")  # pre-skip
        + OPUS_CLOCK.to_bytes(4, "little")  # input sample rate (informational)
        + (0).to_bytes(2, "little")  # output gain
        + bytes([0])  # channel mapping family
    )


def opus_plc_packets(previous: bytes, samples: int) -> list[tuple[bytes, int]]:
    """Packets that ask the decoder to conceal ``samples`` of lost audio (RFC 7845 §4.1).

    Each is a code-3 packet of zero-length frames (RFC 6716 §3.2.1: a 0-byte frame is a
    lost frame) with ``previous``'s mode, bandwidth and channels, at most 120 ms long; a
    remainder shorter than ``previous``'s frames uses 2.5 ms CELT frames. Only multiples
    of 2.5 ms are repairable; a shorter rest is left out. Returns ``(packet, samples)``."""
    toc = previous[0]
    frame = opus_packet_samples(bytes([toc & 0xFC]))  # one frame of the same config
    packets: list[tuple[bytes, int]] = []
    for size, config_toc in ((frame, toc & 0xFC), (120, (28 << 3) | (toc & 0x04))):
        while samples >= size:
            count = min(samples // size, OPUS_MAX_PACKET_SAMPLES // size)
            packets.append((bytes([config_toc | 0x03, count]), count * size))
            samples -= count * size
    return packets
