"""A real aiortc participant for media tests, following the Sparkle negotiation model.

The client always offers: its own tracks as sendonly transceivers (declared by mid with a
source), plus as many recvonly transceivers as the server asked for. It keeps one offer in
flight; a ``renegotiate`` request that arrives meanwhile is honoured right after the answer.

Transport-agnostic: ``exchange(sdp, sources) -> (answer_sdp, mids)`` does the round trip,
in-process (``room_exchange``) or over signalling. Everything is on 127.0.0.1 with no ICE
servers: ``gather_on`` (sfu/aiortc_hooks.py) makes aioice gather on loopback, which its
``get_host_addresses`` skips.

    client = MediaClient("alice", tracks=[("camera", ColorVideoTrack((255, 0, 0)))])
    await client.connect(room_exchange(room, "alice"))
    await client.wait_for_video_frames(1, timeout=5)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtcpSrPacket, RtpPacket

from sfu.aiortc_hooks import gather_on
from sfu.events import PublishedTrack

from .media import PreEncodedVideoTrack, mean_color

Exchange = Callable[[str, dict[str, str]], Awaitable[tuple[str, dict[str, str]]]]
LOOPBACK = ("127.0.0.1",)


def room_exchange(room: Any, peer_id: str) -> Exchange:
    """An in-process exchange with a sfu.MediaRoom."""

    async def exchange(sdp: str, sources: dict[str, str]) -> tuple[str, dict[str, str]]:
        answer = await room.handle_offer(peer_id, sdp, sources)
        return answer.sdp, dict(answer.mids)

    return exchange


@dataclass(frozen=True)
class WirePacket:
    """One RTP packet as it reached a receive slot, before aiortc's receiver saw it."""

    ssrc: int
    payload_type: int
    sequence_number: int
    timestamp: int
    marker: int
    size: int
    head: bytes  # the first payload bytes (codec descriptor / NAL header)
    digest: int  # hash of the payload, to match it with what a publisher sent
    at: float  # time.monotonic() on arrival
    # RTX (RFC 4588 4): the original sequence number in the first two payload bytes.
    original_sequence: int | None
    dropped: bool  # thrown away by the test's ``drop_rtp`` (aiortc never saw it)


@dataclass(frozen=True)
class SenderReport:
    ssrc: int
    ntp_timestamp: int  # NTP 32.32
    rtp_timestamp: int
    at: float  # time.monotonic() on arrival


@dataclass
class Received:
    """What arrived on one receive slot."""

    mid: str
    kind: str
    frames: int = 0  # decoded frames (video) or audio frames
    colors: list[tuple[int, int, int]] = field(default_factory=list)  # last video colours
    first_frame_at: float | None = None
    sid: str | None = None  # track sid from the last answer's mids
    last_frame_at: float | None = None
    wire: list[WirePacket] = field(default_factory=list)  # every RTP packet, in arrival order
    reports: list[SenderReport] = field(default_factory=list)  # RTCP SRs received
    last_frame: av.VideoFrame | None = None  # the newest decoded video frame


