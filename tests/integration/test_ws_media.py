"""Media through the signalling protocol: real aiortc clients join over the WebSocket with
real tokens, offer, renegotiate when asked, and receive each other's pictures and sound."""

from __future__ import annotations

import asyncio

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection

from sfu.aiortc_hooks import gather_on
from signaling.appkeys import ROOMS
from signaling.tokens import Grants
from tests.conftest import RunningServer
from tests.support.aiortc_client import LOOPBACK, MediaClient
from tests.support.media import ColorVideoTrack, ToneAudioTrack
from tests.support.media_participant import participant, track_sid
from tests.support.ws_client import WsClient, mint

RED = (230, 30, 30)
BLUE = (40, 60, 230)
GREEN = (40, 200, 60)
YELLOW = (230, 210, 40)


async def test_three_clients_publish_receive_mute_and_leave(server: RunningServer) -> None:
    async with (
        participant(
            server,
            "media",
            "alice",
            [("camera", ColorVideoTrack(RED)), ("microphone", ToneAudioTrack())],
        ) as alice,
        participant(server, "media", "bob", [("camera", ColorVideoTrack(BLUE))]) as bob,
    ):
        # Bob joined after Alice published: her tracks are in his joined message.
        alice_camera = track_sid(bob.joined["tracks"], alice.sid, "camera")
        alice_microphone = track_sid(bob.joined["tracks"], alice.sid, "microphone")
        published = await alice.ws.wait_for("track_published")
        bob_camera = track_sid(published["track"], bob.sid, "camera")
        assert published["track"] == {
            "sid": bob_camera, "participant_sid": bob.sid, "kind": "video",
            "source": "camera", "muted": False,
        }  # fmt: skip
        await alice.media.wait_until(lambda: alice.sees(bob_camera, BLUE), timeout=15)
        await bob.media.wait_until(
            lambda: bob.sees(alice_camera, RED) and bob.frames_from(alice_microphone) >= 10,
            timeout=15,
        )

        # A late joiner gets both publishers from its first offer (slots from ``joined``).
        async with participant(
            server, "media", "carol", [("camera", ColorVideoTrack(GREEN))]
        ) as carol:
            assert {(t["participant_sid"], t["source"]) for t in carol.joined["tracks"]} == {
                (alice.sid, "camera"), (alice.sid, "microphone"), (bob.sid, "camera"),
            }  # fmt: skip
            await carol.media.wait_until(
                lambda: carol.sees(alice_camera, RED) and carol.sees(bob_camera, BLUE),
                timeout=15,
            )
            carol_camera = track_sid(
                (await alice.ws.wait_for("track_published"))["track"], carol.sid, "camera"
            )
            await alice.media.wait_until(lambda: alice.sees(carol_camera, GREEN), timeout=15)
            assert carol.media.answers == 1  # no renegotiation round trip

            # Mute is announced to the others with the track it concerns.
            await alice.ws.send("mute", source="microphone", muted=True)
            for other in (bob, carol):
                muted = await other.ws.wait_for("track_muted")
                assert muted == {
                    "type": "track_muted", "track_sid": alice_microphone,
                    "participant_sid": alice.sid, "source": "microphone", "muted": True,
                }  # fmt: skip

            # Carol's socket drops without a leave: her track and then she are gone.
            await carol.ws.ws.close()
            for other in (alice, bob):
                unpublished = await other.ws.wait_for("track_unpublished", within=2.0)
                assert unpublished == {
                    "type": "track_unpublished",
                    "track_sid": carol_camera,
                    "participant_sid": carol.sid,
                }
                left = await other.ws.wait_for("participant_left", within=2.0)
                assert left["participant_sid"] == carol.sid
                assert left["reason"] == "disconnected"
                order = [m["type"] for m in other.ws.received]
                assert order.index("track_unpublished") < order.index("participant_left")

        # Bob leaves properly; Alice is told, and the media keeps flowing for those left.
        await bob.ws.send("leave")
        assert (await bob.ws.wait_for("bye"))["reason"] == "left"
        unpublished = await alice.ws.wait_for("track_unpublished", within=2.0)
        assert unpublished["track_sid"] == bob_camera
        left = await alice.ws.wait_for("participant_left", within=2.0)
        assert (left["participant_sid"], left["reason"]) == (bob.sid, "left")
        room = server.app[ROOMS].live_room("media")
        assert room is not None and room.participant_count == 1
        assert not [t for t in room.media.published_tracks() if t.peer_id == bob.sid]


async def test_a_camera_without_the_grant_is_never_forwarded(server: RunningServer) -> None:
    microphone_only = Grants(
        room_join=True, can_subscribe=True, can_publish_sources=frozenset({"microphone"})
    )
    async with (
        participant(server, "grants", "watcher") as watcher,
        participant(
            server,
            "grants",
            "guest",
            [("camera", ColorVideoTrack(YELLOW)), ("microphone", ToneAudioTrack())],
            grants=microphone_only,
        ) as guest,
    ):
        refused = await guest.ws.wait_error("source_not_allowed")
        assert "camera" in refused["message"] and refused["fatal"] is False
        published = await watcher.ws.wait_for("track_published")
        assert published["track"]["source"] == "microphone"
        # Audio from the guest flows, so the media path works...
        await watcher.media.wait_until(
            lambda: any(r.frames >= 25 for r in watcher.media.audio()), timeout=15
        )
        # ... yet not one video frame arrived and no camera track was ever announced.
        assert sum(r.frames for r in watcher.media.video()) == 0
        sources = [
            m["track"]["source"] for m in watcher.ws.received if m["type"] == "track_published"
        ]
        assert sources == ["microphone"]
        room = server.app[ROOMS].live_room("grants")
        assert room is not None
        assert {t.source for t in room.media.published_tracks()} == {"microphone"}


