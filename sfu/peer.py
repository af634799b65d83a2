"""One participant's media state: its RTCPeerConnection, published tracks, receive slots."""

from __future__ import annotations

import asyncio

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
)

from .forwarder import TrackForwarder
from .settings import SfuSettings
from .slot import Slot


def rtc_configuration(settings: SfuSettings) -> RTCConfiguration:
    """Always an explicit server list: RTCConfiguration() without one contacts Google's
    public STUN server (aiortc RTCIceGatherer.getDefaultIceServers).

    Always max-bundle. With aiortc's default, balanced, a transceiver created for the
    second m-section of a kind in one offer shares the transport of the first one of that
    kind and is flagged bundled (rtcpeerconnection.py ``__createTransceiver``); when the
    offer's BUNDLE group then moves the first one onto the group's transport, aiortc stops
    that shared transport but skips the flagged transceiver (``setRemoteDescription``,
    "remove bundled transports"). Its m-section is answered with port 9 and no candidates
    and ``__connect`` never starts its sender: a receive slot in a first offer that also
    carries the client's own track of that kind never got a packet. Max-bundle puts every
    transceiver on the first one's transport, which is what the answer's BUNDLE group
    (aiortc always bundles every m-section) says anyway.
    """
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in settings.ice_servers
        ],
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
    )


class Peer:
    def __init__(
        self, peer_id: str, settings: SfuSettings, allowed_sources: frozenset[str], subscribe: bool
    ) -> None:
        self.peer_id = peer_id
        self.allowed_sources = allowed_sources
        self.subscribe = subscribe
        # The only track sids this peer receives (a framing worker's targets); None: all.
        self.only: frozenset[str] | None = None
        self.pc = RTCPeerConnection(rtc_configuration(settings))
        self.lock = asyncio.Lock()  # one offer at a time
        self.forwarders: dict[str, TrackForwarder] = {}  # by the peer's mid
        self.slots: dict[str, Slot] = {}  # by the peer's mid
        self.offered = False
        self.renegotiation: asyncio.Handle | None = None
        # The (audio, video) slot counts last asked for; never asked twice for the same.
        self.last_request: tuple[int, int] | None = None
        self.closed = False

    def transceiver(self, mid: str) -> RTCRtpTransceiver | None:
        for transceiver in self.pc.getTransceivers():
            if transceiver.mid == mid:
                return transceiver
        return None

    def wants(self, forwarder: TrackForwarder) -> bool:
        """Whether this peer subscribes to ``forwarder``'s (published) track."""
        only = self.only
        return only is None or (forwarder.track is not None and forwarder.track.sid in only)

    def open_slots(self, kind: str) -> list[Slot]:
        return [s for s in self.slots.values() if s.open and s.kind == kind]

    def mids(self) -> dict[str, str]:
        """Receive slots now carrying a published track: mid -> track sid."""
        result: dict[str, str] = {}
        for mid, slot in self.slots.items():
            forwarder = slot.forwarder
            if slot.open and forwarder is not None and forwarder.track is not None:
                result[mid] = forwarder.track.sid
        return result
