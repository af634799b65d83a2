"""A pool of model processes: one single-threaded Whisper per process, one process per core.

Why processes, not threads: CTranslate2 releases the GIL while decoding, but a second thread
on the same tiny.en model does not make one decode faster (docs/transcription.md), while
independent processes scale with cores and keep a crashing native library away from the
worker's event loop and network sessions. Each process sets OpenMP/CTranslate2 to one
thread before loading the model (faster-whisper and CTranslate2 are imported lazily, in
``Recognizer``), so N processes use N cores. numpy's BLAS threads are fixed when numpy is
imported, which a spawned child does before any initializer runs (it re-imports the parent's
main module): set ``OPENBLAS_NUM_THREADS=1`` in the worker's environment, which the children
inherit. Unpinned, the evaluation measured more CPU than wall time (0.20 vs 0.16 s per
second of speech, benchmarks/transcribe_eval.py): helper threads busy on the other core.

The "spawn" start method: the worker's parent process runs an asyncio loop, aiortc peers and
their threads; forking it would copy locks held by those threads into the child
(CPython gh-84559; 3.14 makes spawn/forkserver the default for that reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .model_settings import ModelSettings, ModelUnavailable, model_directory
from .recognizer import Recognizer

# A cold tiny.en load takes ~1 s; a big model from a slow disk may take a minute. Past this
# the pool is reported as unavailable rather than leaving the worker hanging.
LOAD_TIMEOUT_S = 180.0
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# How often a model process checks that its transcriber is still alive.
PARENT_CHECK_S = 1.0


class SpeechPoolError(Exception):
    """A model process died (killed, out of memory) while recognizing; the pool restarts."""


@dataclass
class _ProcessState:
    """The one model of a pool process. Lives only in pool children: the initializer is its
    only writer, and ``ProcessPoolExecutor`` gives no other way to keep an object per process."""

    recognizer: Recognizer | None = None
    error: str | None = None
    barrier: Any = None  # multiprocessing Barrier shared by the processes started together


_STATE = _ProcessState()


def _exit_with_parent(parent: int) -> None:
    """A model process must not outlive its transcriber: killed with SIGKILL, the parent
    cannot shut the pool down, and the children would wait on their call queue forever,
    each holding a model (~100 MB) and nobody to use it (security checklist item 20). Linux's
    PR_SET_PDEATHSIG would fire when the *thread* that started the child exits, which in a
    ProcessPoolExecutor need not be the process's end; so a watchdog polls getppid(): once
    the parent is gone, the child has been re-parented and exits."""
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent:
            os._exit(1)


def _initialize(settings: ModelSettings, barrier: Any, parent: int) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    _STATE.barrier = barrier
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(settings.cpu_threads)
    try:
        _STATE.recognizer = Recognizer(settings)
    except Exception as exc:  # kept and reported by _ready: a raising initializer only
        # breaks the pool with a BrokenProcessPool that hides the reason.
        _STATE.error = f"{type(exc).__name__}: {exc}"


def _ready() -> tuple[int, str | None]:
    """Called once per process at start: the barrier holds each process in this call until
    all have loaded, so the N calls land on N different processes."""
    if _STATE.barrier is not None:
        with contextlib.suppress(threading.BrokenBarrierError):
            _STATE.barrier.wait(LOAD_TIMEOUT_S)
    return os.getpid(), _STATE.error


def _recognize(audio: npt.NDArray[np.float32], prompt: str | None) -> str:
    if _STATE.recognizer is None:
        raise ModelUnavailable(_STATE.error or "the model process has no model")
    return _STATE.recognizer.transcribe(audio, prompt)


class SpeechPool:
    """N processes, one single-threaded Recognizer each; ``recognize`` from any task."""

    def __init__(self, settings: ModelSettings, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.settings = settings
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self.pids: frozenset[int] = frozenset()  # the model processes seen at start

    async def start(self) -> None:
        """Start the processes and load every model; raises ``ModelUnavailable`` clearly."""
        if self._executor is not None:
            return
        model_directory(self.settings)  # fail fast, with the reason, before any process
        context = multiprocessing.get_context("spawn")
        self._executor = self._new_executor(context.Barrier(self.workers))
        loop = asyncio.get_running_loop()
        try:
            # With "spawn", each submit finds no idle process and starts one, so N calls
            # start N processes, each loading its model in the initializer.
            calls = [loop.run_in_executor(self._executor, _ready) for _ in range(self.workers)]
            answers = await asyncio.wait_for(asyncio.gather(*calls), LOAD_TIMEOUT_S)
        except TimeoutError:
            await self.close()
            raise ModelUnavailable(
                f"model {self.settings.model!r} did not load within {LOAD_TIMEOUT_S:.0f} s"
            ) from None
        except BrokenProcessPool as exc:
            await self.close()
            raise ModelUnavailable(f"a model process died while loading: {exc}") from exc
        except BaseException:
            await self.close()
            raise
        errors = {error for _, error in answers if error}
        if errors:
            await self.close()
            raise ModelUnavailable(
                f"model {self.settings.model!r} failed to load: {'; '.join(sorted(errors))}"
            )
        self.pids = frozenset(pid for pid, _ in answers)

    async def recognize(self, audio: npt.NDArray[np.float32], prompt: str | None) -> str:
        """The text of one utterance (see ``Recognizer.transcribe``)."""
        if self._executor is None:
            raise RuntimeError("SpeechPool.start() was not called (or the pool is closed)")
        executor = self._executor
        try:
            return await asyncio.get_running_loop().run_in_executor(
                executor, _recognize, audio, prompt
            )
        except BrokenProcessPool as exc:
            # One process died (OOM killer, a native crash): every pending call fails with
            # it. Start a fresh pool for the next utterances instead of failing them all.
            if self._executor is executor:
                self._executor = self._new_executor()
                await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
            raise SpeechPoolError(f"a model process died: {exc}") from exc

    async def close(self) -> None:
        """Stop every process (pending calls are cancelled); idempotent."""
        executor, self._executor = self._executor, None
        if executor is not None:
            # shutdown(wait=True) joins the processes: none is left behind, not even a zombie.
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    def _new_executor(self, barrier: Any = None) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_initialize,
            initargs=(self.settings, barrier, os.getpid()),
        )
