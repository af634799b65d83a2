"""Real headless Firefox participants, driven over WebDriver BiDi (tests/browser/test_firefox.py).

Playwright cannot drive a stock Firefox (it needs its own patched build, which is never
downloaded here), but Firefox speaks WebDriver BiDi itself (https://w3c.github.io/webdriver-bidi/):
``firefox-esr --headless --remote-debugging-port=0 --profile DIR`` writes the port it chose to
``DIR/WebDriverBiDiServer.json`` and accepts a WebSocket at ``ws://127.0.0.1:PORT/session``.
This module is a small typed client for the handful of commands the tests need, over aiohttp
(already a dependency):

    async with FirefoxBrowsers(tmp_path) as firefoxes:
        fox = await firefoxes.launch("Frida Firefox")
        await fox.open_link(base_url + "/r/room")
        await fox.join(type_name=True)
        tiles = await fox.until("a remote tile", lambda: fox.debug("remoteTiles"), within=20)

A ``FirefoxParticipant`` offers the same ``check_alive``/``snapshot``/``until``/``debug``
surface as the Chromium ``Participant`` of tests/support/browser.py, so ``eventually`` watches
both kinds. Every command is bounded (``COMMAND_TIMEOUT_S``); a Firefox that exits or drops
its WebSocket fails every waiting command at once instead of leaving it to time out.

Each Firefox gets a fresh profile whose ``user.js`` (``PREFS``) turns on the fake camera and
microphone, lets ICE use loopback, and switches off everything that would phone home, and runs
with ``MOZ_DISABLE_NONLOCAL_CONNECTIONS=1`` (``FIREFOX_ENV``), so Firefox itself refuses any
connection that is not local. The tests run inside a loopback-only network namespace anyway
(tests/browser/conftest.py), where an outside connection fails at once rather than hanging.
Firefox's own output goes to ``stderr.log`` next to the profile and is quoted on failures;
it inherits the environment, so e.g. ``MOZ_LOG=nicer:5`` adds ICE logs there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from tests.support.bidi import BidiConnection, Json, ScriptError, from_remote_value, to_local_value
from tests.support.browser import BrowserCrashed, eventually

FIREFOX = Path("/usr/lib/firefox-esr/firefox-esr")
LAUNCH_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 10.0
NAVIGATE_TIMEOUT_S = 15.0
CLOSE_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.1
CONSOLE_LINES_KEPT = 200
STDERR_LINES_SHOWN = 20

# WebDriver's code points for special keys (WebDriver "keyboard actions" table).
ENTER = "\ue007"
CONTROL = "\ue009"

PrefValue = bool | int | str

FIREFOX_ENV = {
    # Mozilla's own test harnesses set this: Firefox refuses every connection that is not to
    # a local address (an error at once, never a hang), and remote settings honour the
    # dummy server below instead of their built-in one (services-settings/Utils.sys.mjs).
    "MOZ_DISABLE_NONLOCAL_CONNECTIONS": "1",
    "MOZ_CRASHREPORTER_DISABLE": "1",
}

# Written to the profile's user.js. The first group is what the tests need; the rest keeps a
# fresh profile from reaching outside hosts at start (updates, telemetry, remote settings,
# safe browsing lists, captive-portal and connectivity probes, the OpenH264 plugin download).
PREFS: dict[str, PrefValue] = {
    "media.navigator.streams.fake": True,  # built-in fake camera (colour sweep) and 1 kHz tone
    "media.navigator.permission.disabled": True,  # no getUserMedia prompt
    # A fake capture counts as "actively capturing". Without that Firefox gathers only the
    # default-route address (PeerConnectionImpl::GetPrefDefaultAddressOnly), and a
    # loopback-only namespace has no default route: no candidate at all, "ICE failed".
    "media.navigator.permission.fake": True,
    "media.peerconnection.ice.loopback": True,  # gather host candidates on lo
    "media.peerconnection.ice.obfuscate_host_addresses": False,  # 127.0.0.1, not mDNS names
    "media.autoplay.default": 0,  # allow audible autoplay without a gesture
    "media.autoplay.blocking_policy": 0,
    "media.volume_scale": "0.0",  # silent, like Chromium's --mute-audio
    "media.videocontrols.picture-in-picture.enabled": False,  # no overlay on every <video>
    "app.update.enabled": False,
    "app.update.auto": False,
    "app.normandy.enabled": False,
    "app.shield.optoutstudies.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.aboutwelcome.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.newtabpage.activity-stream.feeds.system.topstories": False,
    "browser.newtabpage.activity-stream.feeds.snippets": False,
    "browser.newtabpage.activity-stream.telemetry": False,
    "browser.ping-centre.telemetry": False,
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "browser.search.update": False,
    "browser.sessionstore.resume_from_crash": False,
    "browser.tabs.warnOnClose": False,
    "browser.topsites.contile.enabled": False,
    "browser.translations.enable": False,
    "browser.ml.enable": False,
    "captivedetect.canonicalURL": "",
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.usage.uploadEnabled": False,
    "dom.push.connection.enabled": False,
    "dom.push.serverURL": "",
    "extensions.blocklist.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "extensions.update.enabled": False,
    "geo.provider.network.url": "",
    "identity.fxaccounts.enabled": False,
    "media.gmp-manager.updateEnabled": False,
    "media.gmp-manager.url": "",
    "media.gmp-gmpopenh264.autoupdate": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.http.speculative-parallel-limit": 0,
    "network.prefetch-next": False,
    "network.trr.mode": 5,  # no DNS over HTTPS
    "security.OCSP.enabled": 0,
    "security.remote_settings.crlite_filters.enabled": False,
    "security.remote_settings.intermediates.enabled": False,
    # The value Firefox's own remote agent uses to switch remote settings off.
    "services.settings.server": "data:,#remote-settings-dummy/v1",
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.server": "data:,",
    "toolkit.telemetry.unified": False,
    "toolkit.startup.max_resumed_crashes": -1,
}

T = TypeVar("T")


def firefox_missing() -> str | None:
    """Why Firefox tests cannot run here, or None when they can."""
    if not FIREFOX.is_file():
        return (
            f"{FIREFOX} not found: run scripts/install-test-packages.sh "
            "(apt-get install firefox-esr)"
        )
    return None


def user_js(prefs: dict[str, PrefValue]) -> str:
    """``user_pref(...)`` lines; json.dumps quotes strings and spells booleans as JS does."""
    return "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())


# ---- one Firefox -----------------------------------------------------------------------------


@dataclass
class FirefoxParticipant:
    """One Firefox process with one tab (a BiDi top-level browsing context)."""

    name: str
    process: subprocess.Popen[bytes]
    bidi: BidiConnection
    context: str
    stderr_path: Path
    console: list[str] = field(default_factory=list)

    # ---- health and diagnostics ----------------------------------------------------------

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise BrowserCrashed(f"{self.name}: Firefox exited with {code}\n{self.console_tail()}")
        if self.bidi.closed is not None:
            raise BrowserCrashed(
                f"{self.name}: lost the BiDi connection ({self.bidi.closed})\n{self.console_tail()}"
            )

    def console_tail(self, lines: int = 40) -> str:
        tail = self.console[-lines:]
        stderr = self.stderr_path.read_text(errors="replace").splitlines()[-STDERR_LINES_SHOWN:]
        return (
            f"--- {self.name} console (last {len(tail)}) ---\n"
            + "\n".join(tail)
            + f"\n--- {self.name} Firefox stderr (last {len(stderr)}) ---\n"
            + "\n".join(stderr)
        )

    async def snapshot(self) -> str:
        """Client state, remote tiles and console tail, for failure messages."""
        try:
            state = await self.evaluate(
                "window.sparkleDebug ? {state: window.sparkleDebug.state(),"
                " tiles: window.sparkleDebug.remoteTiles()} : null"
            )
            text = json.dumps(state, indent=1, default=str)
        except Exception as exc:  # a dead browser: say so, keep the rest
            text = f"(no state: {exc})"
        return f"=== {self.name} (Firefox) ===\n{text}\n{self.console_tail()}"

    def _on_event(self, method: str, params: Json) -> None:
        if method != "log.entryAdded":
            return
        if params.get("source", {}).get("context") not in (None, self.context):
            return
        kind = "pageerror" if params.get("type") == "javascript" else params.get("level", "log")
        self.console.append(f"[{kind}] {params.get('text', '')}")
        del self.console[:-CONSOLE_LINES_KEPT]

    # ---- script ----------------------------------------------------------------------------

    async def evaluate(self, expression: str, *, within: float = COMMAND_TIMEOUT_S) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        self.check_alive()
        result = await self.bidi.command(
            "script.evaluate",
            {
                "expression": expression,
                "target": {"context": self.context},
                "awaitPromise": True,
                "resultOwnership": "none",
            },
            within=within,
        )
        return self._value(result)

    async def call(self, declaration: str, *args: object) -> Any:
        """Calls a JavaScript function declaration with JSON-like arguments."""
        self.check_alive()
        result = await self.bidi.command(
            "script.callFunction",
            {
                "functionDeclaration": declaration,
                "arguments": [to_local_value(a) for a in args],
                "target": {"context": self.context},
                "awaitPromise": True,
                "resultOwnership": "none",
            },
        )
        return self._value(result)

    def _value(self, result: Json) -> Any:
        if result.get("type") == "exception":
            details = result.get("exceptionDetails", {})
            raise ScriptError(f"{self.name}: the page threw: {details.get('text')}")
        return from_remote_value(result["result"])

    async def debug(self, method: str, *args: Any) -> Any:
        """Calls ``window.sparkleDebug.<method>(...args)`` in the page (awaits promises)."""
        return await self.call(
            "(method, args) => window.sparkleDebug[method](...args)", method, list(args)
        )

    async def until(
        self,
        what: str,
        probe: Callable[[], Awaitable[T]],
        *,
        within: float,
        ready: Callable[[T], bool] = bool,
    ) -> T:
        """Polls ``probe`` until ``ready(value)``, for at most ``within`` seconds."""
        return await eventually(what, probe, within=within, ready=ready, participants=(self,))

    async def phase(self) -> str | None:
        """The page's phase (prejoin, joining, meeting, ended); None before the page is up."""
        result = await self.evaluate(
            "window.sparkleDebug ? window.sparkleDebug.state().phase : null"
        )
        return None if result is None else str(result)

    async def in_prejoin(self) -> bool:
        return await self.phase() == "prejoin"

    async def in_meeting(self) -> bool:
        return await self.phase() == "meeting"

    # ---- navigation and real input ---------------------------------------------------------

    async def goto(self, url: str) -> None:
        self.check_alive()
        await self.bidi.command(
            "browsingContext.navigate",
            {"context": self.context, "url": url, "wait": "complete"},
            within=NAVIGATE_TIMEOUT_S,
        )

    async def click(self, selector: str) -> None:
        """A real mouse click (``input.performActions``) in the middle of the element."""
        self.check_alive()
        found = await self.bidi.command(
            "browsingContext.locateNodes",
            {"context": self.context, "locator": {"type": "css", "value": selector}},
        )
        nodes = found.get("nodes", [])
        assert nodes, f"{self.name}: no element matches {selector!r}"
        origin = {"type": "element", "element": {"sharedId": nodes[0]["sharedId"]}}
        await self._actions(
            {
                "type": "pointer",
                "id": "mouse",
                "parameters": {"pointerType": "mouse"},
                "actions": [
                    {"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pointerUp", "button": 0},
                ],
            }
        )

    async def type_text(self, text: str) -> None:
        """Key presses into the focused element, one character at a time."""
        keys: list[Json] = []
        for char in text:
            keys += [{"type": "keyDown", "value": char}, {"type": "keyUp", "value": char}]
        await self._actions({"type": "key", "id": "keyboard", "actions": keys})

    async def press(self, *keys: str) -> None:
        """One chord: every key down in order, then up in reverse (e.g. CONTROL, "a")."""
        downs = [{"type": "keyDown", "value": k} for k in keys]
        ups = [{"type": "keyUp", "value": k} for k in reversed(keys)]
        await self._actions({"type": "key", "id": "keyboard", "actions": downs + ups})

    async def _actions(self, source: Json) -> None:
        self.check_alive()
        await self.bidi.command(
            "input.performActions", {"context": self.context, "actions": [source]}
        )
        await self.bidi.command("input.releaseActions", {"context": self.context})

    # ---- flows through the real UI -------------------------------------------------------

    async def open_link(self, url: str) -> None:
        await self.goto(url)
        await self.until("the pre-join screen", self.in_prejoin, within=10)

    async def join(self, *, type_name: bool = False, within: float = 20) -> None:
        """On the pre-join screen: optionally type our name, press Join, wait until in."""
        await self.until("the pre-join screen", self.in_prejoin, within=10)
        if type_name:
            await self.click("#display-name")
            await self.type_text(self.name)
        await self.click("#join-button")
        await self.until("the meeting view", self.in_meeting, within=within)

    # ---- lifetime --------------------------------------------------------------------------

    async def close(self) -> None:
        """Asks Firefox to quit, then makes sure its whole process group is gone."""
        if self.bidi.closed is None and self.process.poll() is None:
            with contextlib.suppress(Exception):
                await self.bidi.command("browser.close", {}, within=CLOSE_TIMEOUT_S)
        await self.bidi.close()
        await _stop(self.process)


