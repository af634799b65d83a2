"""Real headless Chromium participants for the browser tests (tests/browser/).

Each participant is its own Chromium process: the fake camera and microphone files are
browser-wide flags, and headless background tabs stop presenting video (see
shared/notes/browser-tests.md). Chromium is Debian's (``scripts/install-test-packages.sh``),
driven by Python Playwright through ``executable_path``; no browser is ever downloaded.

    async with Browsers(tmp_path) as browsers:
        alice = await browsers.launch("Alice Example")
        await alice.page.goto(base_url + "/r/room#name=Alice")
        tiles = await alice.until(
            "two remote tiles",
            lambda: alice.debug("remoteTiles"),
            ready=lambda tiles: len(tiles) == 2,
            within=20,
        )

Every wait is bounded and fails fast when a renderer crashes (Playwright's ``crash`` event,
i.e. CDP ``Inspector.targetCrashed``); failures quote the page's console.

The tests must only ever talk to 127.0.0.1: ``network_isolated()`` tells whether this process
runs in a network namespace that has nothing but ``lo`` (tests/browser/conftest.py arranges
that with ``unshare -n``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tests.support.fake_media import FakeMedia, make_fake_media

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page, Playwright

CHROMIUM = Path("/usr/lib/chromium/chromium")
LAUNCH_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.2
EVALUATE_TIMEOUT_S = 10.0  # page.evaluate has no timeout of its own
CONSOLE_LINES_KEPT = 200

# Flags from shared/notes/browser-tests.md. Playwright adds its own defaults (headless,
# --no-sandbox, --disable-background-networking, ...) before these; a repeated
# --disable-features replaces Playwright's, so the features that phone home are listed
# again here next to the WebRTC one.
CHROMIUM_FLAGS = (
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # Chromium gathers no ICE candidate on lo without this.
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
    "--disable-features=WebRtcHideLocalIpsWithMdns,MediaRouter,OptimizationHints,"
    "NetworkTimeServiceQuerying,PreconnectToSearch,Translate,HttpsUpgrades,PaintHolding",
)

T = TypeVar("T")


class Watched(Protocol):
    """What ``eventually`` needs of a participant: Chromium here, Firefox in firefox.py."""

    def check_alive(self) -> None: ...

    async def snapshot(self) -> str: ...


class BrowserCrashed(AssertionError):
    """A participant's renderer crashed or its browser went away."""


def network_isolated() -> bool:
    """True when this process sees no network interface but loopback."""
    return all(name == "lo" for _, name in socket.if_nameindex())


def missing_requirements() -> str | None:
    """Why browser tests cannot run on this machine at all, or None when they can."""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} not found: run scripts/install-test-packages.sh"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Python playwright is not installed: pip install -e '.[test]'"
    return None


def isolation_requirements() -> str | None:
    """Why this process cannot create a loopback-only network namespace, or None."""
    if os.geteuid() != 0:
        return "browser tests need root to run in a private network namespace (unshare -n)"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found: run scripts/install-test-packages.sh"
    return None


