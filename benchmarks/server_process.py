"""The parent's handle on a ``benchmarks.media_server`` child: start, signal, measure, stop."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

import aiohttp

from .cpu_meter import CpuSample, sample

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0


class ServerProcess:
    def __init__(self, mode: str, process: asyncio.subprocess.Process, port: int) -> None:
        self.mode = mode
        self.process = process
        self.base = f"http://127.0.0.1:{port}"
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    @classmethod
    async def start(cls, mode: str) -> ServerProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.media_server",
            "--mode",
            mode,
            cwd=str(ROOT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
            if not line.startswith(b"LISTENING "):
                raise RuntimeError(f"media_server did not start: {line!r}")
            port = int(line.split()[1])
        except BaseException:
            await _end(process)
            raise
        return cls(mode, process, port)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> CpuSample:
        return sample(self.pid)

    async def join(
        self, peer_id: str, sdp: str, sources: dict[str, str], *, subscribe: bool
    ) -> str:
        body = {"peer_id": peer_id, "sdp": sdp, "sources": sources, "subscribe": subscribe}
        async with self.session.post(self.base + "/join", json=body) as response:
            response.raise_for_status()
            data: dict[str, Any] = await response.json()
        return str(data["sdp"])

    async def stats(self) -> dict[str, Any]:
        async with self.session.get(self.base + "/stats") as response:
            response.raise_for_status()
            data: dict[str, Any] = await response.json()
        return data

    async def stop(self) -> None:
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
            async with self.session.post(self.base + "/shutdown") as response:
                await response.read()
        await self.session.close()
        await _end(self.process)


async def _end(process: asyncio.subprocess.Process) -> None:
    if process.stdin is not None:
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()
        await process.wait()
