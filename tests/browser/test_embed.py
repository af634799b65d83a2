"""The embed snippet (issue 7) in real headless Chromium, three origins on loopback:

* Sparkle at http://127.0.0.1:P;
* an integrator's site at http://localhost:Q, in its API key's embed_origins, serving
  docs/examples/embed.html (pointed at Sparkle) and a token endpoint that mints room tokens
  with that key, as an integrator's backend would;
* another site at http://localhost:R, not in the list.

The allowed page embeds a room: it gets videoConferenceJoined, participantJoined when a
second participant (a WebSocket client) arrives, incomingMessage for its chat line; its
toggleAudio mutes the microphone in the server (the other participant gets track_muted);
a host-only command from a non-host yields errorOccurred; messages forged by a frame of
the other origin, by a frame of the allowed origin that is not the parent, and a second
`init` from the parent change nothing; hangup yields videoConferenceLeft and readyToClose.
No request any frame makes carries the token. The other site cannot frame the room at all:
Chromium blocks the frame (frame-ancestors), so it never loads, never says `ready` and
never joins.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.support.browser import Browsers, Participant, eventually
from tests.support.ws_client import WsClient, mint

if TYPE_CHECKING:
    from playwright.async_api import Frame

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "embed.html"
PLACEHOLDER = "https://sparkle.example"
ROOM = "embed-demo"
EVENT_TIMEOUT_S = 20
MEDIA_TIMEOUT_S = 25
QUIET_S = 1.5  # how long a forged message gets to (not) have an effect

FORGER_HTML = """<!doctype html><html><head><meta charset="utf-8"></head><body><script>
// Posts what an attacker would to the Sparkle iframe, its sibling (frame 0 of our parent).
const target = window.parent.frames[0];
const forged = [
  {sparkle: 'init', token: 'forged-token', name: 'Mallory', config: {}},
  {sparkle: 'command', name: 'toggleAudio', args: []},
  {sparkle: 'command', name: 'sendChatMessage', args: ['forged']},
  {sparkle: 'command', name: 'hangup', args: []},
];
for (const message of forged) target.postMessage(message, '*');
document.body.dataset.sent = 'yes';
</script></body></html>"""


@dataclass
class Site:
    """An integrator's web site: the example page and a token endpoint."""

    sparkle: RunningServer
    api_key: str
    server: TestServer | None = None
    tokens: list[str] = field(default_factory=list)
    grants: Grants = field(default_factory=Grants.participant)
    # False: the backend answers no key id and the snippet takes it from the token's iss.
    send_key: bool = True

    @property
    def origin(self) -> str:
        assert self.server is not None and self.server.port is not None
        return f"http://localhost:{self.server.port}"

    async def page(self, request: web.Request) -> web.Response:
        text = EXAMPLE.read_text().replace(PLACEHOLDER, self.sparkle.base_url)
        return web.Response(text=text, content_type="text/html")

    async def forger(self, request: web.Request) -> web.Response:
        return web.Response(text=FORGER_HTML, content_type="text/html")

    async def token(self, request: web.Request) -> web.Response:
        # The integrator's backend: it knows its user and mints with its own key.
        room = request.query["room"]
        token = self.sparkle.tokens.mint(
            room, "ada", "Ada Embedded", self.grants, 600, api_key=self.api_key
        )
        self.tokens.append(token)
        reply = {"token": token, "name": "Ada Embedded"}
        if self.send_key:
            reply["key"] = self.api_key
        return web.json_response(reply)


@asynccontextmanager
async def _site(sparkle: RunningServer, api_key: str) -> AsyncIterator[Site]:
    site = Site(sparkle, api_key)
    app = web.Application()
    app.router.add_get("/", site.page)
    app.router.add_get("/forger.html", site.forger)
    app.router.add_get("/sparkle-token", site.token)
    site.server = TestServer(app, host="127.0.0.1", port=0)
    await site.server.start_server()
    try:
        yield site
    finally:
        await site.server.close()


async def _create_key(
    http: aiohttp.ClientSession, sparkle: RunningServer, origins: list[str]
) -> str:
    async with http.post(
        sparkle.url("/api/v1/keys"),
        json={"name": "Acme", "embed_origins": origins},
        headers=sparkle.auth_headers,
    ) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["key"])


