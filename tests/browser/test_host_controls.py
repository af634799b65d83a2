"""Host controls (issue 3) through two real Chromium participants, driven by clicking the UI.

* A host admits a guest from the waiting room: the guest sees "Waiting for the host to let
  you in" (and is not timed out by the client), the host gets a visible and audible knock,
  admits from the People panel, and the guest then shows the host's video.
* "Mute everyone" in the host's panel: the guest is told, its microphone button shows it, and
  its audio packets stop arriving at the host (inbound-rtp packetsReceived stops rising).
* With self-unmute off the muted guest cannot unmute, raises a hand, the host lets it speak
  from the raised-hands queue, and once the guest unmutes its audio reaches the host again.

Participants enter with API-minted tokens in the link's fragment; the host's has room_admin.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.conftest import RunningServer, ServerFactory
from tests.support.browser import Browsers, Participant, eventually

MEDIA_TIMEOUT_S = 25
EVENT_TIMEOUT_S = 10
# The client used to give up on `join` after 15 s; waiting in the lobby must not time out.
LOBBY_WAIT_S = 16
SILENCE_WINDOW_S = 2.0
# Opus sends a packet every 20 ms: 100 in 2 s; allow for a slow machine.
MIN_FLOWING_PACKETS = 20
# Packets already in flight when the SFU starts dropping (RTT on loopback is ~1 ms).
MAX_STRAY_PACKETS = 3


async def _create_room(
    http: aiohttp.ClientSession, server: RunningServer, room: str, *, lobby: bool
) -> None:
    async with http.post(
        server.url("/api/v1/rooms"),
        json={"name": room, "lobby": lobby},
        headers=server.auth_headers,
    ) as response:
        assert response.status == 201, await response.text()


async def _link(
    http: aiohttp.ClientSession, server: RunningServer, room: str, name: str, *, host: bool
) -> str:
    async with http.post(
        server.url(f"/api/v1/rooms/{room}/tokens"),
        json={"identity": name.lower().replace(" ", "-"), "name": name, "host": host},
        headers=server.auth_headers,
    ) as response:
        assert response.status == 200, await response.text()
        token = (await response.json())["token"]
    return server.url(f"/r/{room}#" + urlencode({"token": token, "name": name}))


async def _state(p: Participant) -> dict[str, Any]:
    state: dict[str, Any] = await p.debug("state")
    return state


async def _meeting(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession, room: str
) -> tuple[Participant, Participant, str]:
    """A host and a guest in a room without a lobby, the host receiving the guest's audio."""
    server = await server_factory()
    await _create_room(http, server, room, lobby=False)
    host, guest = await asyncio.gather(
        browsers.launch("Ada Lovelace"), browsers.launch("Bob Builder")
    )
    await host.open_link(await _link(http, server, room, host.name, host=True))
    await host.join()
    await guest.open_link(await _link(http, server, room, guest.name, host=False))
    await guest.join()
    guest_sid: str = (await _state(guest))["self"]["sid"]
    assert (await _state(host))["host"] is True
    assert (await _state(guest))["host"] is False
    await _audio_flowing(host, guest, guest_sid, "before any host action")
    return host, guest, guest_sid


async def _mic_packets(host: Participant, guest_sid: str) -> int | None:
    """packetsReceived of the guest's microphone track at the host, or None if not received."""
    state = await _state(host)
    mic = next(
        (
            t["sid"]
            for t in state["tracks"]
            if t["participant_sid"] == guest_sid and t["source"] == "microphone"
        ),
        None,
    )
    stats: list[dict[str, Any]] = await host.debug("inboundStats")
    for s in stats:
        if s["kind"] == "audio" and s["trackSid"] == mic:
            return int(s["packetsReceived"])
    return None


async def _packets_gained(host: Participant, guest_sid: str, window: float) -> int:
    before = await _mic_packets(host, guest_sid)
    await asyncio.sleep(window)
    after = await _mic_packets(host, guest_sid)
    assert before is not None and after is not None, "the host has no slot for the guest's mic"
    return after - before


async def _audio_flowing(host: Participant, guest: Participant, guest_sid: str, when: str) -> None:
    await eventually(
        f"the guest's audio to reach the host {when}",
        lambda: _mic_packets(host, guest_sid),
        ready=lambda n: n is not None and n > 0,
        within=MEDIA_TIMEOUT_S,
        participants=(host, guest),
    )
    gained = await eventually(
        f"the guest's audio packets to keep arriving at the host {when}",
        lambda: _packets_gained(host, guest_sid, SILENCE_WINDOW_S),
        ready=lambda n: n >= MIN_FLOWING_PACKETS,
        within=MEDIA_TIMEOUT_S,
        participants=(host, guest),
    )
    assert gained >= MIN_FLOWING_PACKETS


