"""A real webhook receiver for tests: an aiohttp app on 127.0.0.1 that verifies every
delivery's signature with ``signaling.webhook_signature.verify`` (as an integrator would) and
answers from a script.

    async with WebhookReceiver.running(secret, ["500", "slow", "200"]) as receiver:
        ...  # set a key's webhook_url to receiver.url
        delivery = await receiver.wait_delivered("room_started")

Script steps, one per request (then "200" for ever): a status code ("200", "404", "500"),
"slow" (answer 200 after ``slow_s``, later than the server waits), "redirect" (302 to
another path), "huge" (500 with a 2 MiB body), "huge200" (200 with a 2 MiB body).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from signaling.webhook_signature import SignatureError, verify

HUGE = b"x" * (2 * 1024 * 1024)


@dataclass
class Delivery:
    id: str
    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any]
    verified: bool
    answer: str  # the script step that answered it

    @property
    def event(self) -> str:
        return str(self.payload.get("event"))


class WebhookReceiver:
    def __init__(self, secret: str, script: Iterable[str], slow_s: float) -> None:
        self.secret = secret
        self.script = list(script)
        self.slow_s = slow_s
        self.requests: list[Delivery] = []
        self._changed = asyncio.Event()
        self.url = ""

    @classmethod
    @asynccontextmanager
    async def running(
        cls, secret: str, script: Iterable[str] = (), *, slow_s: float = 3.0
    ) -> AsyncIterator[WebhookReceiver]:
        receiver = cls(secret, script, slow_s)
        app = web.Application()
        app.router.add_post("/hook", receiver._handle)
        app.router.add_post("/elsewhere", receiver._handle)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        receiver.url = str(server.make_url("/hook"))
        try:
            yield receiver
        finally:
            await server.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = dict(request.headers)
        try:
            verify(self.secret, request.headers, body)
            verified = True
        except SignatureError:
            verified = False
        step = self.script.pop(0) if self.script else "200"
        delivery = Delivery(
            id=request.headers.get("webhook-id", ""),
            headers=headers,
            body=body,
            payload=json.loads(body),
            verified=verified,
            answer=step,
        )
        self.requests.append(delivery)
        self._changed.set()
        if step == "slow":
            await asyncio.sleep(self.slow_s)
            return web.Response(status=200)
        if step == "redirect":
            raise web.HTTPFound("/elsewhere")
        if step == "huge":
            return web.Response(status=500, body=HUGE)
        if step == "huge200":
            return web.Response(status=200, body=HUGE)
        return web.Response(status=int(step), text="receiver says " + step)

    def delivered(self) -> list[Delivery]:
        """Requests answered with a 2xx, in arrival order."""
        return [d for d in self.requests if d.answer in ("200", "204", "huge200")]

    async def wait(self, count: int, within: float = 10.0) -> list[Delivery]:
        """Until ``count`` requests arrived (answered or not)."""
        async with asyncio.timeout(within):
            while len(self.requests) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.requests

    async def wait_delivered(self, event: str, within: float = 10.0) -> Delivery:
        async with asyncio.timeout(within):
            while True:
                for delivery in self.delivered():
                    if delivery.event == event:
                        return delivery
                self._changed.clear()
                await self._changed.wait()

    async def wait_events(self, count: int, within: float = 10.0) -> list[Delivery]:
        """Until ``count`` deliveries were answered with a 2xx."""
        async with asyncio.timeout(within):
            while len(self.delivered()) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.delivered()
