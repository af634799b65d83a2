"""Every aiortc internal the recorder uses (aiortc 1.16.x, aioice 0.13), in one place.

aiortc has no API that hands out encoded frames: a receiver reassembles frames in its jitter
buffer and puts ``(codec, JitterFrame)`` on a queue that a decoder thread
(``aiortc.rtcrtpreceiver.decoder_worker``) drains. The recorder never decodes, so
``FrameTap`` takes that queue over *per receiver*:

- the receiver's decoder queue becomes a ``FrameQueue`` whose ``put`` hands each encoded
  frame straight to the recorder (on the event-loop thread, where ``_handle_rtp_packet``
  runs): no decoder is ever created, no frame crosses a thread, and ``decoder_worker`` itself
  only ever sees the ``None`` that ends it on ``stop()``. This has the effect of replacing
  ``decoder_worker`` without patching the module global for the whole process (which would
  also take over the receivers of any other peer living in the same process, e.g. a test's
  publishers);
- the receiver's ``TimestampMapper`` (which rebases timestamps to 0 and treats any decrease
  as a 32-bit wrap) is replaced by the identity, so ``JitterFrame.timestamp`` is the RTP
  timestamp as sent, the one RTCP sender reports refer to (RFC 3550 section 6.4.1);
- RTCP sender reports reaching the receiver are reported (their NTP/RTP pair lines the
  track up with wall-clock time);
- a keyframe can be requested (PLI, RFC 4585 section 6.3.1).

``bind_ice`` makes ICE gather on given local addresses: aioice's ``get_host_addresses``
always skips 127.0.0.1, so a recorder on the same host as a loopback-only server needs it.

Each private name is listed in ``PRIVATE_NAMES`` and checked, along with the behaviour relied
on, by tests/unit/test_recorder_aiortc_frames.py.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Sequence
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtcpSrPacket

logger = logging.getLogger(__name__)

# (class, attribute) pairs this module reads or replaces; the guard test checks each one.
PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("RTCRtpReceiver", "_RTCRtpReceiver__decoder_queue"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__timestamp_mapper"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__remote_bitrate_estimator"),
    ("RTCRtpReceiver", "_handle_rtcp_packet"),
    ("RTCRtpReceiver", "_send_rtcp_pli"),
    ("RTCIceGatherer", "_connection"),
)

# One encoded frame: (codec parameters, depayloaded frame bytes, RTP timestamp).
FrameSink = Callable[[RTCRtpCodecParameters, bytes, int], None]
# One sender report: (sender SSRC, NTP timestamp 32.32, RTP timestamp).
ReportSink = Callable[[int, int, int], None]


class FrameQueue:
    """Stands in for a receiver's ``queue.Queue`` of frames to decode.

    ``put`` is called by ``RTCRtpReceiver._handle_rtp_packet`` on the event loop for every
    reassembled frame; ``get`` is called by the idle ``decoder_worker`` thread, which thus
    only ever receives the ``None`` that ends it.
    """

    def __init__(self, on_frame: FrameSink) -> None:
        self._on_frame = on_frame
        self._control: queue.Queue[None] = queue.Queue()
        self.frames = 0
        self.failures = 0

    def put(self, item: tuple[RTCRtpCodecParameters, Any] | None) -> None:
        if item is None:
            self._control.put(None)
            return
        codec, frame = item
        self.frames += 1
        # An exception here would escape into the DTLS transport's receive loop and end the
        # whole connection: a frame the recorder cannot take is dropped and counted instead.
        try:
            self._on_frame(codec, bytes(frame.data), int(frame.timestamp) & 0xFFFFFFFF)
        except Exception:
            self.failures += 1
            logger.exception("recording a %s frame failed", codec.mimeType)

    def get(self, block: bool = True, timeout: float | None = None) -> None:
        return self._control.get(block, timeout)


class IdentityTimestamps:
    """In place of aiortc's ``TimestampMapper``: keep RTP timestamps as they are."""

    def map(self, timestamp: int) -> int:
        return timestamp


class FrameTap:
    """Takes over one ``RTCRtpReceiver`` before it starts (call right after
    ``addTransceiver``, before the description that starts it is applied)."""

    def __init__(self, receiver: RTCRtpReceiver, on_frame: FrameSink, on_report: ReportSink):
        self.receiver = receiver
        self.queue = FrameQueue(on_frame)
        r: Any = receiver
        r._RTCRtpReceiver__decoder_queue = self.queue
        r._RTCRtpReceiver__timestamp_mapper = IdentityTimestamps()
        # No REMB from a recorder: its bandwidth estimate (Python, per video packet, aiortc
        # rate/remote_bitrate_estimator) steers nothing, since the SFU forwards what the
        # publisher sends whatever a subscriber estimates; it was the biggest per-packet cost
        # left on the recorder's receive path.
        r._RTCRtpReceiver__remote_bitrate_estimator = None
        original_rtcp = receiver._handle_rtcp_packet

        async def handle_rtcp(packet: Any) -> None:
            await original_rtcp(packet)
            # An SR sent before its sender forwarded anything carries NTP 0: no mapping yet.
            if isinstance(packet, RtcpSrPacket) and packet.sender_info.ntp_timestamp:
                info = packet.sender_info
                try:
                    on_report(packet.ssrc, info.ntp_timestamp, info.rtp_timestamp)
                except Exception:
                    logger.exception("handling a sender report failed")

        r._handle_rtcp_packet = handle_rtcp

    def media_ssrc(self) -> int | None:
        """The SSRC the receiver last got media from (public API)."""
        sources = self.receiver.getSynchronizationSources()
        return sources[-1].source if sources else None

    async def request_keyframe(self) -> bool:
        """Send a PLI for the received stream; False if nothing was received yet."""
        ssrc = self.media_ssrc()
        if ssrc is None:
            return False
        await self.receiver._send_rtcp_pli(ssrc)
        return True


def bind_ice(pc: RTCPeerConnection, addresses: Sequence[str]) -> None:
    """Make every ICE gatherer of ``pc`` bind on ``addresses`` (instead of aioice's own list,
    which never has 127.0.0.1: aioice/ice.py ``get_host_addresses``). Call after adding
    transceivers, before ``setLocalDescription`` gathers; idempotent. Empty: no change."""
    wanted = list(addresses)
    if not wanted:
        return
    for transceiver in pc.getTransceivers():
        gatherer: Any = transceiver.receiver.transport.transport.iceGatherer
        if getattr(gatherer, "_sparkle_bound", False):
            continue
        connection: Any = gatherer._connection
        original = connection.get_component_candidates

        async def get_component_candidates(
            component: int,
            addresses: list[str],
            timeout: int = 5,  # noqa: ASYNC109 (aioice's signature)
            _original: Any = original,
        ) -> Any:
            return await _original(component=component, addresses=wanted, timeout=timeout)

        connection.get_component_candidates = get_component_candidates
        gatherer._sparkle_bound = True
