"""The transcriber's room session: joins a room as a hidden participant and captions it.

It speaks the public signalling protocol (docs/protocol.md) like any client, through the
workers' room client (roomclient/room_session.py): ``join`` as "Transcriber" with a token that
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
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import numpy as np
import numpy.typing as npt

from roomclient.job_pool import ExitCode
from roomclient.room_session import RoomSession
from roomclient.roster import Roster
from roomclient.signal_client import JoinFailed

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


class TranscriberSession(RoomSession):
    def __init__(
        self, options: SessionOptions, speech: Speech, stop: asyncio.Event | None = None
    ) -> None:
        super().__init__(options, NAME, stop if stop is not None else asyncio.Event())
        self.options = options
        self.speech = speech
        self.peer: AudioPeer = AudioPeer(options.rtc_addresses, self.signal.request, self._on_slot)
        self.captioners: list[SlotCaptioner] = []
        self.captions_sent = 0
        # Where each caption goes: over the socket. Public so that a caller can observe (or
        # redirect) what the session produces; the pool leaves it as it is.
        self.on_caption: CaptionSink = self.send_caption
        self._ended: set[str] = set()  # track sids unpublished

    def __repr__(self) -> str:
        return f"TranscriberSession(room={self.options.room!r})"

    # --- life cycle -----------------------------------------------------------------------

    async def _before_join(self) -> None:
        # The VAD model loads once per process (~0.1 s): not on the event loop.
        await asyncio.to_thread(silero_session)

    async def _in_room(self, joined: dict[str, Any]) -> int:
        self.roster.load(joined.get("participants"), joined.get("tracks"))
        # A server that knows transcription says whether it is on; one that does not (no
        # field) handed out the token deliberately.
        if "transcription" in joined and not _is_on(joined["transcription"]):
            self.finish_reason = "transcription is off"
            return ExitCode.DONE
        self.peer.renegotiate(self.roster.slots_needed())
        async with self._reading() as wait:
            await wait(None)
            if not self._finished.is_set():
                self.finish_reason = "stop requested"
                return ExitCode.STOPPED
            return ExitCode.DONE

    async def _shutdown(self) -> None:
        """Last captions first (flushed, recognised, sent), then leave, then the media."""
        await self.peer.cancel_tasks()
        await asyncio.gather(
            *(c.finish(self.options.drain_timeout_s) for c in self.captioners),
            return_exceptions=True,
        )
        await self._leave()

    # --- signalling -----------------------------------------------------------------------

    def _track_ended(self, sid: str) -> None:
        self._ended.add(sid)
        for captioner in self.captioners:
            captioner.end_track(sid)

    def _on_message(self, kind: Any, message: dict[str, Any]) -> None:
        if kind == "transcription" and not _is_on(message):
            self._finish("transcription turned off")

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
        speaker = self.roster.participant(self.roster.owners.get(item.track_sid, ""))
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
