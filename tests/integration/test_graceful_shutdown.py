"""SIGTERM to a real ``sparkle serve``: clients are told, the recording finishes, and nothing
of the server is left running afterwards (issue 7, operations; checklist item 20).

The server runs as a subprocess on a free loopback port with its own data directory, with a
host in a room and a recording under way, so the server has a child process (the local
recorder worker) when the signal arrives. Readiness during shutdown cannot be seen from
outside (aiohttp closes the listening socket before the app's shutdown hooks run):
tests/integration/test_readiness.py checks the 503 in process.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from signaling.tokens import Grants, TokenService
from tests.support.recording_events import recording_state
from tests.support.ws_client import WsClient

REPO = Path(__file__).resolve().parents[2]
# recorder_stop_timeout_s (10 s) bounds the recorder; it closes its files in well under 1 s.
EXIT_WITHIN_S = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time in clock ticks) from /proc/PID/stat; None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after its last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """Every live process below ``root``: pid -> start time (to tell a reused pid apart)."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents.setdefault(stat[0], []).append((int(entry), stat[2]))
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for pid, started in parents.get(todo.pop(), []):
            found[pid] = started
            todo.append(pid)
    return found


def still_running(processes: dict[int, int]) -> list[int]:
    alive = []
    for pid, started in processes.items():
        stat = _stat(pid)
        if stat is not None and stat[2] == started and stat[1] != "Z":
            alive.append(pid)
    return alive


@dataclass
class Served:
    proc: subprocess.Popen[str]
    base_url: str
    data_dir: Path
    tokens: TokenService


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    key, secret = "APIshutdown", secrets.token_urlsafe(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKLE_")}
    env.update(
        PYTHONUNBUFFERED="1",
        SPARKLE_API_KEY=key,
        SPARKLE_API_SECRET=secret,
        SPARKLE_RTC_LISTEN_ADDRESSES="127.0.0.1",
        SPARKLE_ICE_SERVERS="",
        SPARKLE_RECORDING_MIN_FREE_BYTES="0",
    )
    port = free_port()
    data = tmp_path / "data"
    args = ["serve", "--port", str(port), "--data-dir", str(data), "--log-format", "json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "signaling.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield Served(
            proc,
            f"http://127.0.0.1:{port}",
            data,
            TokenService(key, secret, max_ttl_s=3600, clock_skew_s=30),
        )
    finally:
        if proc.poll() is None:
            for pid in descendants(proc.pid):
                os.kill(pid, signal.SIGKILL)
            proc.kill()
        proc.communicate(timeout=10)


async def _wait_ready(served: Served, http: aiohttp.ClientSession) -> None:
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        assert served.proc.poll() is None, "the server exited before it was ready"
        try:
            async with http.get(served.base_url + "/readyz") as response:
                if response.status == 200:
                    assert await response.json() == {"status": "ready"}
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    pytest.fail("the server was not ready within 20 s")


def _recorder_state(folder: Path) -> tuple[bool, list[str]]:
    """Whether the recorder opened its manifest (it does once it has joined the room,
    recorder/worker.py), and its logs."""
    joined = any(folder.rglob("manifest.jsonl"))
    return joined, [p.read_text() for p in folder.rglob("recorder.log")]


async def _until_recorder_joined(folder: Path, within: float) -> None:
    deadline = time.monotonic() + within
    while not (state := await asyncio.to_thread(_recorder_state, folder))[0]:
        if time.monotonic() > deadline:
            pytest.fail(f"the recorder did not join within {within} s: {state[1]}")
        await asyncio.sleep(0.1)


async def test_sigterm_tells_clients_finishes_the_recording_and_leaves_nothing_running(
    served: Served, http: aiohttp.ClientSession
) -> None:
    await _wait_ready(served, http)
    host_token = served.tokens.mint("standup", "hana", "Hana", Grants.host(), 600)
    guest_token = served.tokens.mint("standup", "gus", "Gus", Grants.participant(), 600)
    async with (
        WsClient.connect(served.base_url) as host,
        WsClient.connect(served.base_url) as guest,
    ):
        await host.join(host_token)
        await guest.join(guest_token)
        await host.send("start_recording")
        recording_id = (await recording_state(host, "recording"))["id"]
        await _until_recorder_joined(served.data_dir / "recordings", 20.0)
        children = descendants(served.proc.pid)
        assert children, "the local recorder worker should be a child of the server"

        started = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        for client in (host, guest):
            bye = await client.wait_for("bye", within=5.0)
            assert bye["reason"] == "shutdown"
            assert await client.wait_closed(within=5.0) == 1001  # going away (RFC 6455 7.4.1)
        code = await asyncio.to_thread(served.proc.wait, EXIT_WITHIN_S)
        elapsed = time.monotonic() - started

    assert code == 0
    assert elapsed < EXIT_WITHIN_S
    assert still_running(children) == [], f"children of the server survived: {children}"
    _out, err = served.proc.communicate(timeout=5)
    entries = [json.loads(line) for line in err.splitlines() if line.strip()]  # all JSON
    messages = [entry["message"] for entry in entries]
    assert not [m for m in messages if "still running after shutdown" in m], messages
    assert "shutdown complete: no task left running" in messages

    # The recording was finished, not abandoned: its row is closed without an error.
    with sqlite3.connect(served.data_dir / "sparkle.db") as db:
        row = db.execute(
            "SELECT state, ended_at, error FROM recordings WHERE id = ?", (recording_id,)
        ).fetchone()
    assert row is not None and row[0] == "stopped" and row[1] is not None, row
    assert row[2] is None, row