@dataclass
class Participant:
    """One Chromium process with one page, and what it logged."""

    name: str
    media: FakeMedia
    browser: Browser
    page: Page
    console: list[str] = field(default_factory=list)
    crashed: bool = False

    def check_alive(self) -> None:
        if self.crashed:
            raise BrowserCrashed(f"{self.name}: the renderer crashed\n{self.console_tail()}")
        if not self.browser.is_connected():
            raise BrowserCrashed(f"{self.name}: the browser disconnected\n{self.console_tail()}")

    def console_tail(self, lines: int = 40) -> str:
        tail = self.console[-lines:]
        return f"--- {self.name} console (last {len(tail)}) ---\n" + "\n".join(tail)

    async def debug(self, method: str, *args: Any) -> Any:
        """Calls ``window.sparkleDebug.<method>(...args)`` in the page (awaits promises)."""
        self.check_alive()
        return await asyncio.wait_for(
            self.page.evaluate(
                "([method, args]) => window.sparkleDebug[method](...args)", [method, list(args)]
            ),
            timeout=EVALUATE_TIMEOUT_S,
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

    async def snapshot(self) -> str:
        """Client state, remote tiles and console tail, for failure messages."""
        try:
            state = await self.page.evaluate(
                "() => window.sparkleDebug ? {state: window.sparkleDebug.state(),"
                " tiles: window.sparkleDebug.remoteTiles()} : null"
            )
            text = json.dumps(state, indent=1, default=str)
        except Exception as exc:  # a crashed or closed page: say so, keep the rest
            text = f"(no state: {exc})"
        return f"=== {self.name} ===\n{text}\n{self.console_tail()}"

    async def phase(self) -> str | None:
        """The page's phase (prejoin, joining, meeting, ended); None before the page is up."""
        self.check_alive()
        result = await asyncio.wait_for(
            self.page.evaluate(
                "() => window.sparkleDebug ? window.sparkleDebug.state().phase : null"
            ),
            timeout=EVALUATE_TIMEOUT_S,
        )
        return None if result is None else str(result)

    # ---- flows through the real UI ------------------------------------------------------

    async def create_meeting(self, base_url: str) -> str:
        """Home page -> "New meeting" as this participant; returns the guest link shown."""
        await self.page.goto(base_url + "/")
        await self.page.fill("#host-name", self.name)
        await self.page.click("#create-button")
        await self.page.wait_for_selector("#ready-card:not([hidden])")
        link = await self.page.input_value("#guest-link")
        await self.page.click("#enter-button")
        await self.page.wait_for_url("**/r/**")
        return link

    async def open_link(self, url: str) -> None:
        await self.page.goto(url)
        await self.until("the pre-join screen", self.in_prejoin, within=10)

    async def join(self, *, type_name: bool = False, within: float = 20) -> None:
        """On the pre-join screen: optionally type our name, press Join, wait until in."""
        await self.until("the pre-join screen", self.in_prejoin, within=10)
        if type_name:
            await self.page.fill("#display-name", self.name)
        await self.page.click("#join-button")
        await self.until("the meeting view", self.in_meeting, within=within)

    async def in_prejoin(self) -> bool:
        return await self.phase() == "prejoin"

    async def in_meeting(self) -> bool:
        return await self.phase() == "meeting"


async def eventually(
    what: str,
    probe: Callable[[], Awaitable[T]],
    *,
    within: float,
    ready: Callable[[T], bool] = bool,
    participants: tuple[Watched, ...] = (),
) -> T:
    """Polls ``probe`` until ``ready(value)``; returns that value.

    After ``within`` seconds it raises AssertionError with the last value, each participant's
    client state and the end of its console.
    """
    deadline = time.monotonic() + within
    while True:
        for p in participants:
            p.check_alive()
        value = await probe()
        if ready(value):
            return value
        if time.monotonic() >= deadline:
            details = [await p.snapshot() for p in participants]
            raise AssertionError(
                f"timed out after {within:.0f} s waiting for {what}; last value: {value!r}\n"
                + "\n".join(details)
            )
        await asyncio.sleep(POLL_INTERVAL_S)


class Browsers:
    """Starts Playwright on first use and owns every browser it launches."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.participants: list[Participant] = []
        self._playwright: Playwright | None = None
        self._manager: Any = None
        self._launched = 0
        self._starting = asyncio.Lock()

    async def __aenter__(self) -> Browsers:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def launch(
        self, name: str, *, viewport: tuple[int, int] = (640, 480), index: int | None = None
    ) -> Participant:
        """A new Chromium with its own fake camera colour and tone, and one blank page."""
        # Taken before the first await, so launches run concurrently get distinct media.
        number = self._launched if index is None else index
        self._launched += 1
        media = make_fake_media(self.workdir / "media", number)
        async with self._starting:  # concurrent launches share one Playwright driver
            if self._playwright is None:
                from playwright.async_api import async_playwright

                self._manager = async_playwright()
                self._playwright = await self._manager.start()
        args = [
            *CHROMIUM_FLAGS,
            f"--use-file-for-fake-video-capture={media.y4m}",
            f"--use-file-for-fake-audio-capture={media.wav}",
            f"--window-size={viewport[0]},{viewport[1]}",
        ]
        browser = await self._playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=args,
            timeout=LAUNCH_TIMEOUT_S * 1000,
        )
        context = await browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            permissions=["camera", "microphone"],
        )
        page = await context.new_page()
        page.set_default_timeout(15_000)
        participant = Participant(name=name, media=media, browser=browser, page=page)
        page.on("console", lambda msg: _keep(participant, _console_line(msg)))
        page.on("pageerror", lambda err: _keep(participant, f"[pageerror] {err}"))
        page.on("crash", lambda _page: _crashed(participant))
        self.participants.append(participant)
        return participant

    async def close(self) -> None:
        for participant in self.participants:
            # A crashed browser may refuse to close politely; the others still get closed.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(participant.browser.close(), timeout=10)
        self.participants.clear()
        if self._manager is not None:
            await asyncio.wait_for(self._manager.__aexit__(None, None, None), timeout=10)
            self._manager = None
            self._playwright = None


def _console_line(msg: ConsoleMessage) -> str:
    return f"[{msg.type}] {msg.text}"


def _keep(participant: Participant, line: str) -> None:
    participant.console.append(line)
    del participant.console[:-CONSOLE_LINES_KEPT]


def _crashed(participant: Participant) -> None:
    participant.crashed = True
    _keep(participant, "[crash] renderer crashed")
