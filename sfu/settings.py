"""Settings the media plane needs, handed in by whoever runs it.

Defaults and their rationale live in ``signaling/config.py`` (the one place for limits);
this dataclass has no defaults on purpose, so nothing in ``sfu/`` invents a limit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IceServer:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class SfuSettings:
    # Addresses the SFU binds its UDP sockets on. aioice drops 127.0.0.1 when it lists host
    # addresses itself, so an explicit list is the only way to serve a loopback-only host.
    listen_addresses: tuple[str, ...]
    # Address put in candidates instead of the listen address (NAT, containers); None keeps
    # the listen address. Like mediasoup's announcedAddress / LiveKit's rtc.node_ip.
    announced_address: str | None
    # Explicit ICE server list; empty means host candidates only (no public STUN default).
    ice_servers: tuple[IceServer, ...]
    max_sdp_bytes: int
    max_sdp_lines: int
    max_m_sections: int
    # A subscriber's PLI/FIR storms are collapsed into at most one PLI upstream per interval.
    pli_min_interval_s: float
    # How often the active speaker is re-evaluated.
    speaker_interval_s: float
    # SO_RCVBUF and SO_SNDBUF of every UDP socket the SFU binds (one per peer connection):
    # a scheduling hiccup must not overflow the kernel's small default and become loss.
    # 0 keeps aioice's own choice (256 KiB receive, the system's default send buffer).
    # Default and rationale: signaling/config.py, rtc_udp_buffer_bytes.
    udp_buffer_bytes: int
