"""The transcriber's room session: joins a room as a hidden participant and captions it.

It speaks the public signalling protocol (docs/protocol.md) like any client, through the
recorder's client (recorder/signal_client.py): ``join`` as "Transcriber" with a token that
carries the ``transcriber`` grant, then receive-only *audio* slots (transcribe/audio_peer.py),
re-offered whenever the server sends ``renegotiate``. Each slot's decoded audio goes through
a SlotCaptioner (transcribe/slot_captioner.py: 16 kHz mono, one UtteranceSegmenter per
track, a bounded queue); each utterance is recognised in the shared speech pool with the
participants' names as Whisper's prompt (names are where tiny.en errs most; the prompt
fixed most of them, /work/shared/notes/ai-workers.md) and becomes one ``caption``:

    {"type": "caption", "track": "<track sid>", "start": <epoch s>, "end": <epoch s>, "text": ...}

with times from the wall clock of the track's first frame plus the utterance's offset in the
stream. Empty text is not sent. The session ends when the server sends ``transcription``
with state "off", a ``bye``, when the socket closes, or when ``stop`` is set (the pool's
SIGTERM): each track's segmenter is flushed and its last captions sent before ``leave``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import numpy as np
import numpy.typing as npt

from recorder.roster import Roster
from recorder.signal_client import JoinFailed, SignalClient, ws_url

from .audio_peer import AudioPeer, AudioSlot
from .slot_captioner import PendingUtterance, SlotCaptioner
from .utterances import SegmenterSettings, UtteranceSegmenter
from .vad import silero_session

__all__ = [
    "Caption",
    "ExitCode",
    "JoinFailed",
    "SessionOptions",
    "Speech",
    "TranscriberSession",
    "participant_prompt",
]

logger = logging.getLogger(__name__)

NAME = "Transcriber"
# Whisper's prompt holds at most 223 tokens (half its 448-token context); a long roster is
# cut so the prompt never crowds out the utterance's own decoding.
MAX_PROMPT_NAMES = 40
MAX_PROMPT_CHARS = 600


class ExitCode(enum.IntEnum):
    DONE = 0
    FAILED = 1
    JOIN_FAILED = 3
    STOPPED = 4  # ``stop`` was set (the worker shuts down) while transcription was on


class Speech(Protocol):
    """What a session needs of the speech pool (transcribe/speech_pool.py's SpeechPool)."""

    async def recognize(self, audio: npt.NDArray[np.float32], prompt: str | None) -> str: ...


@dataclass(frozen=True)
class Caption:
    """One recognised utterance of one track."""

    track: str  # the track sid
    identity: str  # its participant's identity and name, as the roster had them
    name: str
    start: float  # epoch seconds
    end: float
    text: str

    def message(self) -> dict[str, Any]:
        """The ``caption`` message's fields (the server adds identity and name itself)."""
        return {"track": self.track, "start": self.start, "end": self.end, "text": self.text}


CaptionSink = Callable[[Caption], Awaitable[None]]


@dataclass(frozen=True)
class SessionOptions:
    url: str  # http(s)://host:port of the Sparkle server
    room: str
    token: str
    rtc_addresses: tuple[str, ...] = ()  # local addresses for ICE (default: aioice's)
    join_timeout_s: float = 10.0
    queue_limit: int = 8  # utterances waiting for recognition per slot; then the oldest go
    drain_timeout_s: float = 15.0  # at the end, time left to recognise what is queued
    segmenter: SegmenterSettings = field(default_factory=SegmenterSettings)

    def __repr__(self) -> str:  # never print the token
        return f"SessionOptions(url={self.url!r}, room={self.room!r})"


class TranscriberSession:
    def __init__(
        self, options: SessionOptions, speech: Speech, stop: asyncio.Event | None = None
    ) -> None:
        self.options = options
        self.speech = speech
        self.stop = stop if stop is not None else asyncio.Event()
        self.roster = Roster()
        self.signal = SignalClient(options.token, name=NAME)
        self.peer = AudioPeer(options.rtc_addresses, self.signal.request, self._on_slot)
        self.captioners: list[SlotCaptioner] = []
        self.finish_reason = ""
        self.captions_sent = 0
        # Where each caption goes: over the socket. Public so that a caller can observe (or
        # redirect) what the session produces; the pool leaves it as it is.
        self.on_caption: CaptionSink = self.send_caption
        self._owners: dict[str, str] = {}  # track sid -> participant sid (kept after it ends)
        self._ended: set[str] = set()  # track sids unpublished
        self._finished = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"TranscriberSession(room={self.options.room!r})"

    # --- life cycle -----------------------------------------------------------------------

    async def run(self) -> int:
        """Transcribe until the session ends; return an ExitCode. Raises JoinFailed."""
        url = ws_url(self.options.url)
        timeout = aiohttp.ClientTimeout(total=None, connect=self.options.join_timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                try:
                    return await self._session(http, url)
                finally:
                    await self.signal.close()  # still open if e.g. the join was refused
        finally:
            await self.peer.close()

    async def _session(self, http: aiohttp.ClientSession, url: str) -> int:
        seconds = self.options.join_timeout_s
        # The VAD model loads once per process (~0.1 s): not on the event loop.
        await asyncio.to_thread(silero_session)
        try:
            joined = await asyncio.wait_for(self.signal.join(http, url), seconds)
        except (aiohttp.ClientError, OSError) as exc:
            raise JoinFailed(f"cannot connect to {url}: {type(exc).__name__}") from None
        except TimeoutError:
            raise JoinFailed(f"no answer to join within {seconds} s") from None
        try:
            return await self._transcribe(joined)
        finally:
            await self._shutdown()

    async def _transcribe(self, joined: dict[str, Any]) -> int:
        room = joined.get("room")
        name = room.get("name") if isinstance(room, dict) else None
        if name != self.options.room:
            raise JoinFailed(f"the token is for room {name!r}, not {self.options.room!r}")
        self.roster.load(joined.get("participants"), joined.get("tracks"))
        for track in self.roster.tracks.values():
            self._owners[track.sid] = track.participant_sid
        # A server that knows transcription says whether it is on; one that does not (no
        # field) handed out the token deliberately.
        if "transcription" in joined and not _is_on(joined["transcription"]):
            self.finish_reason = "transcription is off"
            return ExitCode.DONE
        self.peer.renegotiate(self.roster.slots_needed())
        reader = self._spawn(self._read())
        stopping = asyncio.ensure_future(self.stop.wait())
        finished = asyncio.ensure_future(self._finished.wait())
        try:
            await asyncio.wait({stopping, finished}, return_when=asyncio.FIRST_COMPLETED)
            if not self._finished.is_set():
                self.finish_reason = "stop requested"
                return ExitCode.STOPPED
            return ExitCode.DONE
        finally:
            for future in (stopping, finished):
                future.cancel()
            reader.cancel()
            await asyncio.gather(reader, stopping, finished, return_exceptions=True)

    def _finish(self, reason: str) -> None:
        if not self._finished.is_set():
            self.finish_reason = reason
            self._finished.set()

    async def _shutdown(self) -> None:
        """Last captions first (flushed, recognised, sent), then leave, then the media."""
        await self.peer.cancel_tasks()
        await asyncio.gather(
            *(c.finish(self.options.drain_timeout_s) for c in self.captioners),
            return_exceptions=True,
        )
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.signal.leave()
        await self.peer.close()

    # --- signalling -----------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            await self.signal.read(self._handle_safely, self._finished.is_set)
        finally:
            self._finish(self.finish_reason or "socket closed")

    def _handle_safely(self, message: dict[str, Any]) -> None:
        try:
            self.handle_message(message)
        except Exception:
            logger.exception("handling a server message failed")

    def handle_message(self, message: dict[str, Any]) -> None:
        """Apply one server message (public: a test can play the server's part)."""
        if self.signal.settle_reply(message):
            return
        kind = message.get("type")
        if kind == "renegotiate":
            self.peer.renegotiate(message.get("recv"))
        elif kind == "track_published":
            track = self.roster.add_track(message.get("track"))
            if track is not None:
                self._owners[track.sid] = track.participant_sid
        elif kind == "track_unpublished":
            sid = message.get("track_sid")
            self.roster.remove_track(sid)
            if isinstance(sid, str):
                self._ended.add(sid)
                for captioner in self.captioners:
                    captioner.end_track(sid)
        elif kind in ("participant_joined", "participant_updated"):
            self.roster.add_participant(message.get("participant"))
        elif kind == "camera_accepted":
            self.roster.load(message.get("participants"), message.get("tracks"))
            for track in self.roster.tracks.values():
                self._owners[track.sid] = track.participant_sid
        elif kind == "transcription":
            if not _is_on(message):
                self._finish("transcription turned off")
        elif kind == "bye":
            self._finish(f"bye ({message.get('reason')})")
        elif kind == "error":
            logger.warning("server error %s: %s", message.get("code"), message.get("message"))

    # --- audio ----------------------------------------------------------------------------

    def _on_slot(self, slot: AudioSlot) -> None:
        if self._finished.is_set() or self.stop.is_set():
            return
        settings = self.options.segmenter
        captioner = SlotCaptioner(
            slot,
            track_sid=lambda: self._audio_track(slot),
            recognize=self._recognize,
            new_segmenter=lambda: UtteranceSegmenter(settings),
            queue_limit=self.options.queue_limit,
        )
        self.captioners.append(captioner)
        captioner.start()

    def _audio_track(self, slot: AudioSlot) -> str | None:
        """The audio track ``slot`` carries now, if it is one to transcribe."""
        sid = self.peer.track_sid(slot)
        if sid is None or sid in self._ended:
            return None
        track = self.roster.tracks.get(sid)
        return sid if track is not None and track.kind == "audio" else None

    async def _recognize(self, item: PendingUtterance) -> None:
        audio = item.utterance.audio
        began = time.monotonic()
        text = (await self.speech.recognize(audio, participant_prompt(self.roster))).strip()
        logger.info(
            "track %s: %.1f s recognised in %.2f s (%d characters)",
            item.track_sid, len(audio) / 16_000, time.monotonic() - began, len(text),
        )  # fmt: skip
        if not text:
            return
        speaker = self.roster.participant(self._owners.get(item.track_sid, ""))
        caption = Caption(
            track=item.track_sid,
            identity=speaker.identity,
            name=speaker.name,
            start=round(item.start, 3),
            end=round(item.end, 3),
            text=text,
        )
        await self.on_caption(caption)

    async def send_caption(self, caption: Caption) -> None:
        """The default sink: a ``caption`` message to the server."""
        try:
            await self.signal.send("caption", **caption.message())
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            logger.warning("a caption of track %s was lost: %s", caption.track, exc)
            return
        self.captions_sent += 1

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def participant_prompt(roster: Roster) -> str | None:
    """The participants' names as Whisper's initial prompt, e.g. "Ann Lee, Bob."."""
    names: list[str] = []
    for participant in roster.participants.values():
        name = " ".join(participant.name.split())
        if name and name not in names:
            names.append(name)
        if len(names) >= MAX_PROMPT_NAMES:
            break
    if not names:
        return None
    return (", ".join(names) + ".")[:MAX_PROMPT_CHARS]


def _is_on(transcription: Any) -> bool:
    return isinstance(transcription, dict) and transcription.get("state") == "on"