async def _audio_stopped(host: Participant, guest: Participant, guest_sid: str) -> None:
    gained = await eventually(
        "the guest's audio packets to stop arriving at the host",
        lambda: _packets_gained(host, guest_sid, SILENCE_WINDOW_S),
        ready=lambda n: n <= MAX_STRAY_PACKETS,
        within=EVENT_TIMEOUT_S,
        participants=(host, guest),
    )
    assert gained <= MAX_STRAY_PACKETS


async def _mute_everyone(host: Participant, guest: Participant) -> None:
    """The host opens the People panel and presses "Mute everyone"; the guest is told."""
    if await host.page.get_attribute("#people-button", "aria-pressed") != "true":
        await host.page.click("#people-button")
    await host.page.click("#mute-all-button")
    state = await guest.until(
        "the guest to be told the host muted them",
        lambda: _state(guest),
        ready=lambda s: (
            any(a["code"] == "muted_by_host" for a in s["alerts"]) and not s["microphoneEnabled"]
        ),
        within=EVENT_TIMEOUT_S,
    )
    assert any("muted you" in t for t in state["toasts"]), state["toasts"]
    assert await guest.page.get_attribute("#mic-button", "aria-pressed") == "false"


async def test_host_admits_a_guest_from_the_waiting_room(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    server = await server_factory()
    room = "lobby-test"
    await _create_room(http, server, room, lobby=True)
    host, guest = await asyncio.gather(
        browsers.launch("Ada Lovelace"), browsers.launch("Bob Builder")
    )
    both = (host, guest)
    await host.open_link(await _link(http, server, room, host.name, host=True))
    await host.join()  # hosts skip the lobby
    host_sid: str = (await _state(host))["self"]["sid"]

    await guest.open_link(await _link(http, server, room, guest.name, host=False))
    await guest.page.click("#join-button")
    await guest.until("the waiting view", lambda: guest.phase(), ready="waiting".__eq__, within=10)
    assert await guest.page.is_visible("#waiting-card")
    assert not await guest.page.is_visible("#join-card")
    title = await guest.page.inner_text("#waiting-title")
    assert title == "Waiting for the host to let you in"
    # The camera preview stays on while waiting.
    assert await guest.page.evaluate(
        "() => { const v = document.getElementById('preview-video');"
        " return Boolean(v.srcObject) && v.videoWidth > 0; }"
    )

    # The host sees the knock (a toast with the name and buttons) and heard a chime.
    knocked = await host.until(
        "the host to see the knock",
        lambda: _state(host),
        ready=lambda s: (
            [p["name"] for p in s["lobby"]] == [guest.name]
            and any(f"{guest.name} is waiting" in t for t in s["toasts"])
        ),
        within=EVENT_TIMEOUT_S,
    )
    assert knocked["chimes"] >= 1
    assert await host.page.is_visible(f'#toasts button[aria-label="Admit {guest.name}"]')
    # Nobody else learns about the guest: the host's roster is still empty.
    assert knocked["participants"] == []

    # Waiting longer than the client's old join timeout does not end the wait.
    await asyncio.sleep(LOBBY_WAIT_S)
    assert await guest.phase() == "waiting"
    assert (await _state(guest))["notices"] == []

    # The host admits from the waiting-room list of the People panel.
    await host.page.click("#people-button")
    await host.page.wait_for_selector("#lobby-section:not([hidden])", timeout=5000)
    assert await host.page.inner_text("#lobby-count") == "1"
    await host.page.click(f'#lobby-list button[aria-label="Admit {guest.name}"]')
    await guest.until("the guest to enter the meeting", guest.in_meeting, within=EVENT_TIMEOUT_S)

    # The guest sees and shows the host's video.
    tile = await eventually(
        "the guest to show the host's video",
        lambda: guest.debug("remoteTiles"),
        ready=lambda tiles: any(
            t["participantSid"] == host_sid and t["hasVideo"] and t["framesPresented"] > 0
            for t in tiles
        ),
        within=MEDIA_TIMEOUT_S,
        participants=both,
    )
    assert len(tile) == 1
    after = await host.until(
        "the host's waiting list and knock to clear",
        lambda: _state(host),
        ready=lambda s: s["lobby"] == [] and not any("is waiting" in t for t in s["toasts"]),
        within=EVENT_TIMEOUT_S,
    )
    assert [p["name"] for p in after["participants"]] == [guest.name]
    assert await host.page.is_hidden("#lobby-list li")
    for p in both:
        assert (await _state(p))["notices"] == []


async def test_host_mutes_everyone_and_the_guest_audio_stops(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    host, guest, guest_sid = await _meeting(server_factory, browsers, http, "mute-all-test")
    await _mute_everyone(host, guest)
    await _audio_stopped(host, guest, guest_sid)
    # The host's view of the guest agrees.
    await host.until(
        "the host to show the guest muted",
        lambda: host.debug("remoteTiles"),
        ready=lambda tiles: any(
            t["participantSid"] == guest_sid and t["microphoneMuted"] for t in tiles
        ),
        within=EVENT_TIMEOUT_S,
    )
    for p in (host, guest):
        assert (await _state(p))["notices"] == []


async def test_raised_hand_host_lets_the_guest_speak(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    host, guest, guest_sid = await _meeting(server_factory, browsers, http, "hand-test")
    both = (host, guest)

    # The host turns self-unmute off in the room settings, then mutes everyone.
    await host.page.click("#people-button")
    checkbox = host.page.locator('#room-settings input[data-setting="self_unmute"]')
    assert await checkbox.is_checked()
    await checkbox.click()
    await guest.until(
        "the guest to learn that self-unmute is off",
        lambda: _state(guest),
        ready=lambda s: s["room"]["self_unmute"] is False,
        within=EVENT_TIMEOUT_S,
    )
    await _mute_everyone(host, guest)
    await _audio_stopped(host, guest, guest_sid)

    # The guest may not unmute: the button stays off and says why.
    await guest.until(
        "the guest to lose the right to speak",
        lambda: _state(guest),
        ready=lambda s: s["permissions"]["speak"] is False,
        within=EVENT_TIMEOUT_S,
    )
    await guest.page.click("#mic-button")
    state = await guest.until(
        "the guest to be told to raise a hand",
        lambda: _state(guest),
        ready=lambda s: any(a["code"] == "cannot_unmute" for a in s["alerts"]),
        within=EVENT_TIMEOUT_S,
    )
    assert not state["microphoneEnabled"]
    assert any("raise your hand" in t for t in state["toasts"]), state["toasts"]
    assert await guest.page.get_attribute("#mic-button", "aria-pressed") == "false"

    # The guest raises a hand; the host sees it in the queue and lets the guest speak.
    await guest.page.click("#hand-button")
    await guest.page.wait_for_selector('#hand-button[aria-pressed="true"]', timeout=5000)
    await host.until(
        "the host to see the raised hand",
        lambda: _state(host),
        ready=lambda s: any(
            p["sid"] == guest_sid and p.get("hand") is not None for p in s["participants"]
        ),
        within=EVENT_TIMEOUT_S,
    )
    speak = host.page.locator(f'#hands-list button[aria-label="Let {guest.name} speak"]')
    await speak.wait_for(state="visible", timeout=5000)
    await speak.click()
    state = await guest.until(
        "the guest to be asked to unmute",
        lambda: _state(guest),
        ready=lambda s: (
            any(a["code"] == "unmute_requested" for a in s["alerts"])
            and s["permissions"]["speak"] is True
            and s["hand"] is None
        ),
        within=EVENT_TIMEOUT_S,
    )
    assert any("asks you to unmute" in t for t in state["toasts"]), state["toasts"]
    assert not state["microphoneEnabled"], "nobody is unmuted remotely"
    await guest.page.wait_for_selector('#hand-button[aria-pressed="false"]', timeout=5000)

    # The guest unmutes, and the host hears the guest again.
    await guest.page.click("#mic-button")
    await guest.page.wait_for_selector('#mic-button[aria-pressed="true"]', timeout=5000)
    await _audio_flowing(host, guest, guest_sid, "after the guest unmuted")
    for p in both:
        state = await _state(p)
        assert state["notices"] == [], state["notices"]
        assert not any(a["code"] == "cannot_unmute" for a in state["alerts"][-1:])


async def _chat_texts(p: Participant) -> list[str]:
    texts: list[str] = await p.page.eval_on_selector_all(
        "#chat-log .chat-message", "(items) => items.map((li) => li.innerText)"
    )
    return texts


async def test_chat_private_to_hosts_and_a_shared_file(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    host, guest, _guest_sid = await _meeting(server_factory, browsers, http, "chat-test")
    both = (host, guest)
    await guest.page.click("#chat-button")
    # A guest may not share files (the room's file_share is "hosts"): no attach button.
    assert await guest.page.is_hidden("#chat-attach")
    await guest.page.fill("#chat-text", "Hello <b>everyone</b>")
    await guest.page.click("#chat-send")
    await guest.page.select_option("#chat-to", "hosts")
    await guest.page.fill("#chat-text", "Only for the hosts")
    await guest.page.press("#chat-text", "Enter")

    # The host's panel is closed: an unread count, then both messages, the private one marked.
    await host.page.wait_for_selector("#chat-unread:not([hidden])", timeout=EVENT_TIMEOUT_S * 1000)
    await host.page.click("#chat-button")
    texts = await eventually(
        "the host to show both chat messages",
        lambda: _chat_texts(host),
        ready=lambda t: len(t) == 2,
        within=EVENT_TIMEOUT_S,
        participants=both,
    )
    assert "Hello <b>everyone</b>" in texts[0], texts  # shown as text, not markup
    assert "Only for the hosts" in texts[1] and "private" in texts[1], texts
    assert await host.page.is_hidden("#chat-unread")

    # The host shares a text file; the guest downloads it through the page (bearer token).
    notes = tmp_path / "notes.txt"
    notes.write_text("agenda: host controls\n")
    assert await host.page.is_visible("#chat-attach")
    await host.page.set_input_files("#chat-file", str(notes))
    button = guest.page.locator("#chat-log button.file-link")
    await button.wait_for(state="visible", timeout=EVENT_TIMEOUT_S * 1000)
    assert "notes.txt" in await button.inner_text()
    async with guest.page.expect_download(timeout=EVENT_TIMEOUT_S * 1000) as info:
        await button.click()
    download = await info.value
    assert download.suggested_filename == "notes.txt"
    saved = tmp_path / "downloaded.txt"
    await download.save_as(str(saved))
    assert saved.read_text() == "agenda: host controls\n"
    for p in both:
        assert (await _state(p))["notices"] == []


async def test_a_guest_enters_a_password_protected_room(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    server = await server_factory()
    room = "password-test"
    await _create_room(http, server, room, lobby=False)
    host, guest = await asyncio.gather(
        browsers.launch("Ada Lovelace"), browsers.launch("Bob Builder")
    )
    await host.open_link(await _link(http, server, room, host.name, host=True))
    await host.join()
    await host.page.click("#people-button")
    await host.page.fill("#room-password", "open sesame")
    await host.page.click("#password-set")
    await host.until(
        "the room to have a password",
        lambda: _state(host),
        ready=lambda s: s["room"]["password"] is True,
        within=EVENT_TIMEOUT_S,
    )
    assert await host.page.inner_text("#password-state") == "A password is set."

    # The guest follows the plain guest link: asked for the password, a wrong one is refused.
    await guest.open_link(server.url(f"/r/{room}"))
    await guest.page.fill("#display-name", guest.name)
    await guest.page.click("#join-button")
    await guest.page.wait_for_selector("#password-row:not([hidden])", timeout=10_000)
    asked = await guest.page.inner_text("#prejoin-message")
    assert "password" in asked.lower(), asked
    await guest.page.fill("#meeting-password", "wrong")
    await guest.page.click("#join-button")
    refused = await guest.until(
        "the wrong password to be refused",
        lambda: guest.page.inner_text("#prejoin-message"),
        ready=lambda text: text not in ("", asked),
        within=10,
    )
    assert "password is wrong" in refused, refused
    assert await guest.phase() == "prejoin"
    await guest.page.fill("#meeting-password", "open sesame")
    await guest.page.click("#join-button")
    await guest.until("the guest to enter the meeting", guest.in_meeting, within=15)
    assert [p["name"] for p in (await _state(guest))["participants"]] == [host.name]


async def test_a_denied_guest_is_told_so(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    server = await server_factory()
    room = "deny-test"
    await _create_room(http, server, room, lobby=True)
    host, guest = await asyncio.gather(
        browsers.launch("Ada Lovelace"), browsers.launch("Bob Builder")
    )
    await host.open_link(await _link(http, server, room, host.name, host=True))
    await host.join()
    await guest.open_link(await _link(http, server, room, guest.name, host=False))
    await guest.page.click("#join-button")
    await guest.until("the waiting view", lambda: guest.phase(), ready="waiting".__eq__, within=10)
    # The knock toast's own Deny button.
    deny = host.page.locator(f'#toasts button[aria-label="Deny {guest.name}"]')
    await deny.wait_for(state="visible", timeout=EVENT_TIMEOUT_S * 1000)
    await deny.click()
    await guest.until("the guest to be turned away", guest.phase, ready="ended".__eq__, within=10)
    assert await guest.page.inner_text("#ended-title") == "The host did not let you in"
    state = await host.until(
        "the host's waiting list to clear",
        lambda: _state(host),
        ready=lambda s: s["lobby"] == [] and s["toasts"] == [],
        within=EVENT_TIMEOUT_S,
    )
    assert state["participants"] == []
