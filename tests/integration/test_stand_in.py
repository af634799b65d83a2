"""Stand-ins (issue 6): a worker's video replaces a participant's camera for everyone else.

Real aiortc peers on 127.0.0.1 around an in-process MediaRoom. Alice's camera is green; the
"framer" worker receives only Alice's camera (selective subscription) and publishes red as a
stand-in for it. Bob, subscribed to Alice's camera, must see red while the stand-in is bound
and green again after, on the same slot and track sid, without being asked to renegotiate;
the worker itself keeps getting Alice's raw green.
"""

from __future__ import annotations

from typing import Any

from sfu import MediaRoom
from tests.support.aiortc_client import Exchange, MediaClient, RecordingEvents, join
from tests.support.media import ColorVideoTrack, close_to

GREEN = (0, 200, 0)
RED = (220, 0, 0)
BLUE = (0, 0, 220)
TIMEOUT = 15.0


def stand_in_exchange(room: MediaRoom, peer_id: str, target: dict[str, str]) -> Exchange:
    """The worker's exchange: every track it sends stands in for ``target["sid"]``."""

    async def exchange(sdp: str, sources: dict[str, str]) -> tuple[str, dict[str, str]]:
        stand_ins = {mid: target["sid"] for mid in sources}
        answer = await room.handle_offer(peer_id, sdp, {}, stand_ins)
        return answer.sdp, dict(answer.mids)

    return exchange


def showing(client: MediaClient, sid: str, color: tuple[int, int, int], after: int = 0) -> Any:
    def check() -> bool:
        r = client.by_sid(sid)
        return r is not None and r.frames > after and close_to(r.colors[-1], color)

    return check


async def worker_joins(
    room: MediaRoom, events: RecordingEvents, target_sid: str, color: tuple[int, int, int]
) -> MediaClient:
    worker = MediaClient("framer", tracks=[("camera", ColorVideoTrack(color))], video_slots=1)
    await room.add_peer("framer", allowed_sources=frozenset(), subscribe=True)
    room.set_subscription("framer", frozenset({target_sid}))
    events.clients["framer"] = worker
    await worker.connect(stand_in_exchange(room, "framer", {"sid": target_sid}))
    return worker


async def test_a_stand_in_replaces_a_camera_for_the_others_and_gives_it_back(room_and_events):
    room, events = room_and_events
    alice = await join(
        room, events, MediaClient("alice", tracks=[("camera", ColorVideoTrack(GREEN))])
    )
    carol = await join(
        room, events, MediaClient("carol", tracks=[("camera", ColorVideoTrack(BLUE))])
    )
    bob = await join(room, events, MediaClient("bob", video_slots=2))
    sid = next(t.sid for t in events.published if t.peer_id == "alice")
    carol_sid = next(t.sid for t in events.published if t.peer_id == "carol")
    await bob.wait_until(showing(bob, sid, GREEN), TIMEOUT)
    worker = await worker_joins(room, events, sid, RED)
    try:
        # The worker gets Alice's raw camera and nothing else.
        await worker.wait_until(showing(worker, sid, GREEN), TIMEOUT)
        assert carol_sid not in worker.mids.values()
        bob_offers = bob.answers
        await bob.wait_until(showing(bob, sid, RED), TIMEOUT)
        assert [t.sid for t in events.live_stand_ins] == [sid]
        assert bob.answers == bob_offers, "the switch needs no renegotiation"
        assert bob.by_sid(carol_sid) is not None
        assert close_to(bob.by_sid(carol_sid).colors[-1], BLUE)  # type: ignore[union-attr]
        # The worker still sees the raw camera while it stands in.
        frames = worker.by_sid(sid).frames  # type: ignore[union-attr]
        await worker.wait_until(showing(worker, sid, GREEN, frames), TIMEOUT)

        assert room.unbind_stand_in(sid)
        frames = bob.by_sid(sid).frames  # type: ignore[union-attr]
        await bob.wait_until(showing(bob, sid, GREEN, frames), TIMEOUT)
        assert bob.answers == bob_offers
        assert not room.unbind_stand_in(sid)  # nothing left to unbind
    finally:
        await worker.close()
        for client in (alice, bob, carol):
            await client.close()


async def test_when_the_worker_leaves_subscribers_get_the_camera_back(room_and_events):
    room, events = room_and_events
    alice = await join(
        room, events, MediaClient("alice", tracks=[("camera", ColorVideoTrack(GREEN))])
    )
    bob = await join(room, events, MediaClient("bob", video_slots=1))
    sid = next(t.sid for t in events.published if t.peer_id == "alice")
    worker = await worker_joins(room, events, sid, RED)
    try:
        await bob.wait_until(showing(bob, sid, RED), TIMEOUT)
        await room.remove_peer("framer")  # e.g. the worker process was killed
        frames = bob.by_sid(sid).frames  # type: ignore[union-attr]
        await bob.wait_until(showing(bob, sid, GREEN, frames), TIMEOUT)
    finally:
        await worker.close()
        await alice.close()
        await bob.close()


async def test_a_stand_in_for_nothing_valid_is_refused_and_forwards_nothing(room_and_events):
    room, events = room_and_events
    alice = await join(
        room, events, MediaClient("alice", tracks=[("camera", ColorVideoTrack(GREEN))])
    )
    bob = await join(room, events, MediaClient("bob", video_slots=1))
    sid = next(t.sid for t in events.published if t.peer_id == "alice")
    worker = await worker_joins(room, events, "TR_nosuchtrack", RED)
    try:
        assert any(
            peer == "framer" and "no published track 'TR_nosuchtrack'" in reason
            for peer, _, _, reason in events.refused
        )
        assert not events.live_stand_ins
        await bob.wait_until(showing(bob, sid, GREEN), TIMEOUT)
        frames = bob.by_sid(sid).frames  # type: ignore[union-attr]
        await bob.wait_until(showing(bob, sid, GREEN, frames + 10), TIMEOUT)
        # The refused stream was never published, so nobody was told of a new track.
        assert all(t.peer_id != "framer" for t in events.published)
    finally:
        await worker.close()
        await alice.close()
        await bob.close()


async def test_unpublishing_the_camera_unbinds_its_stand_in(room_and_events):
    room, events = room_and_events
    alice = await join(
        room, events, MediaClient("alice", tracks=[("camera", ColorVideoTrack(GREEN))])
    )
    bob = await join(room, events, MediaClient("bob", video_slots=1))
    sid = next(t.sid for t in events.published if t.peer_id == "alice")
    worker = await worker_joins(room, events, sid, RED)
    try:
        await bob.wait_until(showing(bob, sid, RED), TIMEOUT)
        await room.remove_peer("alice")
        assert [t.sid for t in events.unpublished] == [sid]
        assert not room.unbind_stand_in(sid)
        # Bob's slot no longer carries anything: the worker's red is not shown as a track.
        assert all(t.peer_id != "framer" for t in events.published)
    finally:
        await worker.close()
        await alice.close()
        await bob.close()
