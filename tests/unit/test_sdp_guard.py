"""The SDP guard refuses malformed offers with a precise reason before aiortc parses them."""

from __future__ import annotations

import random
import re

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from sfu import MediaRoom, SdpRejected
from sfu.sdp_guard import MAX_LINE_LENGTH, check_offer
from tests.support.aiortc_client import RecordingEvents, loopback_settings

LIMITS = {"max_bytes": 65536, "max_lines": 2000, "max_sections": 64}


@pytest.fixture
async def offer() -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendonly")
    pc.addTransceiver("video", direction="sendonly")
    pc.addTransceiver("video", direction="recvonly")
    sdp: str = (await pc.createOffer()).sdp
    await pc.close()
    return sdp


def rejected(sdp: object, **limits: int) -> str:
    with pytest.raises(SdpRejected) as info:
        check_offer(sdp, **{**LIMITS, **limits})
    return info.value.reason


def test_a_real_offer_passes_and_is_summarised(offer):
    summary = check_offer(offer, **LIMITS)
    assert [(s.kind, s.mid, s.direction) for s in summary.sections] == [
        ("audio", "0", "sendonly"),
        ("video", "1", "sendonly"),
        ("video", "2", "recvonly"),
    ]
    assert "opus" in summary.sections[0].codecs and "vp8" in summary.sections[1].codecs


def test_bundle_only_is_recorded(offer):
    # RFC 8843 section 6: Firefox under max-bundle sends port 0 + a=bundle-only for every
    # m-section after the first; that is "in the bundle", not "rejected".
    lines = offer.split("\r\n")
    second = [i for i, line in enumerate(lines) if line.startswith("m=")][1]
    kind, _port, rest = lines[second].split(" ", 2)
    lines[second] = f"{kind} 0 {rest}"
    lines.insert(second + 1, "a=bundle-only")
    summary = check_offer("\r\n".join(lines), **LIMITS)
    assert [(s.port == 0, s.bundle_only) for s in summary.sections] == [
        (False, False),
        (True, True),
        (False, False),
    ]