async def _create_room(
    http: aiohttp.ClientSession, sparkle: RunningServer, *, lobby: bool = False
) -> None:
    async with http.post(
        sparkle.url("/api/v1/rooms"),
        json={"name": ROOM, "lobby": lobby},
        headers=sparkle.auth_headers,
    ) as response:
        assert response.status == 201, await response.text()


async def _events(who: Participant) -> list[tuple[str, Any]]:
    """The example page's event log: [(name, data)]."""
    raw: list[list[str]] = await who.page.evaluate(
        "() => [...document.querySelectorAll('#events li')]"
        ".map((li) => [li.dataset.name, li.dataset.data])"
    )
    return [(name, json.loads(data)) for name, data in raw]


async def _server_sends(
    ws: WsClient,
    type_: str,
    match: Callable[[dict[str, Any]], bool],
    who: Participant,
    within: float = EVENT_TIMEOUT_S,
) -> dict[str, Any]:
    """The WebSocket participant's next ``type_`` message; on a timeout, says what the
    embedding page saw and logged."""
    try:
        return await ws.wait_for(type_, within, match)
    except TimeoutError as exc:
        raise AssertionError(
            f"{exc}\nevents: {await _events(who)}\n{await who.snapshot()}"
        ) from None


def _named(name: str) -> Callable[[list[tuple[str, Any]]], bool]:
    return lambda events: any(n == name for n, _ in events)


def _sparkle_frame(who: Participant, sparkle: RunningServer) -> Frame | None:
    for frame in who.page.frames:
        if frame.url.startswith(sparkle.base_url + "/embed/"):
            return frame
    return None


async def _frame_state(who: Participant, sparkle: RunningServer) -> dict[str, Any] | None:
    frame = _sparkle_frame(who, sparkle)
    if frame is None:
        return None
    state: dict[str, Any] | None = await asyncio.wait_for(
        frame.evaluate("() => window.sparkleDebug ? window.sparkleDebug.state() : null"),
        timeout=10,
    )
    return state