async def test_a_bad_offer_is_rejected_while_the_others_keep_their_media(
    server: RunningServer,
) -> None:
    async with (
        participant(server, "sdp", "alice", [("camera", ColorVideoTrack(RED))]) as alice,
        participant(server, "sdp", "bob") as bob,
    ):
        camera = track_sid(bob.joined["tracks"], alice.sid, "camera")
        await bob.media.wait_until(lambda: bob.sees(camera, RED), timeout=15)
        async with WsClient.connect(server.base_url) as mallory:
            await mallory.join(mint(server.tokens, "sdp", "mallory", name="M"))
            for sdp in ("v=0\r\nthis is not sdp\r\n", "", "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" * 3):
                reply = await mallory.request("offer", sdp=sdp, tracks=[])
                assert reply["type"] == "error" and reply["code"] == "sdp_rejected", reply
                assert reply["message"] and reply["message"] != "the SDP offer was rejected"
            before = bob.frames_from(camera)
            await bob.media.wait_until(lambda: bob.frames_from(camera) >= before + 10, 10)
            assert (await mallory.request("ping"))["type"] == "pong"


async def test_a_second_offer_before_the_answer_is_refused(server: RunningServer) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("video", direction="recvonly")
        gather_on(pc, LOOPBACK, None)
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        async with WsClient.connect(server.base_url) as client:
            await client.join(mint(server.tokens, "inflight", "ann", name="Ann"))
            await client.send("offer", sdp=sdp, tracks=[], id="first")
            await client.send("offer", sdp=sdp, tracks=[], id="second")
            refused = await client.wait_error("offer_in_flight")
            assert refused["id"] == "second"
            answer = await client.wait_for("answer", within=10)
            assert answer["id"] == "first" and answer["sdp"].startswith("v=0")
            # Once answered, a new offer is accepted again.
            again = await client.request("offer", sdp=sdp, tracks=[])
            assert again["type"] in ("answer", "error")
            assert again.get("code") != "offer_in_flight"
    finally:
        await pc.close()


async def test_muted_before_publishing_is_announced_and_not_forwarded(
    server: RunningServer,
) -> None:
    async with participant(server, "early-mute", "bob") as bob:
        token = mint(server.tokens, "early-mute", "alice", name="Alice")
        async with WsClient.connect(server.base_url) as ws:
            joined = await ws.join(token)
            await ws.send("mute", source="microphone", muted=True)
            media = MediaClient(
                "alice", tracks=[("camera", ColorVideoTrack(RED)), ("microphone", ToneAudioTrack())]
            )
            try:
                ws.route_renegotiate(media.renegotiate)
                await media.connect(ws.offer_exchange())
                alice_sid = joined["participant"]["sid"]
                announced = {}
                for _ in range(2):
                    track = (await bob.ws.wait_for("track_published"))["track"]
                    announced[track["source"]] = track
                assert announced["microphone"]["muted"] is True
                assert announced["camera"]["muted"] is False
                camera = track_sid(announced["camera"], alice_sid, "camera")
                await bob.media.wait_until(lambda: bob.sees(camera, RED, frames=10), timeout=15)
                await asyncio.sleep(1.0)  # audio starts later than video: give it time
                # Video flowed for a while; the muted microphone sent nothing.
                assert sum(r.frames for r in bob.media.audio()) == 0
                # Unmuting lets it through.
                await ws.send("mute", source="microphone", muted=False)
                unmuted = await bob.ws.wait_for("track_muted")
                assert unmuted["muted"] is False and unmuted["source"] == "microphone"
                await bob.media.wait_until(
                    lambda: any(r.frames >= 10 for r in bob.media.audio()), timeout=15
                )
            finally:
                await media.close()


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_forwarding_totals_survive_the_room_ending(server: RunningServer) -> None:
    # Regression: the totals were summed over live rooms only, so /metrics counters went
    # back to 0 when a meeting ended (Prometheus counters must never decrease).
    async with aiohttp.ClientSession() as http:
        async with (
            participant(server, "ending", "alice", [("camera", ColorVideoTrack(RED))]) as alice,
            participant(server, "ending", "bob") as bob,
        ):
            camera = track_sid(
                bob.joined["tracks"] or [(await bob.ws.wait_for("track_published"))["track"]],
                alice.sid,
                "camera",
            )
            await bob.media.wait_until(lambda: bob.sees(camera, RED), timeout=15)
            async with http.get(server.url("/metrics")) as response:
                during = _metric(await response.text(), "sparkle_packets_forwarded_total")
            assert during > 0
        for _ in range(100):
            if server.app[ROOMS].live_room("ending") is None:
                break
            await asyncio.sleep(0.05)
        assert server.app[ROOMS].live_room("ending") is None
        async with http.get(server.url("/metrics")) as response:
            text = await response.text()
        assert _metric(text, "sparkle_packets_forwarded_total") >= during
        assert _metric(text, "sparkle_tracks_published") == 0
        assert _metric(text, "sparkle_rooms") == 0
