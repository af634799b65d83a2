"""Auto-framing, the server's side (issue 6), with ``framing_workers = "remote"``: the test
itself is the framing worker, a real client of the public API (it claims the job over HTTP,
joins with the token it got, reads ``framing_targets`` and publishes a stand-in declared
with ``frames``), next to real aiortc participants. The real worker process (framing/) is
exercised in test_framing_end_to_end.py.

Alice's camera is green; the stand-in the "worker" publishes is red. Bob must see red in
place of Alice's camera while framing is on, on the same track sid, and green after.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from signaling.appkeys import ROOMS
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.support.aiortc_client import MediaClient
from tests.support.media import ColorVideoTrack, close_to
from tests.support.media_participant import participant, track_sid
from tests.support.recording_events import until
from tests.support.ws_client import WsClient, mint

ROOM = "boardroom"
CLAIM = "/api/v1/framer/jobs/claim"
GREEN = (0, 200, 0)
RED = (220, 0, 0)
WAIT = 15.0


def _basic(server: RunningServer) -> dict[str, str]:
    return {
        "Authorization": aiohttp.encode_basic_auth(server.config.api_key, server.config.api_secret)
    }


async def _claim(server: RunningServer, http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.post(server.base_url + CLAIM + "?wait=5", headers=_basic(server)) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def _framing(ws: WsClient, state: str) -> dict[str, Any]:
    return await ws.wait_for("framing", WAIT, lambda m: m["state"] == state)


async def test_framed_video_replaces_the_camera_for_the_others_and_goes_back(
    server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await server_factory(framing_workers="remote", framing_idle_s=1.0)
    async with (
        participant(server, ROOM, "alice", [("camera", ColorVideoTrack(GREEN))]) as alice,
        participant(server, ROOM, "bob") as bob,
    ):
        camera = track_sid(bob.joined["tracks"], alice.sid, "camera")
        await until(lambda: bob.sees(camera, GREEN), WAIT, "Alice's camera at Bob")

        await alice.ws.send("set_framing", enabled=True)
        for ws in (alice.ws, bob.ws):
            starting = await _framing(ws, "starting")
            assert starting == {
                "type": "framing",
                "participant_sid": alice.sid,
                "state": "starting",
                "by": None,
            }
        job = await _claim(server, http)
        assert job["room"] == ROOM and job["job_id"].startswith("FJ_")
        async with WsClient.connect(server.base_url) as worker_ws:
            joined = await worker_ws.join(job["token"])
            # Hidden: nobody is told a worker arrived.
            assert all(p["sid"] != joined["participant"]["sid"] for p in bob.joined["participants"])
            targets = await worker_ws.wait_for("framing_targets", WAIT)
            assert targets["targets"] == [{"track_sid": camera, "participant_sid": alice.sid}]
            assert targets["output"] == {"width": 1280, "height": 720, "max_fps": 30}
            assert targets["speaker_focus"] is False
            worker = MediaClient("worker", tracks=[("camera", ColorVideoTrack(RED))], video_slots=1)
            try:
                worker_ws.route_renegotiate(worker.renegotiate)
                await worker.connect(worker_ws.offer_exchange(frames=camera))
                # The worker gets the raw camera; Bob gets the stand-in on the same sid.
                await until(lambda: _sees(worker, camera, GREEN), WAIT, "raw camera at worker")
                bob_answers = bob.media.answers
                await until(lambda: bob.sees(camera, RED), WAIT, "framed video at Bob")
                for ws in (alice.ws, bob.ws):
                    on = await _framing(ws, "on")
                    assert on["participant_sid"] == alice.sid
                assert bob.media.answers == bob_answers, "no renegotiation for the switch"
                assert not bob.ws.unread("track_published"), "the stand-in is not a new track"

                # A newcomer learns the state in joined.
                async with WsClient.connect(server.base_url) as carol:
                    carol_joined = await carol.join(
                        mint(server.tokens, ROOM, "carol", name="Carol")
                    )
                    assert carol_joined["framing"] == [
                        {"participant_sid": alice.sid, "state": "on", "by": None}
                    ]

                await alice.ws.send("set_framing", enabled=False)
                for ws in (alice.ws, bob.ws):
                    off = await _framing(ws, "off")
                    assert off["participant_sid"] == alice.sid
                frames = bob.frames_from(camera)
                await until(
                    lambda: bob.frames_from(camera) > frames and bob.sees(camera, GREEN),
                    WAIT,
                    "Alice's own camera back at Bob",
                )
                # Nobody framed for framing_idle_s: the worker is sent away.
                bye = await worker_ws.wait_for("bye", WAIT)
                assert bye["reason"] == "ended"
            finally:
                await worker.close()


def _sees(client: MediaClient, sid: str, color: tuple[int, int, int]) -> bool:
    received = client.by_sid(sid)
    return received is not None and bool(received.colors) and close_to(received.colors[-1], color)


async def test_who_may_turn_framing_on_and_bad_requests(server_factory: ServerFactory) -> None:
    server = await server_factory(framing_workers="remote")
    async with (
        participant(server, ROOM, "alice", [("camera", ColorVideoTrack(GREEN))]) as alice,
        participant(server, ROOM, "bob") as bob,
        participant(server, ROOM, "hana", grants=Grants.host()) as host,
    ):
        # Not a host: someone else's camera is not yours to frame.
        reply = await bob.ws.request("set_framing", participant_sid=alice.sid, enabled=True)
        assert reply["code"] == "forbidden", reply
        reply = await host.ws.request("set_framing", participant_sid="PA_nobody", enabled=True)
        assert reply["code"] == "not_found", reply
        reply = await bob.ws.request("set_framing", enabled="yes")
        assert reply["code"] == "bad_message" and "enabled" in reply["message"], reply
        # Only a framing worker may declare a stand-in.
        reply = await bob.ws.request(
            "offer", sdp="v=0", tracks=[{"mid": "0", "source": "camera", "frames": "TR_x"}]
        )
        assert reply["code"] == "forbidden" and "frames" in reply["message"], reply
        reply = await bob.ws.request(
            "offer", sdp="v=0", tracks=[{"mid": "0", "source": "microphone", "frames": "TR_x"}]
        )
        assert reply["code"] == "bad_message", reply
        # A host frames a room camera; everyone is told who did.
        await host.ws.send("set_framing", participant_sid=alice.sid, enabled=True)
        starting = await _framing(alice.ws, "starting")
        assert starting["by"] == {"sid": host.sid, "name": "Hana"}
        # The same state again changes nothing and announces nothing.
        await host.ws.send("set_framing", participant_sid=alice.sid, enabled=True)
        reply = await host.ws.request("ping")
        assert reply["type"] == "pong"
        assert not alice.ws.unread("framing")


async def test_without_a_worker_framing_turns_off_with_a_reason(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(framing_workers="remote", framing_join_timeout_s=1.0)
    async with participant(server, ROOM, "alice", [("camera", ColorVideoTrack(GREEN))]) as alice:
        await alice.ws.send("set_framing", enabled=True)
        await _framing(alice.ws, "starting")
        off = await _framing(alice.ws, "off")
        assert off["error"] == "no framing worker joined the room in time", off
        live = server.app[ROOMS].live_room(ROOM)
        assert live is not None and live.framing == {}


async def test_framing_off_on_this_server(server_factory: ServerFactory) -> None:
    server = await server_factory(framing_workers="off")
    async with participant(server, ROOM, "alice", [("camera", ColorVideoTrack(GREEN))]) as alice:
        reply = await alice.ws.request("set_framing", enabled=True)
        assert reply["code"] == "framing_unavailable", reply
        # Turning off what is not on is not an error (and, like every command, has no reply).
        await alice.ws.send("set_framing", enabled=False)
        reply = await alice.ws.request("ping")
        assert reply["type"] == "pong"
        assert not alice.ws.unread("error") and not alice.ws.unread("framing")
