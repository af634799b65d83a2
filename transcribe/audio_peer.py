"""The transcriber's receive-only audio peer connection and its negotiation.

Like the recorder's (recorder/receive_peer.py) it bundles everything on one transport and
offers one recvonly transceiver (a "slot") per track the server would send, but audio only:
a transcriber has no use for video, so video counts in ``renegotiate`` are ignored and the
SFU keeps those tracks to itself (it asks again only when the counts change, sfu/room.py,
so offering fewer slots than asked never loops). Slots are only ever added, one offer is in
flight at a time, and each answer's ``mids`` maps a receive mid to the track sid it carries.

Unlike the recorder it decodes: each slot's remote track is read with aiortc's ordinary
``track.recv()`` (Opus decoded in aiortc's decoder thread), so no aiortc internals are
touched here. A slot keeps one remote track for its whole life, while the SFU may move it
from one published track to another; ``track_sid`` tells which one it carries now.
"""

from __future__ import annotations

import asyncio
import logging
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
from aiortc.mediastreams import MediaStreamTrack

from recorder.aiortc_frames import bind_ice

logger = logging.getLogger(__name__)

# A sane bound on a ``recv`` count from the server: more is ignored, not obeyed.
MAX_AUDIO_SLOTS = 64

# Sends a signalling request (``type_``, then its fields) and returns the server's reply.
Request = Callable[..., Awaitable[dict[str, Any]]]


@dataclass
class AudioSlot:
    """One receive transceiver and, once an answer started it, its remote track."""

    index: int
    transceiver: RTCRtpTransceiver
    track: MediaStreamTrack | None = None


class AudioPeer:
    def __init__(
        self,
        rtc_addresses: tuple[str, ...],
        request: Request,
        on_track: Callable[[AudioSlot], None],
    ) -> None:
        self.slots: list[AudioSlot] = []
        self.mids: dict[str, str] = {}  # receive mid -> track sid (last answer)
        self._rtc_addresses = rtc_addresses
        self._request = request
        self._on_track = on_track
        self._pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self._wanted = 0
        self._offer_lock = asyncio.Lock()
        self._offer_pending = False
        self._tasks: set[asyncio.Task[Any]] = set()

    def track_sid(self, slot: AudioSlot) -> str | None:
        """The track sid ``slot`` carries, as of the last answer."""
        return self.mids.get(slot.transceiver.mid or "")

    # --- negotiation ----------------------------------------------------------------------

    def renegotiate(self, recv: Any) -> None:
        """Make room for ``recv["audio"]`` receive slots and offer again."""
        count = recv.get("audio") if isinstance(recv, dict) else None
        if type(count) is int and 0 <= count <= MAX_AUDIO_SLOTS:
            self._wanted = max(self._wanted, count)
        self._spawn(self._negotiate())

    async def negotiated(self) -> None:
        """Wait for the negotiation under way (if any) to finish."""
        async with self._offer_lock:
            pass

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
        for _ in range(self._wanted - len(self.slots)):
            transceiver = pc.addTransceiver("audio", direction="recvonly")
            self.slots.append(AudioSlot(len(self.slots), transceiver))
        if not self.slots:
            return  # nothing to receive yet: the server asks (renegotiate) when there is
        bind_ice(pc, self._rtc_addresses)
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self._request("offer", sdp=pc.localDescription.sdp, tracks=[])
        if reply.get("type") != "answer":
            raise RuntimeError(f"offer refused: {reply.get('code')}: {reply.get('message')}")
        mids = reply.get("mids")
        if isinstance(mids, dict):
            # Before applying the answer: media for a new slot may start as soon as the
            # answer is out, and its frames must find their track sid.
            self.mids = {str(m): str(s) for m, s in mids.items()}
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        for slot in self.slots:
            # aiortc creates a slot's remote track when the first answer starts it.
            track = slot.transceiver.receiver.track
            if slot.track is None and track is not None:
                slot.track = track
                self._on_track(slot)

    # --- life cycle -----------------------------------------------------------------------

    async def cancel_tasks(self) -> None:
        """Stop any negotiation under way."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Close the connection: every remote track ends (its ``recv`` raises)."""
        await self._pc.close()  # idempotent

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
