"""The recorder's session: joins a room as a hidden participant and records every track.

It speaks the public signalling protocol (docs/protocol.md) like any client: ``join``, then
offers receive-only slots (one recvonly transceiver per published track, max-bundle like the
browser client), re-offers whenever the server sends ``renegotiate``, and maps each receive
mid (``answer.mids``) to a track sid, each track sid to its participant (``joined.tracks``,
``track_published``), each participant to its identity and name. Encoded frames come from
aiortc's receivers undecoded (recorder/aiortc_frames.py) to one TrackWriter per track.

It follows the room's recording (``joined.recording``, then ``recording`` messages for its
own recording id): it writes while the state is "recording", drops frames while "paused",
and finishes on "stopped", on ``bye``, when the socket closes, or when ``stop`` is set
(SIGTERM, see __main__.py): every file closed, ``end`` in the manifest, ``leave`` sent.

The socket and its request/reply ids are recorder/signal_client.py's, the peer connection,
its slots and renegotiation recorder/receive_peer.py's; this module is the session that
ties them to the roster, the recording state and one TrackRecording per track.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from .manifest import ManifestError, RecordingManifest
from .receive_peer import ReceivePeer, Slot
from .roster import Roster
from .signal_client import JoinFailed, SignalClient, ws_url
from .track_recording import SenderReport, TrackRecording

__all__ = ["ExitCode", "JoinFailed", "RecorderOptions", "RecorderWorker", "run"]

logger = logging.getLogger(__name__)

# Each recorded codec and the container its file gets (the TrackWriter picks the muxer from
# the suffix): WebM for VP8 and Opus, Matroska for H.264 (WebM allows only VP8/VP9/AV1).
# Not Ogg for Opus: as written by TrackWriter (PyAV 18.1), a gap in an Ogg file reads back
# as a run of 120 ms steps, so a pause would shift everything after it; WebM keeps it.
SUFFIXES = {"vp8": ".webm", "h264": ".mkv", "opus": ".webm"}
# Characters kept from server-given ids in file names (never a path separator or "..").
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


class ExitCode(enum.IntEnum):
    DONE = 0
    FAILED = 1  # the output could not be written
    BAD_ARGUMENTS = 2
    JOIN_FAILED = 3
    NOT_STARTED = 4  # the recording never reached "recording" within start_timeout_s


@dataclass(frozen=True)
class RecorderOptions:
    url: str  # http(s)://host:port of the Sparkle server
    room: str
    recording_id: str
    out: Path
    token: str
    record_now: bool = False  # no recording state in ``joined``: record at once
    rtc_addresses: tuple[str, ...] = ()  # local addresses for ICE (default: aioice's)
    join_timeout_s: float = 10.0
    start_timeout_s: float = 60.0

    def __repr__(self) -> str:  # never print the token
        return f"RecorderOptions(url={self.url!r}, room={self.room!r}, id={self.recording_id!r})"


class RecorderWorker:
    def __init__(self, options: RecorderOptions, stop: asyncio.Event) -> None:
        self.options = options
        self.stop = stop
        self.roster = Roster()
        self.state = "waiting"  # or starting, recording, paused, stopped
        self.recordings: dict[str, TrackRecording] = {}  # track sid -> its file
        self.ended: set[str] = set()  # track sids whose file is closed
        self.manifest: RecordingManifest | None = None
        self.finish_reason = ""
        self._finished = asyncio.Event()
        self.signal = SignalClient(options.token)
        self.peer = ReceivePeer(
            options.rtc_addresses, self.signal.request, self._on_frame, self._on_report
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._names: set[str] = set()
        self._pause_listed = False  # a pause is in the manifest and not yet resumed

    # --- life cycle -----------------------------------------------------------------------

    async def run(self) -> int:
        options = self.options
        url = ws_url(options.url)
        timeout = aiohttp.ClientTimeout(total=None, connect=options.join_timeout_s)
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
        try:
            joined = await asyncio.wait_for(self.signal.join(http, url), seconds)
        except (aiohttp.ClientError, OSError) as exc:
            raise JoinFailed(f"cannot connect to {url}: {type(exc).__name__}") from None
        except TimeoutError:
            raise JoinFailed(f"no answer to join within {seconds} s") from None
        try:
            return await self._record(joined)
        finally:
            await self._shutdown()

    async def _record(self, joined: dict[str, Any]) -> int:
        options = self.options
        room = joined.get("room")
        name = room.get("name") if isinstance(room, dict) else None
        if name != options.room:
            raise JoinFailed(f"the token is for room {name!r}, not {options.room!r}")
        options.out.mkdir(parents=True, exist_ok=True)
        self.manifest = RecordingManifest(options.out / "manifest.jsonl")
        self.roster.load(joined.get("participants"), joined.get("tracks"))
        recording = joined.get("recording")
        if recording is None and options.record_now:
            self._set_state("recording")
        else:
            self._on_recording(recording)
        self.peer.renegotiate(self.roster.slots_needed())
        reader = self._spawn(self._read())
        stopping = asyncio.ensure_future(self.stop.wait())
        finished = asyncio.ensure_future(self._finished.wait())
        try:
            await asyncio.wait(
                {stopping, finished}, return_when=asyncio.FIRST_COMPLETED,
                timeout=None if self.state == "recording" else options.start_timeout_s,
            )  # fmt: skip
            if not self._finished.is_set() and not self.stop.is_set():
                if self.state in ("waiting", "starting"):
                    self.finish_reason = "not started"
                    return ExitCode.NOT_STARTED
                await asyncio.wait({stopping, finished}, return_when=asyncio.FIRST_COMPLETED)
            if self.stop.is_set() and not self.finish_reason:
                self.finish_reason = "stop requested"
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
        """Files first (what matters if we are killed next), then the manifest, then leave."""
        for sid in list(self.recordings):
            self._end_track(sid)
        if self.manifest is not None:
            try:
                self.manifest.end(at=time.time())
            except (OSError, ManifestError):
                logger.exception("writing the end of the manifest failed")
            self.manifest.close()
        await self.peer.cancel_tasks()
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
            recv = message.get("recv")
            if isinstance(recv, dict):
                self.peer.renegotiate(recv)
        elif kind == "recording":
            self._on_recording(message.get("recording"))
        elif kind == "track_published":
            self.roster.add_track(message.get("track"))
        elif kind == "track_unpublished":
            sid = message.get("track_sid")
            self.roster.remove_track(sid)
            if isinstance(sid, str):
                self._end_track(sid)
        elif kind in ("participant_joined", "participant_updated"):
            self.roster.add_participant(message.get("participant"))
        elif kind == "camera_accepted":
            self.roster.load(message.get("participants"), message.get("tracks"))
        elif kind == "bye":
            self._finish(f"bye ({message.get('reason')})")
        elif kind == "error":
            logger.warning("server error %s: %s", message.get("code"), message.get("message"))

    # --- recording state ------------------------------------------------------------------

    def _on_recording(self, recording: Any) -> None:
        if not isinstance(recording, dict) or recording.get("id") != self.options.recording_id:
            return  # no recording, or another one: not ours to follow
        state = recording.get("state")
        if state in ("starting", "recording", "paused", "stopped"):
            self._set_state(state)

    def _set_state(self, state: str) -> None:
        previous, self.state = self.state, state
        if state == previous:
            return
        now = time.time()
        if state == "paused" and previous == "recording":
            assert self.manifest is not None
            self.manifest.pause(at=now)
            self._pause_listed = True
            for recording in self.recordings.values():
                recording.hold_until_keyframe()
        elif state == "recording" and previous == "paused" and self._pause_listed:
            self._pause_listed = False
            assert self.manifest is not None
            self.manifest.resume(at=now)
            self.peer.request_video_keyframes()
        elif state == "stopped":
            self._finish("recording stopped")

    # --- frames ---------------------------------------------------------------------------

    def _on_frame(
        self, slot: Slot, codec: RTCRtpCodecParameters, data: bytes, timestamp: int
    ) -> None:
        if self.state != "recording":
            return
        sid = self.peer.track_sid(slot)
        if sid is None or sid in self.ended:
            return
        name = codec.name.lower()
        recording = self.recordings.get(sid)
        if recording is not None and recording.codec != name:
            self._end_track(sid, reopen=True)  # the publisher switched codecs: a new file
            recording = None
        if recording is None:
            recording = self._open(sid, name, codec.clockRate)
            if recording is None:
                return
        if not recording.write(data, timestamp, slot.report):
            self.peer.request_keyframe(slot)

    def _on_report(self, slot: Slot, report: SenderReport) -> None:
        recording = self.recordings.get(self.peer.track_sid(slot) or "")
        if recording is not None:
            recording.on_report(report)

    def _open(self, sid: str, codec: str, clock_rate: int) -> TrackRecording | None:
        track = self.roster.tracks.get(sid)
        suffix = SUFFIXES.get(codec)
        if track is None or suffix is None or self.manifest is None:
            return None  # unknown track (not yet announced, or gone), or a codec we can't mux
        stem = f"{_safe(track.source)}-{_safe(sid)}"
        name = stem + suffix
        counter = 1
        while name in self._names or (self.options.out / name).exists():
            counter += 1
            name = f"{stem}-{counter}{suffix}"
        self._names.add(name)
        recording = TrackRecording(
            track=track,
            participant=self.roster.participant(track.participant_sid),
            path=self.options.out / name,
            codec=codec,
            clock_rate=clock_rate,
            manifest=self.manifest,
        )
        self.recordings[sid] = recording
        return recording

    def _end_track(self, sid: str, reopen: bool = False) -> None:
        recording = self.recordings.pop(sid, None)
        if not reopen:
            self.ended.add(sid)
        if recording is None:
            return
        try:
            recording.close(self.peer.report_for(sid))
        except Exception:
            logger.exception("closing %s failed", recording.path)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _safe(text: str) -> str:
    return UNSAFE_NAME.sub("_", text)[:64] or "_"


async def run(options: RecorderOptions, stop: asyncio.Event | None = None) -> int:
    """Record until the recording stops, the server says ``bye``, the socket closes or
    ``stop`` is set; return an ExitCode. A join failure is printed (without the token)."""
    worker = RecorderWorker(options, stop if stop is not None else asyncio.Event())
    try:
        code = await worker.run()
    except JoinFailed as exc:
        print(f"sparkle-recorder: could not join room {options.room!r}: {exc}", file=sys.stderr)
        return ExitCode.JOIN_FAILED
    except (OSError, ManifestError) as exc:
        # The output directory or the manifest cannot be written (permissions, disk full).
        print(f"sparkle-recorder: cannot write to {options.out}: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    logger.info("recording %s finished: %s", options.recording_id, worker.finish_reason)
    return code
