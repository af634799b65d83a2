"""Floor control with real aiortc clients (issue 3): host mutes, raised hands, the right to
speak and to share, enforced by the SFU even against a modified client.

Every "modified client" here is an aiortc peer that keeps sending what the host stopped: it
ignores ``muted_by_host`` and ``share_stopped`` and never sends ``mute`` itself. What must
hold is what reaches the others: not one packet once the server said no.
"""

from __future__ import annotations

import asyncio
from typing import Any

from signaling.appkeys import ROOMS
from signaling.tokens import Grants
from tests.conftest import RunningServer
from tests.support.media import ColorVideoTrack, ToneAudioTrack
from tests.support.media_participant import Participant, participant, track_sid
from tests.support.ws_client import WsClient, mint

GREEN = (40, 200, 60)
PINK = (230, 60, 200)
# Long enough for packets already in flight (jitter buffer, loopback) to land; the tone
# sends 50 packets a second, so a leak would show as dozens of packets.
SETTLE_S = 0.4
WATCH_S = 1.5


def packets(viewer: Participant, track: str) -> int:
    received = viewer.media.by_sid(track)
    return 0 if received is None else len(received.wire)


async def published(viewer: Participant, owner: str, source: str) -> str:
    message = await viewer.ws.wait_for(
        "track_published",
        within=10.0,
        predicate=lambda m: (
            (m["track"]["participant_sid"], m["track"]["source"]) == (owner, source)
        ),
    )
    return str(message["track"]["sid"])


async def quiet(viewer: Participant, track: str) -> int:
    """Wait out packets in flight, then check none arrive for WATCH_S; the count."""
    await asyncio.sleep(SETTLE_S)
    before = packets(viewer, track)
    await asyncio.sleep(WATCH_S)
    assert packets(viewer, track) == before, "audio kept arriving after the host muted it"
    return before


def updated(sid: str, check: Any) -> Any:
    return lambda m: m["participant"]["sid"] == sid and check(m["participant"])


async def test_host_mute_holds_against_a_client_that_keeps_sending(server: RunningServer) -> None:
    async with (
        participant(server, "floor", "hana", grants=Grants.host()) as host,
        participant(server, "floor", "gus", [("microphone", ToneAudioTrack())]) as guest,
    ):
        await host.ws.send("update_room", settings={"self_unmute": False})
        room = await guest.ws.wait_for("room_updated", within=1.0)
        assert room["room"]["self_unmute"] is False
        # The policy changes the guest's permission, and everyone is told.
        change = await host.ws.wait_for(
            "participant_updated", 1.0, updated(guest.sid, lambda p: not p["permissions"]["speak"])
        )
        assert change["participant"]["permissions"]["speak"] is False
        microphone = await published(host, guest.sid, "microphone")
        await host.media.wait_until(lambda: packets(host, microphone) >= 25, timeout=15)

        await host.ws.send("mute_participant", participant_sid=guest.sid, source="microphone")
        notice = await guest.ws.wait_for("muted_by_host", within=1.0)
        assert notice == {
            "type": "muted_by_host",
            "source": "microphone",
            "by": {"sid": host.sid, "name": "Hana"},
        }
        muted = await host.ws.wait_for("track_muted", within=1.0)
        assert (muted["track_sid"], muted["muted"]) == (microphone, True)
        # The guest's client ignores all that and keeps sending its tone.
        stopped_at = await quiet(host, microphone)
        live = server.app[ROOMS].live_room("floor")
        assert live is not None
        dropped = live.media.counters.packets_dropped
        await asyncio.sleep(0.5)
        assert live.media.counters.packets_dropped > dropped  # arriving, and dropped

        # Unmuting itself is refused: the floor is the host's to give.
        refusal = await guest.ws.request("mute", source="microphone", muted=False)
        assert refusal["code"] == "forbidden" and refusal["fatal"] is False
        assert "raise your hand" in refusal["message"]
        await quiet(host, microphone)

        # Raise a hand; the host sees it queued and lets the guest speak.
        await guest.ws.send("raise_hand", raised=True)
        raised = await host.ws.wait_for(
            "participant_updated", 1.0, updated(guest.sid, lambda p: p["hand"] is not None)
        )
        assert isinstance(raised["participant"]["hand"], int)
        await host.ws.send("ask_unmute", participant_sid=guest.sid)
        asked = await guest.ws.wait_for("unmute_requested", within=1.0)
        assert asked["by"] == {"sid": host.sid, "name": "Hana"}
        me = await guest.ws.wait_for(
            "participant_updated",
            1.0,
            updated(guest.sid, lambda p: p["permissions"]["speak"] and p["hand"] is None),
        )
        assert me["participant"]["hand"] is None
        await guest.ws.send("mute", source="microphone", muted=False)
        await host.media.wait_until(
            lambda: packets(host, microphone) >= stopped_at + 25, timeout=10
        )
        assert (await host.ws.wait_for("track_muted", within=1.0))["muted"] is False


