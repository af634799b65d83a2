"""The load side's peers: publishers and subscribers that talk to a ``ServerProcess``.

Every connection is an aiortc RTCPeerConnection with no ICE server (host candidates on
127.0.0.1 only, see ``loopback``), VP8 forced for video so both servers see the same codec.
Subscribers offer all their recvonly slots up front, so the SFU never has to renegotiate.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)

from .clip import ClipTrack, EncodedClip
from .raw_publisher import RawPublisher, SilentTrack
from .rtp_meter import RtpMeter
from .server_process import ServerProcess

CONNECT_TIMEOUT_S = 20.0


def new_pc() -> RTCPeerConnection:
    # An explicit empty list: RTCConfiguration() would contact Google's public STUN server.
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


def prefer_vp8(transceiver: RTCRtpTransceiver) -> None:
    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences(
        [c for c in codecs if c.mimeType.lower() in ("video/vp8", "video/rtx")]
    )


def first_payload_type(sdp: str, kind: str) -> int:
    match = re.search(rf"^m={kind} \d+ \S+ (\d+)", sdp, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {kind} m-section in the answer")
    return int(match.group(1))


async def wait_connected(pcs: list[RTCPeerConnection]) -> None:
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while any(pc.connectionState != "connected" for pc in pcs):
        states = [pc.connectionState for pc in pcs]
        if "failed" in states or "closed" in states:
            raise RuntimeError(f"a connection failed: {states}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"connections not up after {CONNECT_TIMEOUT_S} s: {states}")
        await asyncio.sleep(0.02)


# Load-side UDP receive buffers: the kernel default (net.core.rmem_default, 208 KiB, about
# 150 packets) overflows whenever this process is descheduled for ~0.1 s on a busy machine,
# and that loss would be charged to the SFU. Capped by net.core.rmem_max.
RECEIVE_BUFFER_BYTES = 4 << 20


def enlarge_receive_buffers(pc: RTCPeerConnection) -> None:
    """Call after setLocalDescription (the sockets exist once candidates are gathered)."""
    for transceiver in pc.getTransceivers():
        gatherer: Any = transceiver.receiver.transport.transport.iceGatherer
        for protocol in gatherer._connection._protocols:
            sock = protocol.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)


async def _offer(pc: RTCPeerConnection) -> str:
    await pc.setLocalDescription(await pc.createOffer())
    return str(pc.localDescription.sdp)


@dataclass
class ClipPublisher:
    """A camera + microphone publisher replaying pre-encoded media."""

    pc: RTCPeerConnection
    video: ClipTrack
    audio: ClipTrack

    @classmethod
    async def join(
        cls, server: ServerProcess, peer_id: str, video: EncodedClip, audio: EncodedClip
    ) -> ClipPublisher:
        pc = new_pc()
        video_track, audio_track = ClipTrack(video), ClipTrack(audio)
        video_tx = pc.addTransceiver(video_track, direction="sendonly")
        prefer_vp8(video_tx)
        audio_tx = pc.addTransceiver(audio_track, direction="sendonly")
        # aiortc calls _send_keyframe on PLI/FIR; on the pre-encoded path it would be ignored.
        sender: Any = video_tx.sender
        sender._send_keyframe = video_track.request_keyframe
        sdp = await _offer(pc)
        sources = {str(video_tx.mid): "camera", str(audio_tx.mid): "microphone"}
        answer = await server.join(peer_id, sdp, sources, subscribe=False)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        return cls(pc, video_track, audio_track)


@dataclass
class RawPublisherPeer:
    """A video-only publisher sending synthetic RTP at a set rate."""

    pc: RTCPeerConnection
    publisher: RawPublisher

    @classmethod
    async def join(cls, server: ServerProcess, peer_id: str) -> RawPublisherPeer:
        pc = new_pc()
        transceiver = pc.addTransceiver(SilentTrack(), direction="sendonly")
        prefer_vp8(transceiver)
        sdp = await _offer(pc)
        answer = await server.join(peer_id, sdp, {str(transceiver.mid): "camera"}, subscribe=False)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        return cls(pc, RawPublisher(transceiver.sender, first_payload_type(answer, "video")))


@dataclass
class Subscriber:
    pc: RTCPeerConnection
    meter: RtpMeter = field(default_factory=RtpMeter)

    @classmethod
    async def join(
        cls,
        server: ServerProcess,
        peer_id: str,
        *,
        video_slots: int,
        audio_slots: int,
        keep_latency: bool = False,
    ) -> Subscriber:
        pc = new_pc()
        for _ in range(video_slots):
            prefer_vp8(pc.addTransceiver("video", direction="recvonly"))
        for _ in range(audio_slots):
            pc.addTransceiver("audio", direction="recvonly")
        subscriber = cls(pc, RtpMeter(keep_latency=keep_latency))
        sdp = await _offer(pc)
        enlarge_receive_buffers(pc)
        subscriber.meter.learn_payload_types(sdp)
        subscriber.meter.attach(pc)
        answer = await server.join(peer_id, sdp, {}, subscribe=True)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        subscriber.meter.attach(pc)
        return subscriber


@dataclass
class DirectPair:
    """Publisher -> subscriber with no server: the latency baseline."""

    publisher_pc: RTCPeerConnection
    subscriber_pc: RTCPeerConnection
    publisher: RawPublisher
    meter: RtpMeter

    @classmethod
    async def connect(cls) -> DirectPair:
        publisher_pc, subscriber_pc = new_pc(), new_pc()
        transceiver = publisher_pc.addTransceiver(SilentTrack(), direction="sendonly")
        prefer_vp8(transceiver)
        offer = await _offer(publisher_pc)
        meter = RtpMeter(keep_latency=True)
        meter.learn_payload_types(offer)
        await subscriber_pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        meter.attach(subscriber_pc)
        await subscriber_pc.setLocalDescription(await subscriber_pc.createAnswer())
        enlarge_receive_buffers(subscriber_pc)
        answer = str(subscriber_pc.localDescription.sdp)
        await publisher_pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        meter.attach(subscriber_pc)
        publisher = RawPublisher(transceiver.sender, first_payload_type(answer, "video"))
        return cls(publisher_pc, subscriber_pc, publisher, meter)
