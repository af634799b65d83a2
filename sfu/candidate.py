"""Strict parsing of trickled ICE candidates (RFC 8839 section 5.1 grammar).

aiortc's ``candidate_from_sdp`` asserts and calls ``int()`` on whatever it is given, and
aioice would try to resolve any host name it is handed; a candidate is therefore checked
field by field here and refused with a precise MediaError.
"""

from __future__ import annotations

import ipaddress
import re

from aiortc import RTCIceCandidate, RTCPeerConnection

from .errors import MediaError, describe

MAX_CANDIDATE_LENGTH = 1024  # real candidates are ~100-200 characters
TYPES = ("host", "srflx", "prflx", "relay")
PROTOCOLS = ("udp", "tcp")
# Browsers hide local addresses behind mDNS names: a UUID followed by ".local".
_MDNS = re.compile(r"[0-9a-fA-F-]{1,64}\.local")
_FOUNDATION = re.compile(r"[A-Za-z0-9+/]{1,32}")


def parse_candidate(text: str, sdp_mid: str | None, sdp_mline_index: int | None) -> RTCIceCandidate:
    if len(text) > MAX_CANDIDATE_LENGTH:
        raise MediaError(
            f"ICE candidate is {len(text)} characters; the limit is {MAX_CANDIDATE_LENGTH}"
        )
    body = text.removeprefix("a=").removeprefix("candidate:")
    bits = body.split()
    if len(bits) < 8 or bits[6] != "typ":
        raise MediaError(
            "ICE candidate is malformed: expected '<foundation> <component> "
            "<transport> <priority> <address> <port> typ <type>'"
        )
    foundation, component, protocol, priority, address, port, _, kind = bits[:8]
    if not _FOUNDATION.fullmatch(foundation):
        raise MediaError("ICE candidate foundation is malformed")
    if not component.isdigit() or not 1 <= int(component) <= 256:
        raise MediaError("ICE candidate component must be 1-256")
    if protocol.lower() not in PROTOCOLS:
        raise MediaError(f"ICE candidate transport must be udp or tcp, not {protocol[:10]!r}")
    if not priority.isdigit() or int(priority) > 0xFFFFFFFF:
        raise MediaError("ICE candidate priority must be a 32-bit unsigned integer")
    if not port.isdigit() or int(port) > 65535:
        raise MediaError("ICE candidate port must be 0-65535")
    if kind not in TYPES:
        raise MediaError(f"ICE candidate type must be one of {', '.join(TYPES)}")
    if not _MDNS.fullmatch(address):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise MediaError(
                "ICE candidate address is neither an IP address nor mDNS name"
            ) from None
    candidate = RTCIceCandidate(
        component=int(component),
        foundation=foundation,
        ip=address,
        port=int(port),
        priority=int(priority),
        protocol=protocol.lower(),
        type=kind,
        sdpMid=sdp_mid,
        sdpMLineIndex=sdp_mline_index,
    )
    rest = bits[8:]
    if len(rest) % 2:
        raise MediaError("ICE candidate has an extension without a value")
    for name, value in zip(rest[::2], rest[1::2], strict=True):
        if name == "raddr":
            candidate.relatedAddress = value
        elif name == "rport":
            if not value.isdigit() or int(value) > 65535:
                raise MediaError("ICE candidate rport must be 0-65535")
            candidate.relatedPort = int(value)
        elif name == "tcptype":
            candidate.tcpType = value
    return candidate


async def add_candidate(
    pc: RTCPeerConnection, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
) -> None:
    """Add a trickled candidate ("" = end of candidates) to ``pc``, or raise MediaError."""
    if not isinstance(candidate, str):
        raise MediaError("ICE candidate must be a string")
    if sdp_mid is None and sdp_mline_index is None:
        raise MediaError("ICE candidate needs sdp_mid or sdp_mline_index")
    if pc.remoteDescription is None:
        raise MediaError("ICE candidate arrived before the offer")
    transceivers = pc.getTransceivers()
    known = sdp_mid in {t.mid for t in transceivers} or (
        sdp_mid is None
        and isinstance(sdp_mline_index, int)
        and 0 <= sdp_mline_index < len(transceivers)
    )
    if not known:
        raise MediaError("ICE candidate names an unknown m-section")
    parsed = None if candidate == "" else parse_candidate(candidate, sdp_mid, sdp_mline_index)
    try:
        await pc.addIceCandidate(parsed)
    except Exception as exc:
        raise MediaError(f"ICE candidate could not be added: {describe(exc)}") from None