async def test_mute_everyone_spares_hosts_and_mute_on_entry_catches_newcomers(
    server: RunningServer,
) -> None:
    async with (
        participant(
            server, "all", "hana", [("microphone", ToneAudioTrack(660))], grants=Grants.host()
        ) as host,
        participant(server, "all", "gus", [("microphone", ToneAudioTrack())]) as gus,
        participant(server, "all", "ida", [("microphone", ToneAudioTrack(550))]) as ida,
    ):
        gus_mic = await published(host, gus.sid, "microphone")
        ida_mic = await published(host, ida.sid, "microphone")
        host_mic = track_sid(ida.joined["tracks"], host.sid, "microphone")
        await host.media.wait_until(
            lambda: packets(host, gus_mic) >= 10 and packets(host, ida_mic) >= 10, timeout=15
        )
        await host.ws.send("mute_all", source="microphone")
        for guest in (gus, ida):
            notice = await guest.ws.wait_for("muted_by_host", within=1.0)
            assert notice["source"] == "microphone"
        await asyncio.sleep(SETTLE_S)
        counts = (packets(host, gus_mic), packets(host, ida_mic))
        start = packets(ida, host_mic)
        await asyncio.sleep(WATCH_S)
        assert (packets(host, gus_mic), packets(host, ida_mic)) == counts
        # The host was not muted: its audio still reaches the others.
        assert packets(ida, host_mic) > start
        assert host.ws.unread("muted_by_host") == []
        # With self-unmute on (the default), a muted guest may unmute again.
        await gus.ws.send("mute", source="microphone", muted=False)
        await host.media.wait_until(lambda: packets(host, gus_mic) > counts[0] + 10, timeout=10)

        # Mute on entry: a newcomer arrives muted, is told so, and is not heard.
        await host.ws.send("update_room", settings={"mute_on_entry": True})
        async with participant(server, "all", "jo", [("microphone", ToneAudioTrack(330))]) as jo:
            notice = await jo.ws.wait_for("muted_by_host", within=2.0)
            assert notice == {"type": "muted_by_host", "source": "microphone", "by": None}
            jo_mic = await published(host, jo.sid, "microphone")
            assert jo_mic
            await quiet(host, jo_mic)
            assert packets(host, jo_mic) == 0


