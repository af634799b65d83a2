"""The pre-join screen in real Chromium: a name is required, and it says so clearly."""

from __future__ import annotations

import aiohttp

from tests.conftest import ServerFactory
from tests.support.browser import Browsers

EMPTY_NAME_MESSAGE = "Please enter your full name"


async def _new_meeting(http: aiohttp.ClientSession, base_url: str) -> dict[str, str]:
    async with http.post(base_url + "/api/v1/meetings", json={"name": "Host"}) as response:
        assert response.status == 201, await response.text()
        body = await response.json()
    return {"room": body["room"]["name"], "guest_url": body["guest_url"]}


async def test_empty_name_is_refused_with_a_clear_message(
    server_factory: ServerFactory, browsers: Browsers, http: aiohttp.ClientSession
) -> None:
    # The pre-join screen is the subject; the waiting room has its own test
    # (test_host_controls.py), so the guest walks straight in.
    server = await server_factory(meeting_lobby=False)
    meeting = await _new_meeting(http, server.base_url)
    guest = await browsers.launch("Guest")
    token_requests: list[str] = []
    guest.page.on(
        "request", lambda r: token_requests.append(r.url) if "guest-token" in r.url else None
    )
    await guest.open_link(meeting["guest_url"])
    name_input = guest.page.locator("#display-name")
    message = guest.page.locator("#prejoin-message")

    # The camera preview runs before joining (fake device), and the form starts clean.
    await guest.until(
        "the camera preview",
        lambda: guest.page.evaluate("() => document.getElementById('preview-video').videoWidth"),
        within=10,
    )
    assert await message.text_content() == ""

    for attempt in ("", "   \t "):
        await name_input.fill(attempt)
        await guest.page.click("#join-button")
        await guest.until(
            "the empty-name message",
            lambda: guest.page.evaluate(
                "() => document.getElementById('prejoin-message').textContent"
            ),
            within=5,
        )
        assert EMPTY_NAME_MESSAGE in (await message.text_content() or "")
        assert await message.get_attribute("role") == "alert"
        assert await name_input.get_attribute("aria-invalid") == "true"
        # Focus goes back to the field, so a keyboard user can type at once.
        assert await guest.page.evaluate("() => document.activeElement.id") == "display-name"
        assert await guest.phase() == "prejoin"
        await name_input.press("X")  # typing clears the message for the next round
        assert await message.text_content() == ""
        assert await name_input.get_attribute("aria-invalid") is None

    assert token_requests == [], "an empty name must not reach the server"

    # A real name, entered with the keyboard only, gets in.
    await name_input.fill("Grace Hopper")
    await name_input.press("Enter")
    await guest.until("the meeting view", guest.in_meeting, within=20)
    assert len(token_requests) == 1
    state = await guest.debug("state")
    assert state["self"]["name"] == "Grace Hopper"
    assert state["room"]["name"] == meeting["room"]
