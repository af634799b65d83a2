"""The model process pool: real processes, real models, nothing left behind."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from benchmarks.speech_audio import SpeechSynthesizer
from transcribe.model_settings import ModelSettings, ModelUnavailable
from transcribe.speech_pool import SpeechPool


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_two_processes_recognize_concurrently_and_close_cleanly() -> None:
    synthesizer = SpeechSynthesizer()
    first = synthesizer.synthesize("Alice will book the venue by Monday.")
    second = synthesizer.synthesize("Bob finished the report yesterday.")
    pool = SpeechPool(ModelSettings(), workers=2)
    try:
        await asyncio.wait_for(pool.start(), 60)
        assert len(pool.pids) == 2 and os.getpid() not in pool.pids
        texts = await asyncio.wait_for(
            asyncio.gather(pool.recognize(first, "Alice, Bob."), pool.recognize(second, None)),
            60,
        )
    finally:
        await asyncio.wait_for(pool.close(), 30)
    assert "venue" in texts[0] and "Monday" in texts[0], texts
    assert "report" in texts[1] and "yesterday" in texts[1], texts
    assert not any(alive(pid) for pid in pool.pids)
    with pytest.raises(RuntimeError, match="start"):
        await pool.recognize(first, None)
    await pool.close()  # idempotent


async def test_a_bogus_model_path_fails_fast_with_a_clear_error() -> None:
    pool = SpeechPool(ModelSettings(model="/nonexistent/whisper-model"), workers=1)
    with pytest.raises(ModelUnavailable, match="does not exist"):
        await asyncio.wait_for(pool.start(), 10)


async def test_a_broken_model_fails_in_the_process_and_no_process_stays(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"not a model")
    (tmp_path / "config.json").write_text("{}")
    pool = SpeechPool(ModelSettings(model=str(tmp_path)), workers=1)
    with pytest.raises(ModelUnavailable, match="failed to load"):
        await asyncio.wait_for(pool.start(), 60)
    assert pool.pids == frozenset()
    with pytest.raises(RuntimeError, match="start"):
        await pool.recognize(SpeechSynthesizer().synthesize("Hello."), None)