async def test_an_allowed_page_embeds_and_drives_a_meeting(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    sparkle = await server_factory()
    await _create_room(http, sparkle)
    async with _site(sparkle, "") as site, _site(sparkle, "") as other:
        api_key = await _create_key(http, sparkle, [site.origin])
        site.api_key = other.api_key = api_key
        ada = await browsers.launch("Ada Embedded")
        urls: list[str] = []
        ada.page.on("request", lambda request: urls.append(request.url))
        ada.page.on("websocket", lambda ws: urls.append(ws.url))
        await ada.page.goto(f"{site.origin}/?room={ROOM}")

        joined = await ada.until(
            "videoConferenceJoined on the integrator's page",
            lambda: _events(ada),
            ready=_named("videoConferenceJoined"),
            within=EVENT_TIMEOUT_S,
        )
        data = next(d for n, d in joined if n == "videoConferenceJoined")
        assert data["roomName"] == ROOM and data["displayName"] == "Ada Embedded"
        ada_sid = data["id"]
        state = await _frame_state(ada, sparkle)
        assert state is not None and state["phase"] == "meeting"
        # The frame moved focus to its controls without scrolling the integrator's page.
        assert await ada.page.evaluate("() => window.scrollY") == 0
        frame = _sparkle_frame(ada, sparkle)
        assert frame is not None and frame.url == f"{sparkle.base_url}/embed/{ROOM}?key={api_key}"

        bob_token = mint(sparkle.tokens, ROOM, "bob", name="Bob")
        async with WsClient.connect(sparkle.base_url) as bob:
            bob_joined = await bob.join(bob_token)
            bob_sid = bob_joined["participant"]["sid"]
            events = await ada.until(
                "participantJoined for Bob",
                lambda: _events(ada),
                ready=_named("participantJoined"),
                within=EVENT_TIMEOUT_S,
            )
            assert ("participantJoined", {"id": bob_sid, "displayName": "Bob"}) in events

            # Ada's microphone reaches the server before she mutes it (published before
            # Bob came, it is in his `joined`; otherwise it is announced).
            def ada_mic(track: dict[str, Any]) -> bool:
                return track["participant_sid"] == ada_sid and track["source"] == "microphone"

            if not any(ada_mic(t) for t in bob_joined["tracks"]):
                await bob.wait_for(
                    "track_published", MEDIA_TIMEOUT_S, lambda m: ada_mic(m["track"])
                )
            await eventually(
                "Ada's media to connect",
                lambda: _frame_state(ada, sparkle),
                ready=lambda s: s is not None and s["connection"]["state"] == "connected",
                within=MEDIA_TIMEOUT_S,
                participants=(ada,),
            )
            # The integrator's API call (the example's buttons make the same call; a click
            # can miss while the framed page scrolls its parent to its focused button).
            await ada.page.evaluate("() => meeting.executeCommand('toggleAudio')")
            muted = await _server_sends(
                bob, "track_muted", lambda m: m["participant_sid"] == ada_sid, ada
            )
            assert muted["source"] == "microphone" and muted["muted"] is True
            events = await ada.until(
                "audioMuteStatusChanged",
                lambda: _events(ada),
                ready=_named("audioMuteStatusChanged"),
                within=EVENT_TIMEOUT_S,
            )
            assert ("audioMuteStatusChanged", {"muted": True}) in events

            # Chat both ways; a host-only command from a non-host is refused.
            await bob.send("chat", text="hello from Bob")
            events = await ada.until(
                "incomingMessage",
                lambda: _events(ada),
                ready=_named("incomingMessage"),
                within=EVENT_TIMEOUT_S,
            )
            message = next(d for n, d in events if n == "incomingMessage")
            assert message["from"] == bob_sid and message["nick"] == "Bob"
            assert message["message"] == "hello from Bob" and message["privateMessage"] is False
            await ada.page.evaluate("() => meeting.executeCommand('sendChatMessage', 'hi Bob')")
            chat = await _server_sends(
                bob, "chat", lambda m: m["message"]["from"]["sid"] == ada_sid, ada
            )
            assert chat["message"]["text"] == "hi Bob"
            await ada.page.evaluate("() => meeting.executeCommand('muteEveryone')")
            events = await ada.until(
                "errorOccurred for muteEveryone",
                lambda: _events(ada),
                ready=_named("errorOccurred"),
                within=EVENT_TIMEOUT_S,
            )
            refused = next(d for n, d in events if n == "errorOccurred")
            assert refused["name"] == "forbidden" and refused["command"] == "muteEveryone"

            # Forgeries: a frame of another origin, a frame of the allowed origin that is not
            # the parent, and a second init from the parent itself.
            before = await _events(ada)
            await ada.page.evaluate(
                """(urls) => {
                  for (const url of urls) {
                    const f = document.createElement('iframe');
                    f.src = url;
                    document.body.append(f);
                  }
                  document.querySelector('#meeting iframe').contentWindow.postMessage(
                    {sparkle: 'init', token: 'forged-token', name: 'Mallory'}, '*');
                }""",
                [f"{other.origin}/forger.html", f"{site.origin}/forger.html"],
            )

            async def forgers_done() -> int:
                done = 0
                for f in ada.page.frames:
                    if f.url.endswith("/forger.html"):
                        done += await f.evaluate("() => document.body.dataset.sent === 'yes'")
                return done

            await ada.until("both forgers to post", forgers_done, ready=lambda n: n == 2, within=10)
            await asyncio.sleep(QUIET_S)
            state = await _frame_state(ada, sparkle)
            assert state is not None and state["phase"] == "meeting"
            assert state["meetingPhase"] == "joined" and state["microphoneEnabled"] is False
            assert await _events(ada) == before, "a forged message caused an event"
            assert not bob.unread("participant_left") and not bob.unread("track_muted")
            assert not [m for m in bob.unread("chat") if m["message"]["text"] == "forged"]
            ignored = [line for line in ada.console if "sparkle: ignored" in line]
            assert any(other.origin in line for line in ignored), ada.console_tail()
            assert any(site.origin in line for line in ignored), ada.console_tail()
            assert any("second init" in line for line in ignored), ada.console_tail()

            # Hang up.
            await ada.page.evaluate("() => meeting.executeCommand('hangup')")
            events = await ada.until(
                "videoConferenceLeft and readyToClose",
                lambda: _events(ada),
                ready=lambda ev: _named("videoConferenceLeft")(ev) and _named("readyToClose")(ev),
                within=EVENT_TIMEOUT_S,
            )
            names = [n for n, _ in events]
            assert names.index("videoConferenceLeft") < names.index("readyToClose")
            left = await _server_sends(
                bob, "participant_left", lambda m: m["participant_sid"] == ada_sid, ada
            )
            assert left["reason"] == "left"
            # The example disposes of the meeting on readyToClose.
            assert (
                await ada.page.evaluate("() => document.querySelector('#meeting iframe')") is None
            )

        # The token went to the iframe by postMessage only: no request carried it.
        assert site.tokens and urls
        assert any("/embed/" in u for u in urls) and any("/api/v1/ws" in u for u in urls)
        for token in site.tokens:
            assert not [u for u in urls if token in u]


async def test_an_embedded_host_admits_mutes_and_removes(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    """Host-only commands from an embedding page whose token has room_admin, and the
    events hosts get: knockingParticipant, participantKickedOut."""
    sparkle = await server_factory()
    await _create_room(http, sparkle, lobby=True)
    async with _site(sparkle, "") as site:
        site.api_key = await _create_key(http, sparkle, [site.origin])
        site.grants = Grants.host()
        site.send_key = False  # the snippet finds the key in the token (its iss)
        ada = await browsers.launch("Ada Host")
        await ada.page.goto(f"{site.origin}/?room={ROOM}")
        await ada.until(
            "videoConferenceJoined",
            lambda: _events(ada),
            ready=_named("videoConferenceJoined"),
            within=EVENT_TIMEOUT_S,
        )
        async with WsClient.connect(sparkle.base_url) as bob:
            await bob.send("join", v=1, token=mint(sparkle.tokens, ROOM, "bob", name="Bob"))
            await bob.wait_for("lobby_waiting")
            events = await ada.until(
                "knockingParticipant",
                lambda: _events(ada),
                ready=_named("knockingParticipant"),
                within=EVENT_TIMEOUT_S,
            )
            knock = next(d for n, d in events if n == "knockingParticipant")
            assert knock["participant"]["name"] == "Bob"
            bob_sid = knock["participant"]["id"]
            await ada.page.evaluate(
                "(sid) => meeting.executeCommand('answerKnockingParticipant', sid, true)", bob_sid
            )
            joined = await _server_sends(bob, "joined", lambda m: True, ada)
            assert joined["participant"]["sid"] == bob_sid

            await ada.page.evaluate("() => meeting.executeCommand('muteEveryone', 'audio')")
            muted = await _server_sends(bob, "muted_by_host", lambda m: True, ada)
            assert muted["source"] == "microphone" and muted["by"]["name"] == "Ada Embedded"

            await ada.page.evaluate(
                "(sid) => meeting.executeCommand('kickParticipant', sid)", bob_sid
            )
            removed = await _server_sends(bob, "error", lambda m: m["code"] == "removed", ada)
            assert removed["fatal"] is True
            events = await ada.until(
                "participantKickedOut and participantLeft",
                lambda: _events(ada),
                ready=lambda ev: (
                    _named("participantKickedOut")(ev) and _named("participantLeft")(ev)
                ),
                within=EVENT_TIMEOUT_S,
            )
            kicked = next(d for n, d in events if n == "participantKickedOut")
            assert kicked["kicked"] == {"id": bob_sid, "local": False}
            assert ("participantLeft", {"id": bob_sid}) in events
            assert not _named("errorOccurred")(events), events


async def test_a_password_is_asked_for_and_given(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    """passwordRequired, then the `password` command joins with it."""
    sparkle = await server_factory()
    await _create_room(http, sparkle)
    async with _site(sparkle, "") as site, WsClient.connect(sparkle.base_url) as bob:
        site.api_key = await _create_key(http, sparkle, [site.origin])
        await bob.join(mint(sparkle.tokens, ROOM, "bob", name="Bob", grants=Grants.host()))
        await bob.send("update_room", settings={"password": "open sesame"})
        await bob.wait_for("room_updated")
        ada = await browsers.launch("Ada Embedded")
        await ada.page.goto(f"{site.origin}/?room={ROOM}")
        events = await ada.until(
            "passwordRequired",
            lambda: _events(ada),
            ready=_named("passwordRequired"),
            within=EVENT_TIMEOUT_S,
        )
        assert not _named("errorOccurred")(events), events
        await ada.page.evaluate("() => meeting.executeCommand('password', 'open sesame')")
        await ada.until(
            "videoConferenceJoined",
            lambda: _events(ada),
            ready=_named("videoConferenceJoined"),
            within=EVENT_TIMEOUT_S,
        )
        joined = await _server_sends(bob, "participant_joined", lambda m: True, ada)
        assert joined["participant"]["name"] == "Ada Embedded"


async def test_a_page_on_another_origin_cannot_frame_the_room(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    sparkle = await server_factory()
    await _create_room(http, sparkle)
    async with _site(sparkle, "") as allowed, _site(sparkle, "") as stranger:
        api_key = await _create_key(http, sparkle, [allowed.origin])
        allowed.api_key = stranger.api_key = api_key
        # What the server says to anyone who asks for the embed page with this key.
        async with http.get(sparkle.url(f"/embed/{ROOM}?key={api_key}")) as response:
            csp = response.headers["Content-Security-Policy"]
        ancestors = next(d for d in csp.split(";") if d.strip().startswith("frame-ancestors"))
        assert ancestors.split()[1:] == [allowed.origin]
        assert stranger.origin not in csp

        eve = await browsers.launch("Eve")
        await eve.page.goto(f"{stranger.origin}/?room={ROOM}")
        # The snippet made its iframe; Chromium refused to render Sparkle in it.
        await eve.until(
            "the snippet's iframe",
            lambda: eve.page.evaluate("() => document.querySelectorAll('#meeting iframe').length"),
            ready=lambda n: n == 1,
            within=EVENT_TIMEOUT_S,
        )
        blocked = await eve.until(
            "the framed Sparkle page to be blocked",
            lambda: _blocked_frame_url(eve, sparkle),
            within=EVENT_TIMEOUT_S,
        )
        assert blocked.startswith("chrome-error://"), blocked
        await asyncio.sleep(QUIET_S * 2)
        assert await _events(eve) == [], "the blocked frame said something"
        assert stranger.tokens, "the stranger's page did ask its backend for a token"
        # Nobody joined: the room has no live participants.
        async with http.get(
            sparkle.url(f"/api/v1/rooms/{ROOM}"), headers=sparkle.auth_headers
        ) as response:
            room = await response.json()
        assert room["participants"] == 0, room
        assert any("frame-ancestors" in line for line in eve.console), eve.console_tail()

        # Opened on its own (not framed), the embed page does nothing but say so.
        await eve.page.goto(sparkle.url(f"/embed/{ROOM}?key={api_key}"))
        title = await eve.until(
            "the not-embedded notice",
            lambda: eve.page.evaluate(
                "() => document.getElementById('ended').hidden ? ''"
                " : document.getElementById('ended-title').textContent"
            ),
            within=EVENT_TIMEOUT_S,
        )
        assert title == "This page is meant to be embedded"
        assert await eve.page.evaluate("() => document.getElementById('prejoin').hidden") is True


async def _blocked_frame_url(who: Participant, sparkle: RunningServer) -> str:
    for frame in who.page.frames:
        if frame is who.page.main_frame:
            continue
        if frame.url.startswith("chrome-error://"):
            return frame.url
        if frame.url.startswith(sparkle.base_url):
            # Loaded? Then its document must be inaccessible error content, not Sparkle.
            ok = await frame.evaluate("() => Boolean(window.sparkleDebug)")
            if ok:
                raise AssertionError("the Sparkle page loaded in a frame of a stranger's site")
    return ""
