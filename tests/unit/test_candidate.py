"""Trickled ICE candidates are parsed strictly."""

from __future__ import annotations

import pytest

from sfu.candidate import parse_candidate
from sfu.errors import MediaError


def test_browser_candidates_parse():
    c = parse_candidate(
        "candidate:842163049 1 udp 1677729535 203.0.113.5 46154 typ srflx raddr 10.0.0.2 "
        "rport 46154 generation 0 ufrag abcd network-cost 999",
        "0",
        0,
    )
    assert (c.ip, c.port, c.type, c.relatedAddress, c.relatedPort, c.sdpMid) == (
        "203.0.113.5",
        46154,
        "srflx",
        "10.0.0.2",
        46154,
        "0",
    )
    mdns = parse_candidate(
        "candidate:1 1 UDP 2122252543 4f1c9e4e-2b6a-4c1b-9c1e-0c6a2b5e4e1a.local 5000 typ host",
        None,
        1,
    )
    assert mdns.protocol == "udp" and mdns.ip.endswith(".local")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x" * 2000, "the limit is 1024"),
        ("candidate:1 1 udp", "malformed"),
        ("candidate:1 1 udp 1 127.0.0.1 5000 host x", "malformed"),
        ("candidate:!! 1 udp 1 127.0.0.1 5000 typ host", "foundation"),
        ("candidate:1 0 udp 1 127.0.0.1 5000 typ host", "component"),
        ("candidate:1 1 sctp 1 127.0.0.1 5000 typ host", "udp or tcp"),
        ("candidate:1 1 udp -5 127.0.0.1 5000 typ host", "priority"),
        ("candidate:1 1 udp 99999999999 127.0.0.1 5000 typ host", "priority"),
        ("candidate:1 1 udp 1 127.0.0.1 65536 typ host", "port"),
        ("candidate:1 1 udp 1 127.0.0.1 5000 typ magic", "type must be"),
        ("candidate:1 1 udp 1 evil.example.com 5000 typ host", "neither an IP"),
        ("candidate:1 1 udp 1 127.0.0.1 5000 typ host rport", "without a value"),
        ("candidate:1 1 udp 1 127.0.0.1 5000 typ host rport x", "rport"),
    ],
)
def test_malformed_candidates_are_refused(text, reason):
    with pytest.raises(MediaError) as info:
        parse_candidate(text, "0", 0)
    assert reason in info.value.reason
