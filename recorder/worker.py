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
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import re
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from .aiortc_frames import FrameTap, bind_ice
from .manifest import ManifestError, RecordingManifest
from .roster import Roster
from .track_recording import SenderReport, TrackRecording

logger = logging.getLogger(__name__)

WS_PATH = "/api/v1/ws"
NAME = "Recorder"
PROTOCOL_VERSION = 1
# Each recorded codec and the container its file gets (the TrackWriter picks the muxer from
# the suffix): WebM for VP8 and Opus, Matroska for H.264 (WebM allows only VP8/VP9/AV1).
# Not Ogg for Opus: as written by TrackWriter (PyAV 18.1), a gap in an Ogg file reads back
# as a run of 120 ms steps, so a pause would shift everything after it; WebM keeps it.
SUFFIXES = {"vp8": ".webm", "h264": ".mkv", "opus": ".webm"}
# The server pings every 15 s (docs/protocol.md "Limits"); ours notices a vanished server.
HEARTBEAT_S = 15.0
# How long an offer may wait for its answer, and ``leave`` for the server's ``bye``.
ANSWER_TIMEOUT_S = 10.0
LEAVE_TIMEOUT_S = 2.0
# At most one keyframe request per video slot in this interval (the SFU rate-limits too).
KEYFRAME_REQUEST_INTERVAL_S = 1.0
# Characters kept from server-given ids in file names (never a path separator or "..").
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


class ExitCode(enum.IntEnum):
    DONE = 0
    FAILED = 1  # the output could not be written
    BAD_ARGUMENTS = 2
    JOIN_FAILED = 3
    NOT_STARTED = 4  # the recording never reached "recording" within start_timeout_s


class JoinFailed(Exception):
    """The worker could not join the room (the message never contains the token)."""


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


@dataclass
class Slot:
    """One receive transceiver."""

    transceiver: RTCRtpTransceiver
    tap: FrameTap
    report: SenderReport | None = None  # the last RTCP sender report on this slot
    last_keyframe_request: float = 0.0


