"""The recorder's receive-only peer connection and its negotiation.

Like the browser client it bundles everything on one transport (max-bundle) and offers one
recvonly transceiver (a "slot") per track the server says it would send (``joined``'s track
count, then each ``renegotiate``'s ``recv``). Slots are only ever added: the count wanted is
the largest ever asked for. One offer is in flight at a time; a renegotiation asked for
meanwhile becomes one more offer after its answer. Each answer's ``mids`` maps a receive
mid to the track sid it carries now.

Encoded frames and RTCP sender reports come from aiortc's receivers through FrameTap
(recorder/aiortc_frames.py) and go to the session's callbacks with the slot they came on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from .aiortc_frames import FrameTap, bind_ice
from .track_recording import SenderReport

logger = logging.getLogger(__name__)

# At most one keyframe request per video slot in this interval (the SFU rate-limits too).
KEYFRAME_REQUEST_INTERVAL_S = 1.0
# A sane bound on a ``recv`` count from the server: more is ignored, not obeyed.
MAX_SLOTS_PER_KIND = 64

# Sends a signalling request (``type_``, then its fields) and returns the server's reply.
Request = Callable[..., Awaitable[dict[str, Any]]]


@dataclass
class Slot:
    """One receive transceiver."""

    transceiver: RTCRtpTransceiver
    tap: FrameTap
    report: SenderReport | None = None  # the last RTCP sender report on this slot
    last_keyframe_request: float = 0.0


class ReceivePeer:
    def __init__(
        self,
        rtc_addresses: tuple[str, ...],
        request: Request,
        on_frame: Callable[[Slot, RTCRtpCodecParameters, bytes, int], None],
        on_report: Callable[[Slot, SenderReport], None],
    ) -> None:
        self.slots: list[Slot] = []
        self.mids: dict[str, str] = {}  # receive mid -> track sid (last answer)
        self._rtc_addresses = rtc_addresses
        self._request = request
        self._on_frame = on_frame
        self._on_report = on_report
        self._pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self._wanted = {"audio": 0, "video": 0}
        self._offer_lock = asyncio.Lock()
        self._offer_pending = False
        self._tasks: set[asyncio.Task[Any]] = set()

    def track_sid(self, slot: Slot) -> str | None:
        """The track sid ``slot`` carries, as of the last answer."""
        return self.mids.get(slot.transceiver.mid or "")

    def report_for(self, sid: str) -> SenderReport | None:
        """The last sender report on the slot that carries track ``sid``."""
        return next((s.report for s in self.slots if self.track_sid(s) == sid), None)

    # --- negotiation ----------------------------------------------------------------------

    def renegotiate(self, recv: dict[str, Any]) -> None:
        """Make room for ``recv`` ({"audio": n, "video": m}) and offer again."""
        for kind in ("audio", "video"):
            count = recv.get(kind)
            if isinstance(count, int) and 0 <= count <= MAX_SLOTS_PER_KIND:
                self._wanted[kind] = max(self._wanted[kind], count)
        self._spawn(self._negotiate())

    async def _negotiate(self) -> None:
        if self._offer_lock.locked():
            self._offer_pending = True  # one offer in flight; go again after its answer
            return
        async with self._offer_lock:
            while True:
                self._offer_pending = False
                try:
                    await self._offer_once()
                except Exception:
                    logger.exception("negotiation failed")
                if not self._offer_pending:
                    return

    async def _offer_once(self) -> None:
        pc = self._pc
        for kind in ("audio", "video"):
            have = sum(1 for slot in self.slots if slot.transceiver.kind == kind)
            for _ in range(self._wanted[kind] - have):
                self._add_slot(pc.addTransceiver(kind, direction="recvonly"))
        if not self.slots:
            return  # nothing to receive yet: the server asks (renegotiate) when there is
        bind_ice(pc, self._rtc_addresses)
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self._request("offer", sdp=pc.localDescription.sdp, tracks=[])
        if reply.get("type") != "answer":
            raise RuntimeError(f"offer refused: {reply.get('code')}: {reply.get('message')}")
        mids = reply.get("mids")
        if isinstance(mids, dict):
            # Before applying the answer: the SFU may start a new slot's media (led by the
            # keyframe it waited for) as soon as the answer is out.
            self.mids = {str(m): str(s) for m, s in mids.items()}
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    def _add_slot(self, transceiver: RTCRtpTransceiver) -> None:
        slot: Slot

        def on_frame(codec: RTCRtpCodecParameters, data: bytes, timestamp: int) -> None:
            self._on_frame(slot, codec, data, timestamp)

        def on_report(ssrc: int, ntp: int, rtp: int) -> None:
            slot.report = report = SenderReport(ntp, rtp)
            self._on_report(slot, report)

        slot = Slot(transceiver, FrameTap(transceiver.receiver, on_frame, on_report))
        self.slots.append(slot)

    # --- keyframes ------------------------------------------------------------------------

    def request_keyframe(self, slot: Slot) -> None:
        """Ask the sender for a keyframe on ``slot`` (PLI), at most once an interval."""
        now = time.monotonic()
        if now - slot.last_keyframe_request >= KEYFRAME_REQUEST_INTERVAL_S:
            slot.last_keyframe_request = now
            self._spawn(slot.tap.request_keyframe())

    def request_video_keyframes(self) -> None:
        for slot in self.slots:
            if slot.transceiver.kind == "video":
                self.request_keyframe(slot)

    # --- life cycle -----------------------------------------------------------------------

    async def cancel_tasks(self) -> None:
        """Stop any negotiation or keyframe request under way."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        await self._pc.close()  # idempotent

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
