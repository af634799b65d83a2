"""The transcriber's room session (transcribe/worker.py) against a real server, real aiortc
participants and the real speech pool (tiny.en in model processes).

Two participants publish a microphone each that plays known sentences (Piper speech, made
offline by benchmarks/speech_audio.py) at moments the test records; the session joins with a
``transcriber`` token, takes both tracks, and must caption each sentence with the right
track and speaker, text close to what was said, and start/end times close to when it was
said, soon after the speaker stopped. Then: the last utterance is flushed and captioned when
the session ends mid-sentence, the session ends on ``transcription`` off and on ``bye``, no
task is left behind, and the token never reaches the log.

Captions are checked at the session's ``on_caption`` sink (in production: "send over the
socket"), where their timing is measured; the last test runs the real worker process
(``python -m transcribe``) against a server with ``transcriber_workers = "remote"``: it
claims the job, and the captions arrive over the wire at the participants, are stored, and
the job is reported done when a host turns transcription off.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np
import numpy.typing as npt
import pytest

from benchmarks.speech_audio import SpeechSynthesizer
from signaling.appkeys import ROOMS
from signaling.tokens import Grants
from tests.conftest import RunningServer, ServerFactory
from tests.support.media_participant import Participant, participant
from tests.support.recording_events import until
from tests.support.speech_track import SpeechTrack
from tests.support.ws_client import WsClient, mint
from transcribe.model_settings import ModelSettings
from transcribe.speech_pool import SpeechPool
from transcribe.worker import Caption, ExitCode, SessionOptions, TranscriberSession

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
RATE_IN = 16_000
JOIN_S = 15.0  # join, ICE, DTLS, first decoded frame on every slot
# After the speaker stops: the VAD's 0.5 s of silence, one recognition (~0.5 s on an idle
# core), and the media path. The acceptance target is p95 <= 1.5 s (benchmarks measure it
# on an idle machine); here two publishers, the SFU and the worker share 2 cores.
LATENCY_LIMIT_S = 3.0
# The start of a caption is the start of speech as the VAD saw it, minus its 0.2 s pad
# choice (the pad is on the audio, not the times) plus the media path (~0.1 s).
TIME_TOLERANCE_S = 0.6

SENTENCES = {
    "alice": [
        "Let's review the budget for the new office.",
        "I will send the report to Bob by Friday.",
    ],
    "bob": [
        "The design review moved to Thursday afternoon.",
        "Alice, please check the numbers again.",
    ],
}
Samples = npt.NDArray[np.float32]


@dataclass
class Observed:
    """What the session produced: every caption and when it came out."""

    captions: list[tuple[float, Caption]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def texts(self) -> list[str]:
        return [c.text for _, c in self.captions]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_errors(reference: str, hypothesis: str) -> int:
    """Levenshtein distance over words."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1]


@pytest.fixture(scope="module")
def speech() -> dict[str, Samples]:
    synthesizer = SpeechSynthesizer()
    return {
        text: synthesizer.synthesize(text, "piper", "clean")
        for sentences in SENTENCES.values()
        for text in sentences
    }


@pytest.fixture
async def speech_pool() -> AsyncIterator[SpeechPool]:
    pool = SpeechPool(ModelSettings(), workers=2)
    await pool.start()
    try:
        yield pool
    finally:
        await pool.close()


CLAIM = "/api/v1/transcriber/jobs/claim?wait=5"


@dataclass
class Meeting:
    server: RunningServer
    room: str
    host: WsClient
    people: dict[str, tuple[Participant, SpeechTrack]]

    async def start_transcription(self, http: aiohttp.ClientSession) -> str:
        """A host turns transcription on; the test claims the job as a worker would and
        returns the job's join token (with the ``transcriber`` grant)."""
        await self.host.send("start_transcription")
        on = await self.host.wait_for("transcription", 10.0)
        assert on["state"] == "on", on
        url = self.server.url(CLAIM)
        async with http.post(url, headers=self.server.auth_headers) as response:
            assert response.status == 200, await response.text()
            job = await response.json()
        assert job["room"] == self.room and job["meeting_id"] == on["meeting_id"]
        return str(job["token"])