class RecorderWorker:
    def __init__(self, options: RecorderOptions, stop: asyncio.Event) -> None:
        self.options = options
        self.stop = stop
        self.roster = Roster()
        self.state = "waiting"  # or starting, recording, paused, stopped
        self.recordings: dict[str, TrackRecording] = {}  # track sid -> its file
        self.ended: set[str] = set()  # track sids whose file is closed
        self.mids: dict[str, str] = {}  # receive mid -> track sid (last answer)
        self.slots: list[Slot] = []
        self.manifest: RecordingManifest | None = None
        self.finish_reason = ""
        self._finished = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self._wanted = {"audio": 0, "video": 0}
        self._offer_lock = asyncio.Lock()
        self._offer_pending = False
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._names: set[str] = set()
        self._pause_listed = False  # a pause is in the manifest and not yet resumed

    # --- life cycle -----------------------------------------------------------------------

    async def run(self) -> int:
        options = self.options
        url = options.url.rstrip("/").replace("http", "ws", 1) + WS_PATH
        timeout = aiohttp.ClientTimeout(total=None, connect=options.join_timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                try:
                    return await self._session(http, url)
                finally:
                    ws = self._ws
                    if ws is not None and not ws.closed:  # e.g. the join was refused
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(ws.close(), LEAVE_TIMEOUT_S)
        finally:
            await self._pc.close()  # idempotent

    async def _session(self, http: aiohttp.ClientSession, url: str) -> int:
        seconds = self.options.join_timeout_s
        try:
            joined = await asyncio.wait_for(self._join(http, url), seconds)
        except (aiohttp.ClientError, OSError) as exc:
            raise JoinFailed(f"cannot connect to {url}: {type(exc).__name__}") from None
        except TimeoutError:
            raise JoinFailed(f"no answer to join within {seconds} s") from None
        try:
            return await self._record(joined)
        finally:
            await self._shutdown()

    async def _join(self, http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
        self._ws = ws = await http.ws_connect(url, heartbeat=HEARTBEAT_S, autoclose=True)
        # Hidden: the name is never shown, but a room with ``require_name`` wants one.
        join = {"type": "join", "v": PROTOCOL_VERSION, "token": self.options.token, "name": NAME}
        await ws.send_str(json.dumps(join))
        while True:
            message = await ws.receive()
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise JoinFailed(f"the server closed the socket ({ws.close_code})")
            reply = _parse(message.data)
            kind = reply.get("type")
            if kind == "joined":
                return reply
            if kind == "error":
                code, text = reply.get("code"), reply.get("message")
                raise JoinFailed(f"join refused: {code}: {text}")
            if kind == "lobby_waiting":  # hidden participants skip the lobby: not our token
                raise JoinFailed("join refused: the token is not a recorder's (lobby)")

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
        self._renegotiate(self.roster.slots_needed())
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
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await ws.send_str(json.dumps({"type": "leave"}))
                # The server answers ``bye`` and closes; don't wait for it long.
                async with asyncio.timeout(LEAVE_TIMEOUT_S):
                    async for _ in ws:
                        pass
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), LEAVE_TIMEOUT_S)
        await self._pc.close()

    # --- signalling -----------------------------------------------------------------------

    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    self.handle_message(_parse(message.data))
                except Exception:
                    logger.exception("handling a server message failed")
                if self._finished.is_set():
                    return
        finally:
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(ConnectionError("the socket closed"))
            self._finish(self.finish_reason or "socket closed")

    def handle_message(self, message: dict[str, Any]) -> None:
        """Apply one server message (public: a test can play the server's part)."""
        kind = message.get("type")
        reply_to = message.get("id")
        if isinstance(reply_to, str) and reply_to in self._replies:
            future = self._replies.pop(reply_to)
            if not future.done():
                future.set_result(message)
            return
        if kind == "renegotiate":
            recv = message.get("recv")
            if isinstance(recv, dict):
                self._renegotiate(recv)
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

    async def _request(self, type_: str, **fields: Any) -> dict[str, Any]:
        ws = self._ws
        assert ws is not None
        self._next_id += 1
        request_id = f"rec-{self._next_id}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = future
        try:
            await ws.send_str(json.dumps({"type": type_, "id": request_id, **fields}))
            return await asyncio.wait_for(future, ANSWER_TIMEOUT_S)
        finally:
            self._replies.pop(request_id, None)

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
            for slot in self.slots:
                if slot.transceiver.kind == "video":
                    self._request_keyframe(slot)
        elif state == "stopped":
            self._finish("recording stopped")

    # --- negotiation ----------------------------------------------------------------------

    def _renegotiate(self, recv: dict[str, Any]) -> None:
        for kind in ("audio", "video"):
            count = recv.get(kind)
            if isinstance(count, int) and 0 <= count <= 64:
                self._wanted[kind] = max(self._wanted[kind], count)
        self._spawn(self._negotiate())

    async def _negotiate(self) -> None:
        if self._offer_lock.locked():
            self._offer_pending = True  # one offer in flight; go again after its answer
            return
        async with self._offer_lock:
            while True:
                self._offer_pending = False
                try:
                    await self._offer_once()
                except Exception:
                    logger.exception("negotiation failed")
                if not self._offer_pending:
                    return

    async def _offer_once(self) -> None:
        pc = self._pc
        for kind in ("audio", "video"):
            have = sum(1 for slot in self.slots if slot.transceiver.kind == kind)
            for _ in range(self._wanted[kind] - have):
                self._add_slot(pc.addTransceiver(kind, direction="recvonly"))
        if not self.slots:
            return  # nothing to receive yet: the server asks (renegotiate) when there is
        bind_ice(pc, self.options.rtc_addresses)
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self._request("offer", sdp=pc.localDescription.sdp, tracks=[])
        if reply.get("type") != "answer":
            raise RuntimeError(f"offer refused: {reply.get('code')}: {reply.get('message')}")
        mids = reply.get("mids")
        if isinstance(mids, dict):
            # Before applying the answer: the SFU may start a new slot's media (led by the
            # keyframe it waited for) as soon as the answer is out.
            self.mids = {str(m): str(s) for m, s in mids.items()}
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    def _add_slot(self, transceiver: RTCRtpTransceiver) -> None:
        slot: Slot

        def on_frame(codec: RTCRtpCodecParameters, data: bytes, timestamp: int) -> None:
            self._on_frame(slot, codec, data, timestamp)

        def on_report(ssrc: int, ntp: int, rtp: int) -> None:
            slot.report = SenderReport(ntp, rtp)
            sid = self.mids.get(transceiver.mid or "")
            recording = self.recordings.get(sid or "")
            if recording is not None:
                recording.on_report(slot.report)

        slot = Slot(transceiver, FrameTap(transceiver.receiver, on_frame, on_report))
        self.slots.append(slot)

    # --- frames ---------------------------------------------------------------------------

    def _on_frame(
        self, slot: Slot, codec: RTCRtpCodecParameters, data: bytes, timestamp: int
    ) -> None:
        if self.state != "recording":
            return
        sid = self.mids.get(slot.transceiver.mid or "")
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
            self._request_keyframe(slot)

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
        report = next(
            (s.report for s in self.slots if self.mids.get(s.transceiver.mid or "") == sid), None
        )
        try:
            recording.close(report)
        except Exception:
            logger.exception("closing %s failed", recording.path)

    def _request_keyframe(self, slot: Slot) -> None:
        now = time.monotonic()
        if now - slot.last_keyframe_request >= KEYFRAME_REQUEST_INTERVAL_S:
            slot.last_keyframe_request = now
            self._spawn(slot.tap.request_keyframe())

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _parse(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


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
