"""Room policies of issue 3 with real clients: require a name, require a camera; and how fast
host actions reach everyone."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from typing import Any

from signaling.appkeys import ROOMS
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.support.media import ColorVideoTrack, ToneAudioTrack
from tests.support.media_participant import participant
from tests.support.ws_client import WsClient, mint

GREEN = (40, 200, 60)
# The acceptance bound: a host's action reaches every client within this.
HOST_ACTION_BOUND_S = 1.0


async def test_without_require_name_a_nameless_guest_gets_a_neutral_name(
    server: RunningServer,
) -> None:
    host_token = mint(server.tokens, "names", "hana", name="Hana", grants=Grants.host())
    async with WsClient.connect(server.base_url) as host:
        await host.join(host_token)
        async with WsClient.connect(server.base_url) as gus:
            # Required by default: refused with a clear, non-fatal error.
            await gus.send("join", v=1, token=mint(server.tokens, "names", "gus"), name="  ")
            refusal = await gus.wait_error("name_required")
            assert refusal["fatal"] is False and "display name" in refusal["message"]
        await host.send("update_room", settings={"require_name": False})
        await host.wait_for("room_updated", within=1.0)
        async with WsClient.connect(server.base_url) as gus:
            joined = await gus.join(mint(server.tokens, "names", "gus"), name="")
            name = joined["participant"]["name"]
            assert name.startswith("Guest ") and name[6:].isdigit()
            # A name that is present but unusable is still refused.
            async with WsClient.connect(server.base_url) as ida:
                await ida.send(
                    "join", v=1, token=mint(server.tokens, "names", "ida"), name="a\u202eb"
                )
                await ida.wait_error("name_required")


async def test_require_camera_holds_a_newcomer_until_its_camera_publishes(
    server: RunningServer,
) -> None:
    async with participant(
        server, "cams", "hana", [("microphone", ToneAudioTrack())], grants=Grants.host()
    ) as host:
        await host.ws.send("update_room", settings={"require_camera": True})
        await host.ws.wait_for("room_updated", within=1.0)

        # Without a camera: held. It sees nobody, nobody sees it, and it cannot chat.
        async with WsClient.connect(server.base_url) as shy:
            held = await shy.join(mint(server.tokens, "cams", "shy", name="Shy"))
            assert held["camera_required"] is True
            assert held["participants"] == [] and held["tracks"] == []
            refusal = await shy.request("chat", text="hello?")
            assert refusal["code"] == "forbidden"
            await asyncio.sleep(0.5)
            assert host.ws.unread("participant_joined") == []
            assert shy.unread("track_published") == [] and shy.unread("active_speaker") == []

        # With a camera: it enters as soon as the camera is on.
        async with participant(server, "cams", "gus", [("camera", ColorVideoTrack(GREEN))]) as gus:
            assert gus.joined["camera_required"] is True and gus.joined["participants"] == []
            accepted = await gus.ws.wait_for("camera_accepted", within=10.0)
            assert [p["sid"] for p in accepted["participants"]] == [host.sid]
            assert [t["source"] for t in accepted["tracks"]] == ["microphone"]
            arrived = await host.ws.wait_for("participant_joined", within=2.0)
            assert arrived["participant"]["sid"] == gus.sid
            published = await host.ws.wait_for("track_published", within=2.0)
            camera = published["track"]["sid"]
            assert published["track"]["source"] == "camera"
            await host.media.wait_until(lambda: host.sees(camera, GREEN), timeout=15)
            # Its receive side was switched on: it hears the host.
            await gus.media.wait_until(
                lambda: any(r.frames >= 10 for r in gus.media.audio()), timeout=15
            )
            # Hosts are told when the camera goes off.
            await gus.ws.send("mute", source="camera", muted=True)
            off = await host.ws.wait_for("camera_off", within=1.0)
            assert off == {"type": "camera_off", "participant_sid": gus.sid}


async def test_turning_require_camera_off_lets_the_held_in(server: RunningServer) -> None:
    host_token = mint(server.tokens, "cams2", "hana", name="Hana", grants=Grants.host())
    async with (
        WsClient.connect(server.base_url) as host,
        WsClient.connect(server.base_url) as shy,
    ):
        host_me = (await host.join(host_token))["participant"]
        await host.send("update_room", settings={"require_camera": True})
        await host.wait_for("room_updated", within=1.0)
        held = await shy.join(mint(server.tokens, "cams2", "shy", name="Shy"))
        assert held["camera_required"] is True
        await host.send("update_room", settings={"require_camera": False})
        accepted = await shy.wait_for("camera_accepted", within=1.0)
        assert [p["sid"] for p in accepted["participants"]] == [host_me["sid"]]
        arrived = await host.wait_for("participant_joined", within=1.0)
        assert arrived["participant"]["sid"] == held["participant"]["sid"]


async def test_a_camera_that_never_starts_times_out(server_factory: ServerFactory) -> None:
    server = await server_factory(lobby_wait_timeout_s=0.5)
    host_token = mint(server.tokens, "cams3", "hana", name="Hana", grants=Grants.host())
    async with (
        WsClient.connect(server.base_url) as host,
        WsClient.connect(server.base_url) as shy,
    ):
        await host.join(host_token)
        await host.send("update_room", settings={"require_camera": True})
        await host.wait_for("room_updated", within=1.0)
        assert (await shy.join(mint(server.tokens, "cams3", "shy", name="Shy")))["camera_required"]
        timeout = await shy.wait_error("lobby_timeout", within=3.0)
        assert "camera" in timeout["message"]
        assert await shy.wait_closed() == 4407
        live = server.app[ROOMS].live_room("cams3")
        assert live is not None and [p.identity for p in live.participants.values()] == ["hana"]
        assert host.unread("participant_left") == []  # it was never announced


async def _timed(client: WsClient, kind: str, started: float, **match: Any) -> float:
    def matches(message: dict[str, Any]) -> bool:
        return all(message.get(k) == v for k, v in match.items())

    await client.wait_for(kind, within=HOST_ACTION_BOUND_S * 3, predicate=matches)
    return time.monotonic() - started


async def test_host_actions_reach_every_client_within_a_second(server: RunningServer) -> None:
    """Mute, remove, admit and lock, each measured at every client it concerns."""
    async with AsyncExitStack() as stack:
        host = await stack.enter_async_context(WsClient.connect(server.base_url))
        await host.join(mint(server.tokens, "fast", "hana", name="Hana", grants=Grants.host()))
        watchers = []
        for name in ("ann", "bob", "cid"):
            client = await stack.enter_async_context(WsClient.connect(server.base_url))
            await client.join(mint(server.tokens, "fast", name, name=name.title()))
            watchers.append(client)
        speaker = await stack.enter_async_context(
            participant(server, "fast", "gus", [("microphone", ToneAudioTrack())])
        )
        everyone = [host, *watchers]
        for client in everyone:
            await client.wait_for(
                "track_published", 10.0, lambda m: m["track"]["participant_sid"] == speaker.sid
            )
        delays: dict[str, float] = {}

        started = time.monotonic()
        await host.send("mute_participant", participant_sid=speaker.sid, source="microphone")
        delays["mute (target)"] = await _timed(speaker.ws, "muted_by_host", started)
        for client in everyone:
            delays["mute (others)"] = max(
                delays.get("mute (others)", 0), await _timed(client, "track_muted", started)
            )

        started = time.monotonic()
        await host.send("lock_room", locked=True)
        for client in [*everyone, speaker.ws]:
            delays["lock"] = max(
                delays.get("lock", 0), await _timed(client, "room_updated", started)
            )
        await host.send("lock_room", locked=False)

        await host.send("set_lobby", enabled=True)
        waiting = await stack.enter_async_context(WsClient.connect(server.base_url))
        await waiting.send("join", v=1, token=mint(server.tokens, "fast", "dee", name="Dee"))
        knock = await host.wait_for("lobby_knock", within=2.0)
        started = time.monotonic()
        await host.send("admit", participant_sid=knock["participant"]["sid"])
        delays["admit (guest)"] = await _timed(waiting, "joined", started)
        for client in everyone:
            delays["admit (others)"] = max(
                delays.get("admit (others)", 0),
                await _timed(client, "participant_joined", started),
            )

        target = watchers[0]
        target_sid = next(
            p.sid
            for p in server.app[ROOMS].live_room("fast").participants.values()  # type: ignore[union-attr]
            if p.identity == "ann"
        )
        started = time.monotonic()
        await host.send("remove_participant", participant_sid=target_sid)
        await target.wait_error("removed", within=HOST_ACTION_BOUND_S * 3)
        delays["remove (target)"] = time.monotonic() - started
        for client in [host, *watchers[1:], waiting]:
            delays["remove (others)"] = max(
                delays.get("remove (others)", 0),
                await _timed(client, "participant_left", started, participant_sid=target_sid),
            )
    slow = {action: round(delay, 3) for action, delay in delays.items() if delay > 1.0}
    assert not slow, f"host actions slower than {HOST_ACTION_BOUND_S} s: {slow}"
    assert len(delays) == 7
