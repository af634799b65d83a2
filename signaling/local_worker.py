"""A worker process this server starts on its own machine (``*_workers = "local"``).

The embedded default needs nothing else to run: the server starts the worker (``python -m
transcribe``, ``python -m framing``) the first time a room needs one, hands it the API key
pair in its environment (never on the command line, which any local user can read), logs
its output to a file in the data directory, restarts it when it dies (at most once per
``respawn_min_s``, so a worker that cannot start does not spin) and stops it at shutdown
(SIGTERM, then SIGKILL after ``kill_after_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)


class LocalWorkerProcess:
    def __init__(
        self,
        module: str,
        *,
        log_path: Path,
        api_key: str,
        api_secret: str,
        respawn_min_s: float = 10.0,
        kill_after_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.module = module
        self._log_path = log_path
        self._env = {"SPARKLE_API_KEY": api_key, "SPARKLE_API_SECRET": api_secret}
        self._respawn_min_s = respawn_min_s
        self._kill_after_s = kill_after_s
        self._clock = clock
        self._process: asyncio.subprocess.Process | None = None
        self._spawned_at = -respawn_min_s

    @property
    def pid(self) -> int | None:
        """The process's pid while it runs (for operators and tests)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def ensure(self, args: Sequence[str]) -> None:
        """Start the worker with ``args`` unless it runs (or was started moments ago)."""
        process = self._process
        if process is not None and process.returncode is None:
            return
        if self._clock() - self._spawned_at < self._respawn_min_s:
            return
        self._spawned_at = self._clock()
        if process is not None:
            code = process.returncode
            log.error("the %s process exited with code %s; restarting", self.module, code)
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = await asyncio.to_thread(open, self._log_path, "ab")
        with log_file:
            try:
                self._process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    self.module,
                    *args,
                    env={**os.environ, **self._env},
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=log_file,
                )
            except OSError as exc:
                log.error("the %s process did not start: %s", self.module, exc)
                return
        log.info("%s process started (pid %d)", self.module, self._process.pid)

    async def stop(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=self._kill_after_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