class MediaClient:
    def __init__(
        self,
        name: str,
        *,
        tracks: Sequence[tuple[str, MediaStreamTrack]] = (),
        audio_slots: int = 0,
        video_slots: int = 0,
        video_codec: str | None = None,
        wait_when_empty: bool = False,
    ) -> None:
        self.name = name
        # True: like the browser client, make no offer without m-sections (wait to be
        # asked); False: offer anyway (the server answers and asks for the slots it needs).
        self.wait_when_empty = wait_when_empty
        self.video_codec = video_codec  # e.g. "H264": our video tracks offer only that
        # (receive mid, packet) -> True to drop it before aiortc's receiver sees it (loss).
        self.drop_rtp: Callable[[str, RtpPacket], bool] | None = None
        # max-bundle, like the browser client (web/js/peer.js). aiortc's default, balanced,
        # gives a second m-section of a kind the first one's transport, which its BUNDLE
        # handling then stops (see sfu/peer.py): an offer with own tracks and receive
        # slots would lose a slot on the client's side already.
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.tracks = list(tracks)
        self.wanted = {"audio": audio_slots, "video": video_slots}
        self.sources: dict[str, str] = {}  # our mid -> source
        self.senders: dict[str, Any] = {}  # source -> RTCRtpSender
        self.received: dict[str, Received] = {}  # receive mid -> what arrived
        self.mids: dict[str, str] = {}  # last answer: receive mid -> track sid
        self.answers = 0
        self._exchange: Exchange | None = None
        self._lock = asyncio.Lock()
        self._pending = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._frame_event = asyncio.Event()
        self._added_tracks = False
        self.pc.on("track", self._on_track)

    # --- negotiation ------------------------------------------------------------------

    async def connect(self, exchange: Exchange) -> None:
        self._exchange = exchange
        await self.negotiate()

    def renegotiate(self, audio_slots: int, video_slots: int) -> None:
        """The server's ``renegotiate``: grow to these totals and offer again."""
        self.wanted = {
            "audio": max(self.wanted["audio"], audio_slots),
            "video": max(self.wanted["video"], video_slots),
        }
        self._spawn(self.negotiate())

    async def negotiate(self) -> None:
        if self._lock.locked():
            self._pending = True  # one offer in flight; go again after its answer
            return
        async with self._lock:
            while True:
                self._pending = False
                await self._offer_once()
                if not self._pending:
                    break

    async def _offer_once(self) -> None:
        assert self._exchange is not None, "call connect() first"
        if not self._added_tracks:
            self._added_tracks = True
            for source, track in self.tracks:
                transceiver = self.pc.addTransceiver(track, direction="sendonly")
                self.senders[source] = transceiver.sender
                if isinstance(track, PreEncodedVideoTrack):
                    track.attach_to(transceiver.sender)
                if self.video_codec is not None and transceiver.kind == "video":
                    transceiver.setCodecPreferences(_preferring(self.video_codec))
        for kind in ("audio", "video"):
            have = sum(1 for t in self._receive_transceivers() if t.kind == kind)
            for _ in range(self.wanted[kind] - have):
                self.pc.addTransceiver(kind, direction="recvonly")
        if self.wait_when_empty and not self.pc.getTransceivers():
            # Like web/js/peer.js: an offer without m-sections means nothing; the server
            # asks (renegotiate) once there is something to receive.
            return
        gather_on(self.pc, LOOPBACK, None)
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        sources: dict[str, str] = {}
        for source, track in self.tracks:
            for transceiver in self.pc.getTransceivers():
                if transceiver.sender.track is track and transceiver.mid is not None:
                    sources[transceiver.mid] = source
        self.sources = sources
        answer_sdp, mids = await self._exchange(self.pc.localDescription.sdp, sources)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
        self.mids = mids
        for mid, received in self.received.items():
            received.sid = mids.get(mid)
        self.answers += 1

    def _receive_transceivers(self) -> list[RTCRtpTransceiver]:
        return [t for t in self.pc.getTransceivers() if t.direction == "recvonly"]

    # --- receiving --------------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        transceiver = next(
            (t for t in self.pc.getTransceivers() if t.receiver.track is track), None
        )
        mid = transceiver.mid if transceiver is not None and transceiver.mid else "?"
        received = Received(mid=mid, kind=track.kind, sid=self.mids.get(mid))
        self.received[mid] = received
        if transceiver is not None:
            self._record(transceiver.receiver, received)
        self._spawn(self._consume(track, received))

    def _record(self, receiver: Any, received: Received) -> None:
        """Log every RTP packet and SR a receive slot gets (the wire as the SFU wrote it),
        optionally dropping RTP before aiortc's receiver (and its NACK generator) sees it."""
        handle_rtp = receiver._handle_rtp_packet
        handle_rtcp = receiver._handle_rtcp_packet
        rtx_types = set()

        async def on_rtp(packet: RtpPacket, arrival_time_ms: int) -> None:
            if not rtx_types:
                rtx_types.update(
                    c.payloadType
                    for c in receiver._RTCRtpReceiver__codecs.values()
                    if c.mimeType.lower().endswith("/rtx")
                )
            rtx = packet.payload_type in rtx_types and len(packet.payload) >= 2
            drop = self.drop_rtp is not None and self.drop_rtp(received.mid, packet)
            received.wire.append(
                WirePacket(
                    ssrc=packet.ssrc,
                    payload_type=packet.payload_type,
                    sequence_number=packet.sequence_number,
                    timestamp=packet.timestamp,
                    marker=packet.marker,
                    size=len(packet.payload),
                    head=packet.payload[:4],
                    digest=hash(packet.payload),
                    at=time.monotonic(),
                    original_sequence=int.from_bytes(packet.payload[:2]) if rtx else None,
                    dropped=drop,
                )
            )
            if not drop:
                await handle_rtp(packet, arrival_time_ms)

        async def on_rtcp(packet: Any) -> None:
            if isinstance(packet, RtcpSrPacket):
                info = packet.sender_info
                received.reports.append(
                    SenderReport(
                        packet.ssrc, info.ntp_timestamp, info.rtp_timestamp, time.monotonic()
                    )
                )
            await handle_rtcp(packet)

        receiver._handle_rtp_packet = on_rtp
        receiver._handle_rtcp_packet = on_rtcp

    async def _consume(self, track: MediaStreamTrack, received: Received) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                now = loop.time()
                received.frames += 1
                received.last_frame_at = now
                if received.first_frame_at is None:
                    received.first_frame_at = now
                if isinstance(frame, av.VideoFrame):
                    received.last_frame = frame
                    received.colors.append(mean_color(frame))
                    del received.colors[:-5]
                self._frame_event.set()

    def video(self) -> list[Received]:
        return [r for r in self.received.values() if r.kind == "video"]

    def audio(self) -> list[Received]:
        return [r for r in self.received.values() if r.kind == "audio"]

    def by_sid(self, sid: str) -> Received | None:
        return next((r for r in self.received.values() if r.sid == sid), None)

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float,  # noqa: ASYNC109 (enforced with asyncio.timeout below)
    ) -> None:
        """Wait (bounded) until ``predicate()`` holds; re-checked on every frame."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._frame_event.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.05):
                        await self._frame_event.wait()

    async def wait_for_video_frames(
        self,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109 (see wait_until)
    ) -> None:
        await self.wait_until(lambda: any(r.frames >= count for r in self.video()), timeout)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for _, track in self.tracks:
            track.stop()
        await self.pc.close()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _preferring(codec_name: str) -> list[Any]:
    """Video capabilities reduced to one codec (and its RTX)."""
    capabilities = RTCRtpSender.getCapabilities("video").codecs
    return [
        c
        for c in capabilities
        if c.mimeType.lower() in (f"video/{codec_name.lower()}", "video/rtx")
    ]


class RecordingEvents:
    """A sfu.events.MediaEvents that records everything and routes ``renegotiation_needed``
    to the client registered for that peer."""

    def __init__(self) -> None:
        self.published: list[PublishedTrack] = []
        self.unpublished: list[PublishedTrack] = []
        self.refused: list[tuple[str, str, str, str]] = []
        self.renegotiations: list[tuple[str, int, int]] = []
        self.speakers: list[str | None] = []
        self.live_stand_ins: list[PublishedTrack] = []
        self.states: list[tuple[str, str]] = []
        self.clients: dict[str, MediaClient] = {}

    def track_published(self, track: PublishedTrack) -> None:
        self.published.append(track)

    def track_unpublished(self, track: PublishedTrack) -> None:
        self.unpublished.append(track)

    def track_refused(self, peer_id: str, mid: str, source: str, reason: str) -> None:
        self.refused.append((peer_id, mid, source, reason))

    def stand_in_live(self, track: PublishedTrack) -> None:
        self.live_stand_ins.append(track)

    def renegotiation_needed(self, peer_id: str, audio_slots: int, video_slots: int) -> None:
        self.renegotiations.append((peer_id, audio_slots, video_slots))
        client = self.clients.get(peer_id)
        if client is not None:
            client.renegotiate(audio_slots, video_slots)

    def active_speaker_changed(self, peer_id: str | None) -> None:
        self.speakers.append(peer_id)

    def peer_state_changed(self, peer_id: str, state: str) -> None:
        self.states.append((peer_id, state))


async def join(
    room: Any,
    events: RecordingEvents,
    client: MediaClient,
    *,
    allowed_sources: frozenset[str] = frozenset(
        {"camera", "microphone", "screen_share", "screen_share_audio"}
    ),
    subscribe: bool = True,
) -> MediaClient:
    """Add ``client`` to an in-process room as peer ``client.name`` and negotiate.

    Like the browser client after ``joined``, a subscriber's first offer has a receive slot
    for every track already published by the others (at least as many as it asked for).
    """
    await room.add_peer(client.name, allowed_sources=allowed_sources, subscribe=subscribe)
    events.clients[client.name] = client
    if subscribe:
        others = [t for t in room.published_tracks() if t.peer_id != client.name]
        for kind in ("audio", "video"):
            wanted = sum(1 for t in others if t.kind == kind)
            client.wanted[kind] = max(client.wanted[kind], wanted)
    await client.connect(room_exchange(room, client.name))
    return client


def sources_of(mapping: Mapping[str, str]) -> set[str]:
    return set(mapping.values())


def loopback_settings(**overrides: Any) -> Any:
    """SfuSettings for tests: loopback only, no ICE servers, the configured defaults
    (signaling/config.py is the one place limits are defined)."""
    from dataclasses import replace

    from signaling.config import load

    settings = load(env={}, overrides={"rtc_listen_addresses": ",".join(LOOPBACK)}).sfu_settings()
    return replace(settings, ice_servers=(), **overrides)
