"""A worker's receive-only peer connection and its negotiation of receive slots.

Like the browser client it bundles everything on one transport (max-bundle) and offers one
recvonly transceiver (a "slot") per track the server says it would send (``joined``'s track
count, then each ``renegotiate``'s ``recv``), for the kinds the worker receives: a kind it
does not take is never offered, and the SFU keeps those tracks to itself (it asks again only
when the counts change, sfu/room.py, so offering fewer slots than asked never loops). Slots
are only ever added: the count wanted is the largest ever asked for. One offer is in flight
at a time; a renegotiation asked for meanwhile becomes one more offer after its answer. Each
answer's ``mids`` maps a receive mid to the track sid it carries now.

What a slot holds and what happens to its media is the worker's: a subclass makes each
slot from its new transceiver (``_new_slot``, called before the description that starts it
is applied, so a receiver can still be taken over) and may look at the slots once an answer
is applied (``_answered``). ``prepare_offer`` runs on the connection before each offer
gathers (the workers bind ICE to their addresses there: recorder/aiortc_frames.py).

A worker that also publishes (the framer's framed cameras, framing/video_peer.py) adds its
``sendonly`` transceivers in ``_add_senders`` and declares them in ``_declared_tracks``
(each offer's ``tracks``, read once the offer has its mids), and asks for a new offer with
``offer_again`` when they change; a receive-only worker leaves all three alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, Protocol, TypeVar

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)

logger = logging.getLogger(__name__)

# A sane bound on a ``recv`` count from the server: more is ignored, not obeyed.
MAX_SLOTS_PER_KIND = 64

# Sends a signalling request (``type_``, then its fields) and returns the server's reply.
Request = Callable[..., Awaitable[dict[str, Any]]]


class ReceiveSlot(Protocol):
    """What the negotiation needs of a slot: its transceiver."""

    @property
    def transceiver(self) -> RTCRtpTransceiver: ...


SlotT = TypeVar("SlotT", bound=ReceiveSlot)


class ReceiveSlots(Generic[SlotT]):
    def __init__(
        self,
        request: Request,
        prepare_offer: Callable[[RTCPeerConnection], None],
        kinds: tuple[str, ...] = ("audio", "video"),
    ) -> None:
        self.slots: list[SlotT] = []
        self.mids: dict[str, str] = {}  # receive mid -> track sid (last answer)
        self._request = request
        self._prepare_offer = prepare_offer
        self._pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self._wanted = dict.fromkeys(kinds, 0)
        self._offer_lock = asyncio.Lock()
        self._offer_pending = False
        self._tasks: set[asyncio.Task[Any]] = set()

    def track_sid(self, slot: SlotT) -> str | None:
        """The track sid ``slot`` carries, as of the last answer."""
        return self.mids.get(slot.transceiver.mid or "")

    # --- what a worker adds ---------------------------------------------------------------

    def _new_slot(self, transceiver: RTCRtpTransceiver) -> SlotT:
        raise NotImplementedError

    def _answered(self) -> None:
        """Called once each answer is applied."""

    def _add_senders(self, pc: RTCPeerConnection) -> None:
        """Add any ``sendonly`` transceiver the next offer needs (none for a receiver)."""

    def _declared_tracks(self) -> list[dict[str, Any]]:
        """The offer's ``tracks``: one entry per sending m-section, e.g. ``{"mid", "source"}``
        (called after the local description is set, so every transceiver has its mid)."""
        return []

    # --- negotiation ----------------------------------------------------------------------

    def renegotiate(self, recv: Any) -> None:
        """Make room for ``recv`` ({"audio": n, "video": m}) and offer again; a ``recv``
        that is not an object is ignored."""
        if not isinstance(recv, dict):
            return
        for kind, have in self._wanted.items():
            count = recv.get(kind)
            if type(count) is int and 0 <= count <= MAX_SLOTS_PER_KIND:
                self._wanted[kind] = max(have, count)
        self.offer_again()

    def offer_again(self) -> None:
        """Offer again (e.g. a sender was added or its declaration changed)."""
        self.spawn(self._negotiate())

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
        for kind, wanted in self._wanted.items():
            have = sum(1 for slot in self.slots if slot.transceiver.kind == kind)
            for _ in range(wanted - have):
                self.slots.append(self._new_slot(pc.addTransceiver(kind, direction="recvonly")))
        self._add_senders(pc)
        if not pc.getTransceivers():
            return  # nothing to receive yet: the server asks (renegotiate) when there is
        self._prepare_offer(pc)
        await pc.setLocalDescription(await pc.createOffer())
        tracks = self._declared_tracks()
        reply = await self._request("offer", sdp=pc.localDescription.sdp, tracks=tracks)
        if reply.get("type") != "answer":
            raise RuntimeError(f"offer refused: {reply.get('code')}: {reply.get('message')}")
        mids = reply.get("mids")
        if isinstance(mids, dict):
            # Before applying the answer: the SFU may start a new slot's media (led by the
            # keyframe it waited for) as soon as the answer is out, and its frames must
            # find their track sid.
            self.mids = {str(m): str(s) for m, s in mids.items()}
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        self._answered()

    # --- life cycle -----------------------------------------------------------------------

    async def cancel_tasks(self) -> None:
        """Stop any negotiation (or other task of the worker's peer) under way."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Close the connection: every remote track ends (its ``recv`` raises)."""
        await self._pc.close()  # idempotent

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task that ``cancel_tasks`` ends."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
