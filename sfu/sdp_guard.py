"""The SDP guard: bounds and shape of an offer, checked before aiortc parses it.

aiortc's ``sdp.py`` validates with bare ``assert`` and ``int()``/``split()`` calls, so a
malformed offer surfaces as AssertionError, IndexError, KeyError or ValueError from deep
inside ``setRemoteDescription`` (see docs/media-plane.md). The guard refuses such offers
first, with a message a client can act on ("SDP has 70 m-sections; the limit is 64"). It
also returns a summary of the m-sections the room needs (kind, mid, direction).

Grammar: RFC 8866 section 5 (``<type>=<value>`` lines, ``m=`` syntax), RFC 8843 (``a=mid``),
RFC 4566 section 6 (rtpmap/fmtp).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from .errors import SdpRejected

# No legitimate SDP line comes near this: the longest ones (fingerprints, candidates,
# H.264 fmtp) are ~200 characters. A fixed bound keeps a single line from carrying the
# whole size budget into aiortc's regular expressions.
MAX_LINE_LENGTH = 4096
# A mid is a token (RFC 8843 section 15); browsers use short numbers.
MAX_MID_LENGTH = 32

MEDIA_KINDS = ("audio", "video", "application")
RTP_PROFILES = ("UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP", "RTP/SAVPF", "RTP/SAVP")
SCTP_PROFILES = ("UDP/DTLS/SCTP", "DTLS/SCTP")
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
# The codecs the SFU forwards (no transcoding: a subscriber must accept the same codec).
SUPPORTED_CODECS = {"audio": ("opus",), "video": ("vp8", "h264")}
# RFC 3550 section 5.1 / RFC 5761 section 4: 64-95 collide with RTCP packet types.
FORBIDDEN_PAYLOAD_TYPES = range(64, 96)

_LINE = re.compile(r"[a-z]=")
_M_LINE = re.compile(r"m=([a-z]+) ([0-9]{1,5})(?:/[0-9]{1,3})? ([A-Za-z/]+) ?(.*)")
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+")
_RTPMAP = re.compile(r"([0-9]{1,3}) ([A-Za-z0-9\-_.]+)/([0-9]{1,6})(?:/([0-9]{1,2}))?")
_FMTP = re.compile(r"([0-9]{1,3}) \S.*")
_EXTMAP = re.compile(r"([0-9]{1,3})(?:/(sendrecv|sendonly|recvonly|inactive))? \S+(?: .*)?")
_SSRC = re.compile(r"([0-9]{1,10}) [^: ]+:.*")
_SSRC_GROUP = re.compile(r"[A-Za-z\-]+( [0-9]{1,10})+")
_FINGERPRINT = re.compile(r"[A-Za-z0-9\-]+ [0-9A-Fa-f:]+")
_CANDIDATE = re.compile(r"\S+ [0-9]{1,3} \S+ [0-9]{1,10} \S+ [0-9]{1,5} typ \S+( \S+ \S+)*")
_RTCP = re.compile(r"[0-9]{1,5}( IN IP[46] \S+)?")
_SETUP = ("active", "passive", "actpass", "holdconn")


@dataclass(frozen=True)
class MediaSection:
    index: int
    kind: str  # audio, video or application
    mid: str
    direction: str  # as the client wrote it (sendonly = the client publishes)
    port: int
    codecs: tuple[str, ...]  # lower-case encoding names
    bundle_only: bool = False  # a=bundle-only (RFC 8843 section 6): port 0 is not a rejection


@dataclass(frozen=True)
class OfferSummary:
    sections: tuple[MediaSection, ...]


def check_offer(sdp: object, *, max_bytes: int, max_lines: int, max_sections: int) -> OfferSummary:
    """Raise SdpRejected with a precise reason, or return the offer's m-sections."""
    if not isinstance(sdp, str):
        raise SdpRejected("SDP must be a string")
    size = len(sdp.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise SdpRejected(f"SDP is {size} bytes; the limit is {max_bytes}")
    if not sdp.strip():
        raise SdpRejected("SDP is empty")
    lines = sdp.replace("\r\n", "\n").split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    if len(lines) > max_lines:
        raise SdpRejected(f"SDP has {len(lines)} lines; the limit is {max_lines}")
    sections = sum(1 for line in lines if line.startswith("m="))
    if sections > max_sections:
        raise SdpRejected(f"SDP has {sections} m-sections; the limit is {max_sections}")
    for number, line in enumerate(lines, start=1):
        _check_line_shape(number, line)
    if lines[0] != "v=0":
        raise SdpRejected("SDP must start with v=0")
    return _Parser(lines).parse()


def _check_line_shape(number: int, line: str) -> None:
    if len(line) > MAX_LINE_LENGTH:
        raise SdpRejected(
            f"SDP line {number} is {len(line)} characters; the limit is {MAX_LINE_LENGTH}"
        )
    if not _LINE.match(line):
        raise SdpRejected(f"SDP line {number} is not of the form <letter>=<value>")
    if not line.isprintable():
        raise SdpRejected(f"SDP line {number} contains a control character")


class _Parser:
    """One pass over the lines; keeps only what the checks and the room need."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.sections: list[MediaSection] = []
        self.session_ice = False
        self.session_fingerprint = False
        self.bundles: list[tuple[int, list[str]]] = []

    def parse(self) -> OfferSummary:
        groups: list[list[tuple[int, str]]] = [[]]
        for number, line in enumerate(self.lines, start=1):
            if line.startswith("m="):
                groups.append([])
            groups[-1].append((number, line))
        for number, line in groups[0]:
            self._session_line(number, line)
        mids: set[str] = set()
        for index, group in enumerate(groups[1:]):
            section = self._media(index, group)
            if section.mid in mids:
                raise SdpRejected(f"m-section {index} repeats mid {section.mid!r}")
            mids.add(section.mid)
            self.sections.append(section)
        for number, bundle in self.bundles:
            # aiortc moves every bundled m-section onto the first mid's transport; a mid
            # that does not exist leaves them with none (and close() then crashes).
            unknown = [m for m in bundle if m not in mids]
            if unknown:
                raise SdpRejected(
                    f"SDP line {number}: a=group:BUNDLE names unknown mid {unknown[0][:32]!r}"
                )
        return OfferSummary(sections=tuple(self.sections))

    def _session_line(self, number: int, line: str) -> None:
        if line.startswith("c="):
            _check_connection(number, line)
        elif line.startswith("a="):
            name, value = _attribute(line)
            if name in ("ice-ufrag", "ice-pwd"):
                self.session_ice = self.session_ice or name == "ice-pwd"
                _check_token_value(number, name, value)
            elif name == "fingerprint":
                self._fingerprint(number, value)
                self.session_fingerprint = True
            elif name == "setup" and value not in _SETUP:
                raise SdpRejected(f"SDP line {number}: a=setup:{value[:20]} is not valid")
            elif name == "group":
                semantics, *mids = value.split(" ")
                if not semantics:
                    raise SdpRejected(f"SDP line {number}: a=group has no semantics")
                if semantics == "BUNDLE":
                    self.bundles.append((number, [m for m in mids if m]))

    def _media(self, index: int, group: list[tuple[int, str]]) -> MediaSection:
        number, m_line = group[0]
        match = _M_LINE.fullmatch(m_line)
        where = f"m-section {index} (line {number})"
        if match is None:
            raise SdpRejected(f"{where}: m= line is malformed")
        kind, port_text, profile, fmt_text = match.groups()
        if kind not in MEDIA_KINDS:
            raise SdpRejected(f"{where}: media kind {kind[:16]!r} is not supported")
        port = int(port_text)
        if port > 65535:
            raise SdpRejected(f"{where}: port {port} is out of range")
        fmts = fmt_text.split(" ") if fmt_text else []
        if not fmts or any(not f for f in fmts):
            raise SdpRejected(f"{where}: m= line lists no formats")
        rtp = kind in ("audio", "video")
        if rtp:
            if profile not in RTP_PROFILES:
                raise SdpRejected(
                    f"{where}: transport {profile[:32]!r} is not supported for {kind}"
                )
            payload_types = [_payload_type(where, f) for f in fmts]
        elif profile not in SCTP_PROFILES:
            raise SdpRejected(f"{where}: transport {profile[:32]!r} is not supported for {kind}")
        else:
            payload_types = []
        mid: str | None = None
        direction = "sendrecv"
        bundle_only = False
        ice = self.session_ice
        fingerprint = self.session_fingerprint
        rtcp_mux = False
        codecs: dict[int, str] = {}
        fmtp: list[tuple[int, str]] = []
        for number, line in group[1:]:
            if line.startswith("c="):
                _check_connection(number, line)
                continue
            if not line.startswith("a="):
                continue
            name, value = _attribute(line)
            if name == "mid":
                if not value or len(value) > MAX_MID_LENGTH or not _TOKEN.fullmatch(value):
                    raise SdpRejected(f"{where}: a=mid must be a token of 1-{MAX_MID_LENGTH}")
                mid = value
            elif name in DIRECTIONS:
                direction = name
            elif name == "bundle-only":
                bundle_only = True
            elif name in ("ice-ufrag", "ice-pwd"):
                _check_token_value(number, name, value)
                ice = ice or name == "ice-pwd"
            elif name == "fingerprint":
                self._fingerprint(number, value)
                fingerprint = True
            elif name == "rtcp-mux":
                rtcp_mux = True
            elif name == "setup" and value not in _SETUP:
                raise SdpRejected(f"SDP line {number}: a=setup:{value[:20]} is not valid")
            elif name == "rtpmap":
                pt, codec = _rtpmap(number, value)
                codecs[pt] = codec
            elif name == "fmtp":
                fmtp.append((number, value))
            else:
                _check_attribute(number, name, value)
        if mid is None:
            raise SdpRejected(f"{where} has no a=mid")
        if not ice:
            raise SdpRejected(f"{where} has no ICE credentials (a=ice-ufrag/a=ice-pwd)")
        if not fingerprint:
            raise SdpRejected(f"{where} has no DTLS fingerprint")
        for number, value in fmtp:
            # aiortc looks the payload type up among the rtpmaps (StopIteration if absent).
            if not _FMTP.fullmatch(value) or (rtp and int(value.split(" ")[0]) not in codecs):
                raise SdpRejected(f"SDP line {number}: a=fmtp is malformed or has no a=rtpmap")
        names: tuple[str, ...] = ()
        if rtp:
            if not rtcp_mux:
                raise SdpRejected(f"{where} does not use rtcp-mux (RFC 5761); it is required")
            for pt in payload_types:
                # Static payload types (RFC 3551) may omit rtpmap; dynamic ones may not.
                if pt >= 96 and pt not in codecs:
                    raise SdpRejected(f"{where}: payload type {pt} has no a=rtpmap")
            names = tuple(codecs[pt] for pt in payload_types if pt in codecs)
            supported = SUPPORTED_CODECS[kind]
            if port != 0 and not any(name in supported for name in names):
                raise SdpRejected(
                    f"{where} offers no supported {kind} codec "
                    f"({', '.join(s.upper() if s != 'opus' else 'Opus' for s in supported)})"
                )
        return MediaSection(index, kind, mid, direction, port, names, bundle_only)

    def _fingerprint(self, number: int, value: str) -> None:
        if not _FINGERPRINT.fullmatch(value):
            raise SdpRejected(f"SDP line {number}: a=fingerprint is malformed")


def _attribute(line: str) -> tuple[str, str]:
    body = line[2:]
    name, _, value = body.partition(":")
    return name, value


def _check_token_value(number: int, name: str, value: str) -> None:
    if not value or " " in value:
        raise SdpRejected(f"SDP line {number}: a={name} is malformed")


def _payload_type(where: str, text: str) -> int:
    # isascii(): str.isdigit() is also true for '²' or '①', which int() refuses (found by
    # tests/fuzz; corpus/crashers/sdp-guard-payload-type-not-decimal.sdp).
    if not (text.isascii() and text.isdigit()) or len(text) > 3:
        raise SdpRejected(f"{where}: format {text[:10]!r} is not a payload type")
    pt = int(text)
    if pt > 127 or pt in FORBIDDEN_PAYLOAD_TYPES:
        raise SdpRejected(f"{where}: payload type {pt} is not allowed")
    return pt


def _rtpmap(number: int, value: str) -> tuple[int, str]:
    match = _RTPMAP.fullmatch(value)
    if match is None:
        raise SdpRejected(f"SDP line {number}: a=rtpmap is malformed")
    pt = int(match.group(1))
    if pt > 127 or int(match.group(3)) == 0:
        raise SdpRejected(f"SDP line {number}: a=rtpmap is out of range")
    return pt, match.group(2).lower()


def _check_connection(number: int, line: str) -> None:
    parts = line[2:].split(" ")
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpRejected(f"SDP line {number}: c= line is malformed")
    address = parts[2].split("/")[0]
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise SdpRejected(f"SDP line {number}: c= address is not an IP address") from None


def _check_attribute(number: int, name: str, value: str) -> None:
    """Attributes aiortc parses with int()/split(): check their shape."""
    pattern = {
        "fmtp": _FMTP,
        "extmap": _EXTMAP,
        "ssrc": _SSRC,
        "ssrc-group": _SSRC_GROUP,
        "candidate": _CANDIDATE,
        "rtcp": _RTCP,
    }.get(name)
    if pattern is not None and not pattern.fullmatch(value):
        raise SdpRejected(f"SDP line {number}: a={name} is malformed")
    if name == "max-message-size" and not (
        value.isascii() and value.isdigit() and len(value) <= 10
    ):
        raise SdpRejected(f"SDP line {number}: a=max-message-size is malformed")
    if name == "sctp-port" and not (
        value.isascii() and value.isdigit() and len(value) <= 5 and int(value) <= 65535
    ):
        raise SdpRejected(f"SDP line {number}: a=sctp-port is malformed")
    if name == "rtcp-fb" and not value:
        raise SdpRejected(f"SDP line {number}: a=rtcp-fb is malformed")
    if name in ("ssrc", "ssrc-group"):
        fields = value.split(" ")
        numbers = fields[:1] if name == "ssrc" else fields[1:]
        if any(int(text) > 0xFFFFFFFF for text in numbers):
            raise SdpRejected(f"SDP line {number}: a={name} SSRC is out of range")
    if name == "candidate":
        fields = value.split(" ")
        if int(fields[5]) > 65535:
            raise SdpRejected(f"SDP line {number}: a=candidate port is out of range")
