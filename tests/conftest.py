"""Shared test fixtures. Reuse these rather than building configs or servers by hand.

``make_config(tmp_path, **overrides) -> Config``
    A Config for tests: data_dir under ``tmp_path``, a fresh strong API key pair, media on
    127.0.0.1, and the environment ignored (``SPARKLE_*`` variables of the shell running the
    tests never leak in). Overrides are setting names, e.g. ``make_config(tmp_path,
    max_participants=2)``.

``server`` (async fixture) -> RunningServer
    The full app (``signaling.app.create_app``) on 127.0.0.1, a free port, default test
    config. Torn down after the test (graceful shutdown, database closed).

``server_factory`` (async fixture) -> ``async (**overrides) -> RunningServer``
    The same with config overrides; start as many as needed, all torn down at the end.

``RunningServer``
    ``.config``, ``.app``, ``.base_url`` ("http://127.0.0.1:PORT"), ``.ws_url``
    ("ws://127.0.0.1:PORT/api/v1/ws"), ``.url(path)``, ``.auth_headers``
    (``{"Authorization": "Basic ..."}`` with the API key pair), ``.tokens`` (the app's
    TokenService, to mint tokens directly).

``http`` (async fixture) -> aiohttp.ClientSession, closed after the test.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from signaling.config import Config, load
from signaling.logging_setup import AccessLogger
from signaling.tokens import TokenService


def make_config(tmp_path: Path, **overrides: Any) -> Config:
    values: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "api_key": "APItest" + secrets.token_hex(4),
        "api_secret": secrets.token_urlsafe(32),
        "rtc_listen_addresses": "127.0.0.1",
        "ice_servers": "",
    }
    values.update(overrides)
    return load(env={}, overrides=values)


@dataclass
class RunningServer:
    config: Config
    app: web.Application
    base_url: str

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http") + "/api/v1/ws"

    @property
    def auth_headers(self) -> dict[str, str]:
        # aiohttp 3.14 deprecates BasicAuth objects in favour of a ready header.
        return {
            "Authorization": aiohttp.encode_basic_auth(self.config.api_key, self.config.api_secret)
        }

    @property
    def tokens(self) -> TokenService:
        from signaling.appkeys import TOKENS

        return self.app[TOKENS]

    def url(self, path: str) -> str:
        return self.base_url + path


ServerFactory = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def server_factory(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    from signaling.app import create_app
    from signaling.appkeys import ROOMS

    started: list[TestServer] = []

    async def start(**overrides: Any) -> RunningServer:
        config = make_config(tmp_path / f"server{len(started)}", **overrides)
        app = create_app(config)
        test_server = TestServer(app, host="127.0.0.1", port=0)
        # The production access logger: no query strings or headers in test logs either.
        await test_server.start_server(access_log_class=AccessLogger)
        started.append(test_server)
        base = str(test_server.make_url("")).rstrip("/")
        # Workers the server starts (recorder, transcriber) reach it where the test server
        # listens.
        app[ROOMS].recordings.worker_url = base
        app[ROOMS].transcription.worker_url = base
        app[ROOMS].framing.worker_url = base
        return RunningServer(config=config, app=app, base_url=base)

    yield start
    for test_server in reversed(started):
        await test_server.close()


@pytest.fixture
async def server(server_factory: ServerFactory) -> RunningServer:
    return await server_factory()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session