async def test_screen_share_needs_permission_and_a_host_can_stop_it(
    server: RunningServer,
) -> None:
    async with (
        participant(server, "share", "hana", grants=Grants.host()) as host,
        participant(server, "share", "gus", [("screen_share", ColorVideoTrack(GREEN))]) as gus,
    ):
        # Nobody shares until a host allows it: the track is refused, never announced.
        refused = await gus.ws.wait_error("source_not_allowed")
        assert "screen_share" in refused["message"]
        assert gus.joined["participant"]["permissions"]["screen_share"] is False
        await asyncio.sleep(1.0)
        assert host.ws.unread("track_published") == []
        assert sum(r.frames for r in host.media.video()) == 0

        # Allowed: the same track is forwarded now, without the client doing anything.
        await host.ws.send(
            "set_permission", participant_sid=gus.sid, permission="screen_share", allowed=True
        )
        await gus.ws.wait_for(
            "participant_updated",
            1.0,
            updated(gus.sid, lambda p: p["permissions"]["screen_share"]),
        )
        screen = await published(host, gus.sid, "screen_share")
        await host.media.wait_until(lambda: host.sees(screen, GREEN), timeout=15)

        # One share at a time: a second sharer is refused while the first one shares.
        await host.ws.send("update_room", settings={"screen_share": "everyone"})
        async with participant(
            server, "share", "ida", [("screen_share", ColorVideoTrack(PINK))]
        ) as ida:
            second = await ida.ws.wait_error("source_not_allowed")
            assert "at most 1 screen_share" in second["message"]

            # The host stops Gus's share: gone at once, and it stays gone although his
            # client keeps sending and even offers again.
            await host.ws.send("stop_share", participant_sid=gus.sid)
            assert (await gus.ws.wait_for("share_stopped", within=1.0))["by"]["sid"] == host.sid
            gone = await host.ws.wait_for("track_unpublished", within=1.0)
            assert gone["track_sid"] == screen
            await gus.media.negotiate()
            await asyncio.sleep(1.0)
            assert host.ws.unread("track_published") == []
            live = server.app[ROOMS].live_room("share")
            assert live is not None
            assert [t.source for t in live.media.published_tracks()] == []


async def test_revoking_share_permission_stops_the_share(server: RunningServer) -> None:
    async with (
        participant(server, "revoke", "hana", grants=Grants.host()) as host,
        participant(server, "revoke", "gus", [("screen_share", ColorVideoTrack(GREEN))]) as gus,
    ):
        await gus.ws.wait_error("source_not_allowed")
        await host.ws.send(
            "set_permission", participant_sid=gus.sid, permission="screen_share", allowed=True
        )
        screen = await published(host, gus.sid, "screen_share")
        await host.ws.send(
            "set_permission", participant_sid=gus.sid, permission="screen_share", allowed=False
        )
        assert (await gus.ws.wait_for("share_stopped", within=1.0))["by"]["sid"] == host.sid
        gone = await host.ws.wait_for("track_unpublished", within=1.0)
        assert gone["track_sid"] == screen


async def test_floor_commands_from_non_hosts_are_forbidden(server: RunningServer) -> None:
    commands: dict[str, dict[str, Any]] = {
        "update_room": {"settings": {"screen_share": "everyone"}},
        "mute_participant": {"participant_sid": "", "source": "microphone"},
        "mute_all": {"source": "microphone"},
        "lower_hand": {"participant_sid": ""},
        "ask_unmute": {"participant_sid": ""},
        "set_permission": {"participant_sid": "", "permission": "speak", "allowed": True},
        "stop_share": {"participant_sid": ""},
    }
    host_token = mint(server.tokens, "nohost", "hana", name="Hana", grants=Grants.host())
    async with (
        WsClient.connect(server.base_url) as host,
        WsClient.connect(server.base_url) as gus,
    ):
        host_me = (await host.join(host_token))["participant"]
        await gus.join(mint(server.tokens, "nohost", "gus", name="Gus"))
        for kind, fields in commands.items():
            if "participant_sid" in fields:
                fields = {**fields, "participant_sid": host_me["sid"]}
            reply = await gus.request(kind, **fields)
            assert (reply["code"], reply["fatal"]) == ("forbidden", False), kind
        # Nothing happened: the settings are as they were, and the room carries on.
        live = server.app[ROOMS].live_room("nohost")
        assert live is not None and live.settings.screen_share == "hosts"
        assert host.unread("muted_by_host") == [] and host.unread("room_updated") == []
        assert (await gus.request("ping"))["type"] == "pong"
        # Raising one's own hand needs no host, and lowering someone else's does.
        await gus.send("raise_hand", raised=True)
        raised = await host.wait_for("participant_updated", within=1.0)
        assert raised["participant"]["hand"] is not None
        await host.send("lower_hand", participant_sid=raised["participant"]["sid"])
        lowered = await gus.wait_for(
            "participant_updated", 1.0, lambda m: m["participant"]["hand"] is None
        )
        assert lowered["participant"]["sid"] == raised["participant"]["sid"]