async def _stop(process: subprocess.Popen[bytes]) -> None:
    """Waits for Firefox to exit, then ends its process group (content processes included)."""
    try:
        await asyncio.to_thread(process.wait, CLOSE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.terminate()
    # Firefox was started in its own session, so its process group is only Firefox.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await asyncio.to_thread(process.wait, CLOSE_TIMEOUT_S)


def _start_firefox(
    profile: Path, viewport: tuple[int, int], output: Path
) -> subprocess.Popen[bytes]:
    with open(output, "wb") as log:
        return subprocess.Popen(
            [
                str(FIREFOX),
                "--headless",
                "--no-remote",
                "--remote-debugging-port=0",  # Firefox picks a free port, see _bidi_port
                "--profile",
                str(profile),
                f"--window-size={viewport[0]},{viewport[1]}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so _stop can end the content processes with it.
            start_new_session=True,
            # The environment passes through, so MOZ_LOG=nicer:5 (ICE) shows up in stderr.log.
            env={**os.environ, **FIREFOX_ENV},
        )


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:]


def _read_port(server_file: Path) -> int | None:
    try:
        return int(json.loads(server_file.read_text())["ws_port"])
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None  # not written yet, or half written


async def _bidi_port(profile: Path, process: subprocess.Popen[bytes], stderr: Path) -> int:
    """The port Firefox chose, from the file its remote agent writes into the profile."""
    server_file = profile / "WebDriverBiDiServer.json"
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserCrashed(
                f"Firefox exited with {process.returncode} at start:\n{_tail(stderr)}"
            )
        port = _read_port(server_file)
        if port is not None:
            return port
        await asyncio.sleep(POLL_INTERVAL_S)
    raise AssertionError(
        f"Firefox did not start its BiDi server within {LAUNCH_TIMEOUT_S} s:\n{_tail(stderr)}"
    )


class FirefoxBrowsers:
    """Launches Firefox participants on demand and owns every one it launched."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.participants: list[FirefoxParticipant] = []

    async def __aenter__(self) -> FirefoxBrowsers:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def launch(
        self, name: str, *, viewport: tuple[int, int] = (640, 480)
    ) -> FirefoxParticipant:
        """A new headless Firefox with a fresh profile and one blank tab."""
        number = len(self.participants)
        profile = self.workdir / f"firefox-{number}" / "profile"
        profile.mkdir(parents=True)
        (profile / "user.js").write_text(user_js(PREFS))
        stderr_path = profile.parent / "stderr.log"
        process = _start_firefox(profile, viewport, stderr_path)
        try:
            port = await _bidi_port(profile, process, stderr_path)
            bidi = await BidiConnection.open(f"ws://127.0.0.1:{port}/session")
        except BaseException:
            await _stop(process)
            raise
        try:
            await bidi.command("session.new", {"capabilities": {}})
            tree = await bidi.command("browsingContext.getTree", {"maxDepth": 0})
            context = str(tree["contexts"][0]["context"])
            participant = FirefoxParticipant(
                name=name,
                process=process,
                bidi=bidi,
                context=context,
                stderr_path=stderr_path,
            )
            bidi.on_event(participant._on_event)
            await bidi.command("session.subscribe", {"events": ["log.entryAdded"]})
        except BaseException:
            await bidi.close()
            await _stop(process)
            raise
        self.participants.append(participant)
        return participant

    async def close(self) -> None:
        for participant in self.participants:
            # One Firefox refusing to quit politely must not keep the others running.
            with contextlib.suppress(Exception):
                await participant.close()
        self.participants.clear()
