"""The SFU's peer connections put every m-section of an offer on one transport.

aiortc's default bundle policy ("balanced") loses the second m-section of a kind in one
offer (see sfu/peer.py ``rtc_configuration``): the control below shows aiortc 1.16 still
does, so that a change upstream is noticed; the SFU's configuration must never.
"""

from __future__ import annotations

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from sfu.aiortc_hooks import gather_on
from sfu.peer import rtc_configuration
from tests.support.aiortc_client import LOOPBACK, loopback_settings


async def _offer_with_tracks_and_slots() -> tuple[RTCPeerConnection, str]:
    """A browser-like first offer: own audio and video (sendonly), then a receive slot of
    each kind (recvonly), all in one BUNDLE group."""
    client = RTCPeerConnection(
        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )
    for kind, direction in (
        ("audio", "sendonly"),
        ("video", "sendonly"),
        ("audio", "recvonly"),
        ("video", "recvonly"),
    ):
        client.addTransceiver(kind, direction=direction)
    gather_on(client, LOOPBACK, None)
    await client.setLocalDescription(await client.createOffer())
    return client, client.localDescription.sdp


async def _answer_ports(configuration: RTCConfiguration, offer: str) -> tuple[list[int], int]:
    """The port of each m-section of the answer, and how many transports carry them."""
    server = RTCPeerConnection(configuration)
    try:
        await server.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        gather_on(server, LOOPBACK, None)
        await server.setLocalDescription(await server.createAnswer())
        transports = {t.sender.transport for t in server.getTransceivers()}
        ports = [int(line.split()[1]) for line in server.localDescription.sdp.splitlines()
                 if line.startswith("m=")]  # fmt: skip
        return ports, len(transports)
    finally:
        await server.close()


async def test_every_m_section_of_a_first_offer_shares_the_one_transport() -> None:
    client, offer = await _offer_with_tracks_and_slots()
    try:
        ports, transports = await _answer_ports(rtc_configuration(loopback_settings()), offer)
    finally:
        await client.close()
    assert transports == 1
    assert len(ports) == 4 and len(set(ports)) == 1 and ports[0] not in (0, 9), ports


async def test_control_aiortc_balanced_policy_loses_the_second_m_section_of_a_kind() -> None:
    client, offer = await _offer_with_tracks_and_slots()
    try:
        ports, transports = await _answer_ports(RTCConfiguration(iceServers=[]), offer)
    finally:
        await client.close()
    assert transports == 2
    # The second video m-section (the receive slot) keeps the stopped transport of the
    # first one: answered with the discard port and no candidates.
    assert ports[3] == 9, ports
    assert ports[2] == ports[0] != 9, ports
