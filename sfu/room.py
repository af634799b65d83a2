"""MediaRoom: peers of one meeting and the forwarding between them (docs/media-plane.md).

The client always offers (server re-offers renumber header extensions and payload types and
crash Chromium, see docs/architecture.md). Its own tracks are sendonly m-sections, declared
by mid in ``sources``; its receive slots are recvonly m-sections. Every subscriber gets every
published track of the others: a free slot of the right kind is attached at once; when there
is none, ``renegotiation_needed`` asks the client for an offer with more slots. It is also
called when an existing slot got a new track, so the client learns the mapping from the
answer's ``mids``.

Two refinements for workers (issue 6): a peer may subscribe to some tracks only
(``set_subscription``), and a peer's video m-section may be declared a stand-in for another
peer's track (``handle_offer``'s ``stand_ins``): it is never published itself, and the
others receive it in place of that track (sfu/forwarder.py, "Stand-ins").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from aiortc import RTCRtpTransceiver, RTCSessionDescription

from .aiortc_hooks import gather_on, negotiated_codecs
from .candidate import add_candidate
from .codec_match import first_codec
from .counters import MediaCounters
from .errors import MediaError, SdpRejected, UnknownPeer, describe
from .events import SOURCE_KIND, SOURCES, Kind, MediaEvents, PublishedTrack, Source
from .forwarder import TrackForwarder
from .peer import Peer
from .sdp_guard import MediaSection, check_offer
from .settings import SfuSettings
from .slot import Slot
from .speaker import SpeakerDetector

logger = logging.getLogger(__name__)

SENDING = ("sendonly", "sendrecv")
KINDS = ("audio", "video")


@dataclass(frozen=True)
class Answer:
    sdp: str
    mids: dict[str, str]  # the subscriber's recvonly mid -> track sid it carries


class MediaRoom:
    def __init__(self, settings: SfuSettings, events: MediaEvents) -> None:
        self.settings = settings
        self.events = events
        self.counters = MediaCounters()
        self._peers: dict[str, Peer] = {}
        self._speaker = SpeakerDetector(hold_s=max(1.0, 3 * settings.speaker_interval_s))
        self._speaker_task: asyncio.Task[None] | None = None
        self._closed = False
        # source -> how many tracks of it may be published at once in this room (the owner's
        # policy: one screen share at a time, unless a host allows more).
        self._source_limits: dict[str, int] = {}

    # --- peers ----------------------------------------------------------------------

    async def add_peer(
        self, peer_id: str, *, allowed_sources: frozenset[str], subscribe: bool
    ) -> None:
        if self._closed:
            raise MediaError("the room is closed")
        if peer_id in self._peers:
            raise MediaError(f"peer {peer_id!r} is already in the room")
        peer = Peer(peer_id, self.settings, allowed_sources, subscribe)
        self._peers[peer_id] = peer

        @peer.pc.on("connectionstatechange")
        def on_state() -> None:
            self._emit(self.events.peer_state_changed, peer_id, peer.pc.connectionState)

        if self._speaker_task is None:
            self._speaker_task = asyncio.create_task(self._speaker_loop())

    async def remove_peer(self, peer_id: str) -> None:
        peer = self._peers.pop(peer_id, None)
        if peer is None:
            raise UnknownPeer(f"no peer {peer_id!r}")
        await self._close_peer(peer)

    async def _close_peer(self, peer: Peer) -> None:
        peer.closed = True
        if peer.renegotiation is not None:
            peer.renegotiation.cancel()
        for forwarder in peer.forwarders.values():
            self._unpublish(forwarder)
        for slot in peer.slots.values():
            if slot.forwarder is not None:
                slot.forwarder.detach(slot)
            slot.close()
        self._speaker.forget(peer.peer_id)
        peer.pc.remove_all_listeners()
        for forwarder in peer.forwarders.values():
            await forwarder.close()
        try:
            await peer.pc.close()
        except Exception:
            # An offer aiortc half-applied can leave it unable to close cleanly; the peer
            # is gone either way and the other peers must not notice.
            logger.exception("closing the connection of %s failed", peer.peer_id)

    def _peer(self, peer_id: str) -> Peer:
        peer = self._peers.get(peer_id)
        if peer is None:
            raise UnknownPeer(f"no peer {peer_id!r}")
        return peer

    # --- negotiation ----------------------------------------------------------------

    async def handle_offer(
        self,
        peer_id: str,
        sdp: str,
        sources: Mapping[str, str],
        stand_ins: Mapping[str, str] | None = None,
    ) -> Answer:
        """Apply a client's offer. ``sources``: its sending mids -> source. ``stand_ins``:
        sending video mids -> the sid of another peer's track they stand in for (the
        owner decides who may; refusals come back as ``track_refused``)."""
        peer = self._peer(peer_id)
        stand_ins = stand_ins or {}
        settings = self.settings
        summary = check_offer(
            sdp,
            max_bytes=settings.max_sdp_bytes,
            max_lines=settings.max_sdp_lines,
            max_sections=settings.max_m_sections,
        )
        async with peer.lock:
            if peer.closed:
                raise UnknownPeer(f"no peer {peer_id!r}")
            pc = peer.pc
            # aiortc keeps a transceiver (and its transports) for every mid it was ever
            # offered: re-offers with fresh mids would grow them without bound.
            known = [t.mid for t in pc.getTransceivers()]
            total = len(known) + len({s.mid for s in summary.sections} - set(known))
            if total > settings.max_m_sections:
                raise SdpRejected(
                    f"the offers name {total} m-sections in all; "
                    f"the limit is {settings.max_m_sections}"
                )
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            except Exception as exc:
                # aiortc's sdp.py asserts; whatever slipped past the guard ends up here.
                raise SdpRejected(f"the offer could not be applied: {describe(exc)}") from None
            gather_on(
                pc,
                settings.listen_addresses,
                settings.announced_address,
                settings.udp_buffer_bytes,
            )
            published: list[TrackForwarder] = []
            for section in summary.sections:
                if section.kind not in KINDS:
                    continue
                if section.mid in stand_ins:
                    self._apply_stand_in(peer, section, stand_ins[section.mid])
                else:
                    self._apply_section(peer, section, sources, published)
            peer.offered = True
            missing = self._reconcile(peer)
            try:
                answer = await pc.createAnswer()
                await pc.setLocalDescription(answer)
            except Exception as exc:
                raise SdpRejected(f"no answer could be made: {describe(exc)}") from None
            local = pc.localDescription
            result = Answer(sdp=local.sdp, mids=peer.mids())
        if missing and self._wanted_slots(peer) != peer.last_request:
            # Asking again for counts this offer already answered would loop forever with a
            # client that cannot add slots (seen with port-0 bundle-only sections): ask only
            # when the counts change, i.e. when a track comes or goes.
            self._schedule_renegotiation(peer)
        for forwarder in published:
            self._announce(forwarder)
        return result

    def _apply_section(
        self,
        peer: Peer,
        section: MediaSection,
        sources: Mapping[str, str],
        published: list[TrackForwarder],
    ) -> None:
        mid = section.mid
        transceiver = peer.transceiver(mid)
        if transceiver is None:
            return
        active = section.port != 0 or section.bundle_only
        sending = active and section.direction in SENDING
        forwarder = peer.forwarders.get(mid)
        if forwarder is None and sending:
            forwarder = self._new_forwarder(peer, transceiver, section, sources.get(mid))
            if forwarder is not None and self._publish(forwarder):
                published.append(forwarder)
        elif forwarder is not None and not sending:
            # The client stopped the track (inactive): a stop by the owner is over, and the
            # same mid may be offered for sending again (a new screen share).
            forwarder.stopped = False
            if forwarder.published:
                self._unpublish(forwarder)
        elif forwarder is not None and sending and self._publish(forwarder):
            # Sending again after inactive, or now allowed: the same mid publishes anew.
            published.append(forwarder)
            forwarder.restart()
        slot = peer.slots.get(mid)
        receiving = active and section.direction == "recvonly" and peer.subscribe
        if slot is None and receiving:
            peer.slots[mid] = Slot(peer.peer_id, transceiver, self.counters, self._slot_started)
        elif slot is not None and slot.open and not receiving:
            if slot.forwarder is not None:
                slot.forwarder.detach(slot)
            slot.close()

    def _apply_stand_in(self, peer: Peer, section: MediaSection, target_sid: str) -> None:
        """A sending video m-section that stands in for ``target_sid``: bound now if that
        track is published video of another peer, else refused (and left unbound)."""
        transceiver = peer.transceiver(section.mid)
        if transceiver is None:
            return
        forwarder = peer.forwarders.get(section.mid)
        active = section.port != 0 or section.bundle_only
        sending = active and section.direction in SENDING
        if forwarder is not None and forwarder.published:
            self._unpublish(forwarder)  # a published mid is re-declared: it stops being one
        if not sending:
            if forwarder is not None:
                self._unbind(forwarder)
            return
        if section.kind != "video":
            reason = "only video can stand in for a track"
            self._emit(self.events.track_refused, peer.peer_id, section.mid, "camera", reason)
            return
        if forwarder is None:
            forwarder = self._new_forwarder(peer, transceiver, section, "camera")
            if forwarder is None:
                return
        forwarder.source = None  # never published by itself
        target = self._published(target_sid)
        refusal: str | None = None
        if target is None:
            refusal = f"no published track {target_sid[:64]!r} to stand in for"
        elif target.kind != "video":
            refusal = f"track {target_sid[:64]!r} is not video"
        elif target.peer_id == peer.peer_id:
            refusal = "a peer cannot stand in for its own track"
        if refusal is not None or target is None:
            self._unbind(forwarder)
            self._emit(self.events.track_refused, peer.peer_id, section.mid, "camera", refusal)
            return
        forwarder.on_stand_in_live = self._stand_in_live
        target.bind_stand_in(forwarder)

    def _unbind(self, forwarder: TrackForwarder) -> None:
        target = forwarder.stands_in_for
        if target is not None and target.stand_in is forwarder:
            target.unbind_stand_in()

    def _stand_in_live(self, target: TrackForwarder) -> None:
        if target.track is not None:
            self._emit(self.events.stand_in_live, target.track)

    def _published(self, track_sid: str) -> TrackForwarder | None:
        for other in self._peers.values():
            for forwarder in other.forwarders.values():
                if forwarder.track is not None and forwarder.track.sid == track_sid:
                    return forwarder
        return None

    def unbind_stand_in(self, track_sid: str) -> bool:
        """Show ``track_sid`` itself again (framing off); True if it had a stand-in."""
        target = self._published(track_sid)
        if target is None or target.stand_in is None:
            return False
        target.unbind_stand_in()
        return True

    def _new_forwarder(
        self,
        peer: Peer,
        transceiver: RTCRtpTransceiver,
        section: MediaSection,
        source: str | None,
    ) -> TrackForwarder | None:
        refusal: str | None = None
        if source is None:
            refusal = f"m-section {section.mid} is not declared in the offer's tracks"
        elif source not in SOURCES:
            refusal = f"unknown source {source[:32]!r}"
        elif SOURCE_KIND[source] != section.kind:
            refusal = f"source {source} is {SOURCE_KIND[source]} but m-section is {section.kind}"
        forwarder = TrackForwarder(
            peer_id=peer.peer_id,
            mid=section.mid,
            kind=section.kind,
            source=None if refusal else source,
            receiver=transceiver.receiver,
            counters=self.counters,
            speaker=self._speaker,
            pli_min_interval_s=self.settings.pli_min_interval_s,
        )
        forwarder.codec = first_codec(negotiated_codecs(transceiver))
        peer.forwarders[section.mid] = forwarder
        if refusal is not None:
            self._emit(self.events.track_refused, peer.peer_id, section.mid, source or "", refusal)
        return forwarder

    # --- publishing -----------------------------------------------------------------

    def _publish(self, forwarder: TrackForwarder) -> bool:
        """Publish if its source is allowed; otherwise report it refused."""
        peer = self._peers.get(forwarder.peer_id)
        source = forwarder.source
        if peer is None or source is None or forwarder.published:
            return False
        if forwarder.stopped:
            return False
        if source not in peer.allowed_sources:
            reason = f"source {source} is not allowed for this participant"
            self._emit(self.events.track_refused, peer.peer_id, forwarder.mid, source, reason)
            return False
        limit = self._source_limits.get(source)
        if limit is not None and self._count_published(source) >= limit:
            reason = f"at most {limit} {source} track(s) may be forwarded at once in this room"
            self._emit(self.events.track_refused, peer.peer_id, forwarder.mid, source, reason)
            return False
        forwarder.track = PublishedTrack(
            sid="TR_" + uuid.uuid4().hex[:12],
            peer_id=forwarder.peer_id,
            kind=cast(Kind, forwarder.kind),
            source=cast(Source, source),
            mid=forwarder.mid,
        )
        self.counters.tracks_published += 1
        return True

    def _announce(self, forwarder: TrackForwarder) -> None:
        """Tell the owner, then give the track to every subscriber."""
        if forwarder.track is None:
            return
        self._emit(self.events.track_published, forwarder.track)
        for other in list(self._peers.values()):
            if other.peer_id == forwarder.peer_id or not other.subscribe:
                continue
            # A subscriber that has not offered yet had nothing to offer (no track of its
            # own, nothing published when it joined): its client waits to be asked.
            if not other.offered or self._reconcile(other, report_changes=True):
                self._schedule_renegotiation(other)

    def _unpublish(self, forwarder: TrackForwarder) -> None:
        track = forwarder.track
        if track is None:
            return
        forwarder.track = None
        self.counters.tracks_published -= 1
        stand_in = forwarder.stand_in
        if stand_in is not None:
            forwarder.unbind_stand_in()
            stand_in.release_slots()
        freed = forwarder.detach_all()
        self._emit(self.events.track_unpublished, track)
        for slot in freed:
            subscriber = self._peers.get(slot.subscriber_id)
            if (
                subscriber is not None
                and not subscriber.closed
                and self._reconcile(subscriber, report_changes=True)
            ):
                self._schedule_renegotiation(subscriber)

    def _reconcile(self, peer: Peer, *, report_changes: bool = False) -> bool:
        """Attach every published track of the others to a free slot of ``peer``.

        Returns True when ``peer`` needs a new offer: slots are missing or (with
        ``report_changes``) a slot got a track the client has not been told about.
        """
        if not peer.subscribe:
            return False
        attached = {slot.forwarder for slot in peer.slots.values() if slot.forwarder is not None}
        missing = False
        changed = False
        for other in self._peers.values():
            if other is peer:
                continue
            for forwarder in other.forwarders.values():
                if not forwarder.published or forwarder in attached:
                    continue
                if not peer.wants(forwarder):
                    continue
                free = [s for s in peer.open_slots(forwarder.kind) if s.forwarder is None]
                slot = next((s for s in free if s.accepts(forwarder.codec) is not None), None)
                if slot is not None:
                    forwarder.attach(slot)
                    changed = True
                    if slot.started:
                        forwarder.request_keyframe()
                elif not free:
                    missing = True  # free slots that cannot take this codec: a new offer won't help
        return missing or (report_changes and changed)

    def _slot_started(self, slot: Slot) -> None:
        # The subscriber's DTLS is up and the sender configured: ask for a keyframe now,
        # so a late joiner does not wait for the publisher's next spontaneous one.
        if slot.forwarder is not None:
            slot.forwarder.request_keyframe()

    def _schedule_renegotiation(self, peer: Peer) -> None:
        """Coalesced and deferred by one loop turn so an answer being returned goes first."""
        if peer.renegotiation is None and not peer.closed:
            peer.renegotiation = asyncio.get_running_loop().call_soon(self._renegotiate, peer)

    def _wanted_slots(self, peer: Peer) -> tuple[int, int]:
        """(audio, video) receive slots ``peer`` needs for everything the others publish."""
        counts: dict[str, int] = {}
        for kind in KINDS:
            wanted = sum(
                1
                for other in self._peers.values()
                if other is not peer
                for f in other.forwarders.values()
                if f.published and f.kind == kind and peer.wants(f)
            )
            counts[kind] = max(wanted, len(peer.open_slots(kind)))
        return counts["audio"], counts["video"]

    def _renegotiate(self, peer: Peer) -> None:
        peer.renegotiation = None
        if peer.closed:
            return
        audio, video = peer.last_request = self._wanted_slots(peer)
        self._emit(self.events.renegotiation_needed, peer.peer_id, audio, video)

    # --- trickle ICE ----------------------------------------------------------------

    async def add_ice_candidate(
        self, peer_id: str, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None:
        await add_candidate(self._peer(peer_id).pc, candidate, sdp_mid, sdp_mline_index)

    # --- control --------------------------------------------------------------------

    def set_allowed_sources(self, peer_id: str, sources: frozenset[str]) -> None:
        peer = self._peer(peer_id)
        peer.allowed_sources = sources
        for forwarder in list(peer.forwarders.values()):
            if forwarder.source is None:
                continue
            if forwarder.published and forwarder.source not in sources:
                self._unpublish(forwarder)
            elif (
                not forwarder.published
                and forwarder.source in sources
                and self._sending(peer, forwarder)
                and self._publish(forwarder)
            ):
                self._announce(forwarder)
                forwarder.request_keyframe()

    def set_source_limit(self, source: str, limit: int | None) -> None:
        """At most ``limit`` published tracks of ``source`` in the room (None: no limit).
        Tracks already published stay; the limit applies to the next ones."""
        if limit is None:
            self._source_limits.pop(source, None)
        else:
            self._source_limits[source] = limit

    def _count_published(self, source: str) -> int:
        return sum(
            1
            for peer in self._peers.values()
            for f in peer.forwarders.values()
            if f.published and f.source == source
        )

    def stop_source(self, peer_id: str, source: str) -> bool:
        """Stop forwarding ``peer_id``'s tracks of ``source`` now, and keep them stopped
        while the client keeps sending them; True if one was published."""
        peer = self._peer(peer_id)
        stopped = False
        for forwarder in list(peer.forwarders.values()):
            if forwarder.source != source:
                continue
            forwarder.stopped = True
            if forwarder.published:
                self._unpublish(forwarder)
                stopped = True
        return stopped

    def set_subscribe(self, peer_id: str, subscribe: bool) -> None:
        """Start (or stop) giving ``peer_id`` the others' tracks; starting asks its client
        for an offer with receive slots (``renegotiation_needed``)."""
        peer = self._peer(peer_id)
        if peer.subscribe == subscribe:
            return
        peer.subscribe = subscribe
        if subscribe:
            self._reconcile(peer)
            self._schedule_renegotiation(peer)
        else:
            for slot in peer.slots.values():
                if slot.forwarder is not None:
                    slot.forwarder.detach(slot)

    def set_subscription(self, peer_id: str, only: frozenset[str] | None) -> None:
        """Give ``peer_id`` only the tracks whose sids are in ``only`` (None: every track).
        Slots carrying other tracks are freed; new ones are attached or asked for."""
        peer = self._peer(peer_id)
        if peer.only == only:
            return
        peer.only = only
        for slot in peer.slots.values():
            forwarder = slot.forwarder
            if forwarder is not None and not peer.wants(forwarder):
                forwarder.detach(slot)
        if peer.subscribe and peer.offered and self._reconcile(peer, report_changes=True):
            self._schedule_renegotiation(peer)

    def _sending(self, peer: Peer, forwarder: TrackForwarder) -> bool:
        transceiver = peer.transceiver(forwarder.mid)
        return transceiver is not None and transceiver.currentDirection in ("recvonly", "sendrecv")

    def set_muted(self, peer_id: str, source: str, muted: bool) -> None:
        peer = self._peer(peer_id)
        for forwarder in peer.forwarders.values():
            if forwarder.source != source or forwarder.muted == muted:
                continue
            forwarder.muted = muted
            if muted:
                if forwarder.kind == "audio":
                    self._speaker.forget(peer_id)
            else:
                forwarder.restart()

    def published_tracks(self) -> list[PublishedTrack]:
        return [f.track for p in self._peers.values() for f in p.forwarders.values() if f.track]

    async def close(self) -> None:
        self._closed = True
        peers = list(self._peers.values())
        self._peers.clear()
        for peer in peers:
            await self._close_peer(peer)
        if self._speaker_task is not None:
            self._speaker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._speaker_task
            self._speaker_task = None

    async def _speaker_loop(self) -> None:
        interval = self.settings.speaker_interval_s
        current: str | None = None
        while True:
            await asyncio.sleep(interval)
            speaker = self._speaker.evaluate(time.monotonic())
            if speaker != current:
                current = speaker
                self._emit(self.events.active_speaker_changed, speaker)

    def _emit(self, handler: Callable[..., Any], *args: Any) -> None:
        """The owner's handlers must not break the media plane."""
        try:
            handler(*args)
        except Exception:
            logger.exception("media event handler %s failed", getattr(handler, "__name__", "?"))
