"""The RTP header of one outgoing stream (a subscriber slot), serialized without aiortc.

Per forwarded packet and subscriber only the payload type, marker, sequence number and
timestamp change, plus two extension values shared by every subscriber of that packet
(abs-send-time, audio level). The fixed part (version, SSRC, the MID element and the
extension layout) is built once per slot; a packet is then one ``struct.pack`` of the
12-byte header (RFC 3550 5.1), two small in-place patches of the slot's extension block and
one join with the payload. aiortc's ``RtpPacket.serialize`` rebuilds all of it per packet
and was the largest Python cost of fan-out (docs/benchmarks.md, "Where the SFU's time goes").

Extensions follow RFC 8285: the one-byte form (profile 0xBEDE) when every id is 1-14 and
every value at most 16 bytes, the two-byte form (profile 0x1000) otherwise, each element
in the order MID, abs-send-time, audio level, the block zero-padded to 32 bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from struct import Struct

_HEADER = Struct("!BBHII")  # V/P/X/CC, M/PT, sequence number, timestamp, SSRC
_CSRC = Struct("!I")
_ONE_BYTE_PROFILE = 0xBEDE
_TWO_BYTE_PROFILE = 0x1000
RTP_VERSION = 2


@dataclass(frozen=True)
class ExtensionIds:
    """The subscriber's negotiated ids (a=extmap) for the extensions we write; None when
    it did not negotiate one (it is then left out)."""

    mid: int | None = None
    abs_send_time: int | None = None
    audio_level: int | None = None


class _Layout:
    """One extension block: its bytes with the per-packet values zeroed, and where they go."""

    __slots__ = ("abs_offset", "block", "level_offset")

    def __init__(self, block: bytearray, abs_offset: int, level_offset: int) -> None:
        self.block = block
        self.abs_offset = abs_offset  # -1: not present
        self.level_offset = level_offset  # -1: not present


class HeaderWriter:
    """Serializes the packets of one outgoing stream (fixed SSRC and MID)."""

    __slots__ = ("_layouts", "ids", "mid", "ssrc")

    def __init__(self, ssrc: int, mid: str, ids: ExtensionIds) -> None:
        self.ssrc = ssrc
        self.mid = mid
        self.ids = ids
        # (with abs-send-time, with audio level) -> layout
        self._layouts: dict[tuple[bool, bool], _Layout] = {}

    def packet(
        self,
        payload_type: int,
        marker: int,
        sequence_number: int,
        timestamp: int,
        payload: bytes,
        abs_send_time: bytes | None,
        audio_level: int | None,
        csrc: Sequence[int] = (),
    ) -> tuple[bytes, int]:
        """The serialized packet and its header length (where the payload starts).

        ``abs_send_time`` is the 3-byte 6.18 value; ``audio_level`` the RFC 6464 byte
        (V bit and level).
        """
        key = (abs_send_time is not None, audio_level is not None)
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts[key] = self._layout(*key)
        block = layout.block
        if abs_send_time is not None and layout.abs_offset >= 0:
            block[layout.abs_offset : layout.abs_offset + 3] = abs_send_time
        if audio_level is not None and layout.level_offset >= 0:
            block[layout.level_offset] = audio_level & 0xFF
        first = (RTP_VERSION << 6) | (0x10 if block else 0) | len(csrc)
        head = _HEADER.pack(
            first, (marker << 7) | payload_type, sequence_number, timestamp, self.ssrc
        )
        if csrc:
            head += b"".join(_CSRC.pack(c) for c in csrc[:15])
        return b"".join((head, block, payload)), len(head) + len(block)

    def _layout(self, with_abs: bool, with_level: bool) -> _Layout:
        ids = self.ids
        elements: list[tuple[str, int, bytes]] = []  # (name, id, value) in wire order
        if ids.mid is not None and self.mid:
            elements.append(("mid", ids.mid, self.mid.encode("utf8")))
        if with_abs and ids.abs_send_time is not None:
            elements.append(("abs", ids.abs_send_time, b"\0\0\0"))
        if with_level and ids.audio_level is not None:
            elements.append(("level", ids.audio_level, b"\0"))
        if not elements:
            return _Layout(bytearray(), -1, -1)
        one_byte = all(1 <= i <= 14 and 1 <= len(v) <= 16 for _, i, v in elements)
        body = bytearray()
        offsets: dict[str, int] = {}
        for name, ident, value in elements:
            if one_byte:
                body.append((ident << 4) | (len(value) - 1))
            else:
                body += bytes((ident, len(value)))
            offsets[name] = 4 + len(body)  # 4: the block's profile and length fields
            body += value
        body += bytes(-len(body) % 4)
        profile = _ONE_BYTE_PROFILE if one_byte else _TWO_BYTE_PROFILE
        block = bytearray(profile.to_bytes(2, "big") + (len(body) // 4).to_bytes(2, "big"))
        block += body
        return _Layout(block, offsets.get("abs", -1), offsets.get("level", -1))
