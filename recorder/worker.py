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

The join, the socket, the roster and the common messages are roomclient's (room_session.py,
signal_client.py, roster.py), the peer connection and its taps recorder/receive_peer.py's;
this module ties them to the recording state and one TrackRecording per track.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from roomclient.room_session import RoomSession
from roomclient.signal_client import JoinFailed

from .manifest import ManifestError, RecordingManifest
from .receive_peer import ReceivePeer, Slot
from .track_recording import SenderReport, TrackRecording

__all__ = ["ExitCode", "JoinFailed", "RecorderOptions", "RecorderWorker", "run"]

logger = logging.getLogger(__name__)

NAME = "Recorder"  # the display name in ``join`` (hidden, never shown)

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


class RecorderWorker(RoomSession):
    def __init__(self, options: RecorderOptions, stop: asyncio.Event) -> None:
        super().__init__(options, NAME, stop)
        self.options = options
        self.state = "waiting"  # or starting, recording, paused, stopped
        self.recordings: dict[str, TrackRecording] = {}  # track sid -> its file
        self.ended: set[str] = set()  # track sids whose file is closed
        self.manifest: RecordingManifest | None = None
        self.peer: ReceivePeer = ReceivePeer(
            options.rtc_addresses, self.signal.request, self._on_frame, self._on_report
        )
        self._names: set[str] = set()
        self._pause_listed = False  # a pause is in the manifest and not yet resumed

    # --- life cycle -----------------------------------------------------------------------

    async def _in_room(self, joined: dict[str, Any]) -> int:
        options = self.options
        options.out.mkdir(parents=True, exist_ok=True)
        self.manifest = RecordingManifest(options.out / "manifest.jsonl")
        self.roster.load(joined.get("participants"), joined.get("tracks"))
        recording = joined.get("recording")
        if recording is None and options.record_now:
            self._set_state("recording")
        else:
            self._on_recording(recording)
        self.peer.renegotiate(self.roster.slots_needed())
        async with self._reading() as wait:
            await wait(None if self.state == "recording" else options.start_timeout_s)
            if not self._finished.is_set() and not self.stop.is_set():
                if self.state in ("waiting", "starting"):
                    self.finish_reason = "not started"
                    return ExitCode.NOT_STARTED
                await wait(None)
            if self.stop.is_set() and not self.finish_reason:
                self.finish_reason = "stop requested"
            return ExitCode.DONE

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
        await self._leave()

    # --- signalling -----------------------------------------------------------------------

    def _track_ended(self, sid: str) -> None:
        self._end_track(sid)

    def _on_message(self, kind: Any, message: dict[str, Any]) -> None:
        if kind == "recording":
            self._on_recording(message.get("recording"))

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