def test_size_lines_and_sections_are_bounded(offer):
    assert rejected(offer, max_bytes=100) == f"SDP is {len(offer)} bytes; the limit is 100"
    lines = offer.count("\r\n")
    assert rejected(offer, max_lines=10) == f"SDP has {lines} lines; the limit is 10"
    assert rejected(offer, max_sections=2) == "SDP has 3 m-sections; the limit is 2"
    head, _, _ = offer.partition("m=")
    section = "m=" + offer.split("m=")[1]
    many = head + "".join(re.sub("a=mid:0", f"a=mid:{i}", section) for i in range(70))
    assert rejected(many, max_bytes=10**6) == "SDP has 70 m-sections; the limit is 64"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda s: 42, "SDP must be a string"),
        (lambda s: "   ", "SDP is empty"),
        (lambda s: s.replace("v=0", "v=1"), "SDP must start with v=0"),
        (lambda s: s.replace("s=-", "s=" + "x" * (MAX_LINE_LENGTH + 1)), "characters; the limit"),
        (lambda s: s.replace("s=-", "hello"), "is not of the form <letter>=<value>"),
        (lambda s: s.replace("s=-", "s=\x00"), "control character"),
        (lambda s: s.replace("m=audio", "m=text"), "media kind 'text' is not supported"),
        (lambda s: re.sub(r"m=audio \d+", "m=audio 99999", s), "port 99999 is out of range"),
        (lambda s: s.replace("UDP/TLS/RTP/SAVPF", "TCP/MSRP", 1), "transport 'TCP/MSRP'"),
        (lambda s: re.sub(r"(m=audio \d+ \S+) \d+", r"\1 70", s), "payload type 70 is not allowed"),
        (lambda s: re.sub(r"(m=audio \d+ \S+) \d+", r"\1 300", s), "payload type 300 is not"),
        (lambda s: re.sub(r"(m=audio \d+ \S+) .*", r"\1", s), "m= line lists no formats"),
        (lambda s: s.replace("a=mid:1", "a=mid:0"), "repeats mid '0'"),
        (lambda s: s.replace("a=mid:1\r\n", ""), "has no a=mid"),
        (lambda s: s.replace("a=mid:1", "a=mid:" + "x" * 40), "a=mid must be a token"),
        (lambda s: re.sub(r"a=ice-pwd:.*\r\n", "", s), "has no ICE credentials"),
        (lambda s: re.sub(r"a=fingerprint:.*\r\n", "", s), "has no DTLS fingerprint"),
        (lambda s: s.replace("a=fingerprint:sha-256 ", "a=fingerprint:sha-256"), "fingerprint"),
        (lambda s: s.replace("a=rtcp-mux\r\n", ""), "rtcp-mux"),
        (lambda s: re.sub(r"a=rtpmap:\d+ opus.*\r\n", "", s), "has no a=rtpmap"),
        (lambda s: re.sub(r"a=rtpmap:(\d+) opus/48000/2", r"a=rtpmap:\1 opus", s), "rtpmap"),
        (lambda s: re.sub(r"a=rtpmap:(\d+) opus", r"a=rtpmap:\1 speex", s), "no supported audio"),
        (
            lambda s: re.sub(r"a=rtpmap:(\d+) (VP8|H264|rtx)", r"a=rtpmap:\1 theora", s),
            "no supported video codec (VP8, H264)",
        ),
        (lambda s: s.replace("a=fmtp:", "a=fmtp:x", 1), "a=fmtp is malformed"),
        (lambda s: s.replace("a=setup:actpass", "a=setup:sideways", 1), "a=setup:sideways"),
        (lambda s: s.replace("a=ssrc:", "a=ssrc:99999999999", 1), "a=ssrc"),
        (lambda s: s.replace("a=ssrc-group:FID ", "a=ssrc-group:FID x", 1), "a=ssrc-group"),
        (lambda s: re.sub(r"a=ssrc:(\d+) cname:\S+", r"a=ssrc:\1", s, count=1), "a=ssrc"),
        (lambda s: s.replace("c=IN IP4 0.0.0.0", "c=IN IP4 nope", 1), "c= address"),
        (lambda s: s.replace("c=IN IP4 0.0.0.0", "c=IN", 1), "c= line is malformed"),
        (lambda s: s.replace("a=extmap:1 ", "a=extmap:x ", 1), "a=extmap is malformed"),
        (
            lambda s: s.replace(
                "a=rtcp-mux", "a=candidate:1 1 udp 1 1.2.3.4 99999 typ host\r\na=rtcp-mux", 1
            ),
            "candidate port is out of range",
        ),
        (lambda s: s.replace("a=rtcp-mux", "a=candidate:garbage\r\na=rtcp-mux", 1), "candidate"),
    ],
)
def test_malformed_offers_are_refused_with_a_precise_reason(offer, mutate, reason):
    mutated = mutate(offer)
    assert mutated != offer
    assert reason in rejected(mutated)


def _mutations(offer: str, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = offer.split("\r\n")
    junk = ["", "x", "-1", "999999999999", ":", " ", "a=", "m=", "/", "\x00", "é", "0" * 50]
    out = []
    for _ in range(count):
        mutated = list(lines)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(mutated))
            line = mutated[i]
            op = rng.randrange(6)
            if op == 0:
                del mutated[i]
            elif op == 1:
                mutated.insert(i, line)
            elif op == 2 and line:
                j = rng.randrange(len(line))
                mutated[i] = line[:j] + rng.choice(junk) + line[j + 1 :]
            elif op == 3:
                mutated[i] = line[: rng.randrange(len(line) + 1)]
            elif op == 4:
                tokens = line.split(" ")
                tokens[rng.randrange(len(tokens))] = rng.choice(junk)
                mutated[i] = " ".join(tokens)
            else:
                j = rng.randrange(len(mutated))
                mutated[i], mutated[j] = mutated[j], line
        out.append("\r\n".join(mutated))
    return out


async def test_random_mutations_raise_nothing_but_sdp_rejected(offer):
    """Guard + real aiortc: a mutated offer is either applied or refused, never a crash."""
    room = MediaRoom(loopback_settings(), RecordingEvents())
    applied = refused = 0
    try:
        for i, sdp in enumerate(_mutations(offer, 250, seed=20240601)):
            peer = f"p{i}"
            await room.add_peer(peer, allowed_sources=frozenset({"camera"}), subscribe=True)
            try:
                await room.handle_offer(peer, sdp, {"0": "microphone", "1": "camera"})
                applied += 1
            except SdpRejected as exc:
                assert exc.reason and len(exc.reason) < 300
                refused += 1
            await room.remove_peer(peer)
    finally:
        await room.close()
    assert refused > 100 and applied > 0