@asynccontextmanager
async def meeting(server: RunningServer, room: str, names: list[str]) -> AsyncIterator[Meeting]:
    host_token = mint(server.tokens, room, "hana", name="Hana", grants=Grants.host())
    async with WsClient.connect(server.base_url) as host:
        await host.join(host_token)
        async with speakers(server, room, names) as people:
            yield Meeting(server, room, host, people)


@asynccontextmanager
async def speakers(
    server: RunningServer, room: str, names: list[str]
) -> AsyncIterator[dict[str, tuple[Participant, SpeechTrack]]]:
    async with AsyncExitStack() as stack:
        found = {}
        for name in names:
            track = SpeechTrack()
            joined = await stack.enter_async_context(
                participant(server, room, name, [("microphone", track)])
            )
            found[name] = (joined, track)
        yield found


def observe(session: TranscriberSession) -> Observed:
    """Hook the session's caption sink: record each caption, then send it as usual."""
    observed = Observed()
    send = session.on_caption

    async def sink(caption: Caption) -> None:
        observed.captions.append((time.time(), caption))
        observed.changed.set()
        await send(caption)

    session.on_caption = sink
    return observed


async def until_receiving(
    session: TranscriberSession, slots: int, worker: asyncio.Task[int]
) -> None:
    """Until ``slots`` captioners decode frames of a known track (bounded)."""
    async with asyncio.timeout(JOIN_S):
        while sum(1 for c in session.captioners if c.stream is not None) < slots:
            assert not worker.done(), "the session ended early"
            await asyncio.sleep(0.05)


async def until_captions(observed: Observed, count: int, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while len(observed.captions) < count:
            observed.changed.clear()
            await observed.changed.wait()


def session_tasks() -> set[asyncio.Task[object]]:
    """Running tasks whose coroutine is the transcriber's own code."""
    found = set()
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None and "/transcribe/" in code.co_filename and not task.done():
            found.add(task)
    return found


def new_session(
    server: RunningServer, room: str, pool: SpeechPool, token: str
) -> TranscriberSession:
    options = SessionOptions(
        url=server.base_url, room=room, token=token, rtc_addresses=("127.0.0.1",)
    )
    return TranscriberSession(options, pool, asyncio.Event())


async def test_two_speakers_are_captioned_with_their_names_and_times(
    server_factory: ServerFactory,
    http: aiohttp.ClientSession,
    speech_pool: SpeechPool,
    speech: dict[str, Samples],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await server_factory(transcriber_workers="remote")
    room = "captions"
    async with meeting(server, room, ["alice", "bob"]) as met:
        token = await met.start_transcription(http)
        session = new_session(server, room, speech_pool, token)
        observed = observe(session)
        worker = asyncio.create_task(session.run())
        try:
            await until_receiving(session, 2, worker)
            # Both speak at once, each sentence followed by a pause that ends it.
            for name, (_, track) in met.people.items():
                for text in SENTENCES[name]:
                    track.say(text, speech[text])
                    track.say("", np.zeros(RATE_IN, dtype=np.float32))  # 1 s pause
            await until_captions(observed, 4, 30.0)
            # Over the wire: the server names each caption's speaker from its track.
            wire = [await met.host.wait_for("caption", 5.0) for _ in range(4)]
            session.stop.set()
            code = await asyncio.wait_for(worker, 20.0)
        finally:
            worker.cancel()
    assert code == ExitCode.STOPPED
    assert session_tasks() == set()
    assert session.captions_sent == 4
    assert sorted((m["identity"], m["name"], m["text"]) for m in wire) == sorted(
        (c.identity, c.name, c.text) for _, c in observed.captions
    )

    by_speaker: dict[str, list[tuple[float, Caption]]] = {}
    for arrived, caption in observed.captions:
        by_speaker.setdefault(caption.identity, []).append((arrived, caption))
    assert sorted(by_speaker) == ["alice", "bob"], observed.texts()
    latencies = []
    errors = total = 0
    for name, (_, track) in met.people.items():
        spoken = [s for s in track.spoken if s.text]
        got = by_speaker[name]
        assert len(got) == len(spoken), (name, [c.text for _, c in got])
        assert len({c.track for _, c in got}) == 1  # one track per speaker
        for said, (arrived, caption) in zip(spoken, got, strict=True):
            assert caption.name == name.title()
            assert caption.track.startswith("TR_")
            errors += word_errors(said.text, caption.text)
            total += len(words(said.text))
            assert abs(caption.start - said.start) < TIME_TOLERANCE_S, (caption, said)
            assert abs(caption.end - said.end) < TIME_TOLERANCE_S, (caption, said)
            latencies.append(arrived - said.end)
    # Shown with ``pytest -s``: what came out and how late.
    print(f"captions {observed.texts()} latencies {[round(x, 2) for x in latencies]}")
    assert errors / total <= 0.1, observed.texts()
    assert max(latencies) < LATENCY_LIMIT_S, latencies
    # The names given as the prompt come out right.
    assert any("Bob" in text for text in observed.texts()), observed.texts()
    assert any("Alice" in text for text in observed.texts()), observed.texts()
    # The token never reaches a log line or a repr.
    assert token not in caplog.text
    assert token not in repr(session.options) and token not in repr(session)


async def test_the_utterance_under_way_is_captioned_when_transcription_stops(
    server_factory: ServerFactory,
    http: aiohttp.ClientSession,
    speech_pool: SpeechPool,
    speech: dict[str, Samples],
) -> None:
    server = await server_factory(transcriber_workers="remote")
    room = "flush"
    text = SENTENCES["alice"][1]
    async with meeting(server, room, ["alice"]) as met:
        _, track = met.people["alice"]
        session = new_session(server, room, speech_pool, await met.start_transcription(http))
        observed = observe(session)
        worker = asyncio.create_task(session.run())
        try:
            await until_receiving(session, 1, worker)
            track.say(text, speech[text])
            await asyncio.wait_for(track.quiet.wait(), 15.0)
            # The speaker just stopped: the VAD has not seen enough silence to end the
            # utterance. The host turns transcription off now: the session must still
            # caption it, send it, then leave.
            await met.host.send("stop_transcription")
            code = await asyncio.wait_for(worker, 20.0)
            caption = await met.host.wait_for("caption", 5.0)
            await met.host.wait_for("meeting_summary", 15.0)
        finally:
            worker.cancel()
    assert code == ExitCode.DONE
    assert session.finish_reason == "transcription turned off"
    assert len(observed.captions) == 1, observed.texts()
    assert word_errors(text, observed.captions[0][1].text) <= 1, observed.texts()
    assert (caption["identity"], caption["text"]) == ("alice", observed.captions[0][1].text)
    assert session_tasks() == set()


async def test_the_session_ends_on_bye_when_the_meeting_ends(
    server_factory: ServerFactory, http: aiohttp.ClientSession, speech_pool: SpeechPool
) -> None:
    server = await server_factory(transcriber_workers="remote")
    room = "ending"
    async with meeting(server, room, ["alice"]) as met:
        session = new_session(server, room, speech_pool, await met.start_transcription(http))
        worker = asyncio.create_task(session.run())
        try:
            await until_receiving(session, 1, worker)
            await met.host.send("end_meeting")
            code = await asyncio.wait_for(worker, 10.0)
        finally:
            worker.cancel()
    assert code == ExitCode.DONE
    # The server says transcription is off, then ``bye``: either ends the session.
    reason = session.finish_reason
    assert reason == "transcription turned off" or reason.startswith("bye"), reason
    assert session_tasks() == set()


async def test_a_session_that_joins_after_transcription_stopped_leaves_at_once(
    server_factory: ServerFactory, http: aiohttp.ClientSession, speech_pool: SpeechPool
) -> None:
    server = await server_factory(transcriber_workers="remote")
    room = "late"
    async with meeting(server, room, ["alice"]) as met:
        token = await met.start_transcription(http)
        await met.host.send("stop_transcription")
        await met.host.wait_for("transcription", 5.0, lambda m: m["state"] == "off")
        session = new_session(server, room, speech_pool, token)
        code = await asyncio.wait_for(session.run(), 10.0)
    assert code == ExitCode.DONE
    assert session.finish_reason == "transcription is off"
    assert session.captioners == []
    assert session_tasks() == set()


async def test_a_refused_token_fails_the_join_without_showing_it(
    server: RunningServer, speech_pool: SpeechPool, caplog: pytest.LogCaptureFixture
) -> None:
    from transcribe.worker import JoinFailed

    caplog.set_level(logging.DEBUG)
    options = SessionOptions(
        url=server.base_url, room="nope", token="not.a.token", rtc_addresses=("127.0.0.1",)
    )
    session = TranscriberSession(options, speech_pool)
    with pytest.raises(JoinFailed) as failure:
        await asyncio.wait_for(session.run(), 10.0)
    assert "invalid_token" in str(failure.value)
    assert "not.a.token" not in str(failure.value) and "not.a.token" not in caplog.text
    assert session_tasks() == set()


async def test_a_worker_process_claims_the_job_and_captions_over_the_wire(
    server_factory: ServerFactory, http: aiohttp.ClientSession, speech: dict[str, Samples]
) -> None:
    server = await server_factory(transcriber_workers="remote")
    room = "wire"
    secret = server.config.api_secret
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "transcribe", "--server", server.base_url, "--workers", "1",
        "--rtc-address", "127.0.0.1", "--claim-wait", "2", "--verbose",
        cwd=REPO,
        env={**os.environ, "SPARKLE_API_KEY": server.config.api_key, "SPARKLE_API_SECRET": secret},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    host_token = mint(server.tokens, room, "hana", name="Hana", grants=Grants.host())
    text = SENTENCES["alice"][1]
    try:
        async with (
            WsClient.connect(server.base_url) as host,
            speakers(server, room, ["alice"]) as people,
        ):
            await host.join(host_token)
            alice, track = people["alice"]
            await host.send("start_transcription")
            on = await host.wait_for("transcription", 10.0)
            assert on["state"] == "on"
            live = server.app[ROOMS].live_room(room)
            assert live is not None
            await until(
                lambda: any(p.hidden for p in live.participants.values()), 60.0, "the worker"
            )
            await asyncio.sleep(2.0)  # its offer, ICE and DTLS
            track.say(text, speech[text])
            caption = await alice.ws.wait_for("caption", 20.0)
            said = track.spoken[0]
            assert (caption["identity"], caption["name"]) == ("alice", "Alice")
            assert word_errors(text, caption["text"]) <= 1, caption
            assert isinstance(caption["segment_id"], int)
            assert abs(caption["start"] - said.start) < TIME_TOLERANCE_S, (caption, said)
            assert abs(caption["end"] - said.end) < TIME_TOLERANCE_S, (caption, said)
            assert caption == await host.wait_for("caption", 5.0)
            await host.send("stop_transcription")
            await host.wait_for("meeting_summary", 20.0)
            meeting_id = on["meeting_id"]
        url = server.url(f"/api/v1/meetings/{meeting_id}/transcript?format=json")
        async with http.get(url, headers=server.auth_headers) as response:
            assert response.status == 200, await response.text()
            transcript = await response.json()
        assert [s["text"] for s in transcript["segments"]] == [caption["text"]]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            _, err = await asyncio.wait_for(process.communicate(), 20.0)
        except TimeoutError:
            process.kill()
            _, err = await process.communicate()
    log = err.decode(errors="replace")
    assert process.returncode == 0, log
    assert "sparkle-transcriber: claimed TJ_" in log
    assert "1 captions" in log, log  # the job's end, as the worker logged it
    assert secret not in log
