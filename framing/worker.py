"""The framer's room session: joins a room as a hidden participant and frames its cameras.

It speaks the public signalling protocol (docs/protocol.md) like any client, through the
workers' room client (roomclient/room_session.py): ``join`` as "Framer" with a token that
carries the ``framer`` grant, then the server says what to frame:

    {"type": "framing_targets", "targets": [{"track_sid", "participant_sid"}],
     "output": {"width", "height", "max_fps"}, "speaker_focus": bool}

right after ``joined`` and on every change. The session keeps one output per target
(framing/video_peer.py: a sendonly transceiver declared ``frames: track_sid``), receives the
targets' cameras on video recvonly slots (the SFU sends only those) and routes each decoded
frame, by the track sid its slot carries now, to that target's FramedOutput
(framing/framed_track.py). A malformed ``framing_targets`` is logged and ignored: the
previous targets stay.

Speaker focus is not applied yet: the detector finds faces but cannot tell which of several
faces in one camera speaks (BlazeFace has no lip-motion signal), so no detection is marked
``speaker``. The session keeps the latest ``active_speaker`` for when it can.

The session ends on ``bye``, when the socket closes, when ``stop`` is set (SIGTERM), or when
the server has given it no target for ``idle_timeout_s`` (framing turned off everywhere).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from av import VideoFrame

from roomclient.job_pool import ExitCode
from roomclient.room_session import RoomSession
from roomclient.signal_client import JoinFailed

from .framed_track import FramedOutput, Framing
from .video_peer import MAX_OUTPUTS, VideoPeer, VideoSlot

__all__ = [
    "ExitCode",
    "FramerSession",
    "FramingTargets",
    "JoinFailed",
    "NewCameraFraming",
    "SessionOptions",
    "parse_framing_targets",
]

logger = logging.getLogger(__name__)

NAME = "Framer"
# Output limits accepted from the server: even sizes (4:2:0 chroma), up to 1080p at 60 fps.
MIN_OUTPUT_PX, MAX_OUTPUT_W, MAX_OUTPUT_H = 64, 1920, 1080
MAX_OUTPUT_FPS = 60.0
MAX_SID_CHARS = 64


# Makes the framing of one camera: (source width, height, output width, height).
NewCameraFraming = Callable[[int, int, int, int], Framing]


@dataclass(frozen=True)
class Target:
    track_sid: str
    participant_sid: str


@dataclass(frozen=True)
class FramingTargets:
    targets: tuple[Target, ...]
    width: int
    height: int
    max_fps: float
    speaker_focus: bool


def parse_framing_targets(message: dict[str, Any]) -> FramingTargets:
    """A ``framing_targets`` message, checked field by field; ValueError says what is wrong."""
    targets, output = message.get("targets"), message.get("output")
    if not isinstance(targets, list):
        raise ValueError("targets must be a list")
    if len(targets) > MAX_OUTPUTS:
        raise ValueError(f"targets holds {len(targets)} entries; at most {MAX_OUTPUTS}")
    parsed: list[Target] = []
    for index, entry in enumerate(targets):
        if not isinstance(entry, dict):
            raise ValueError(f"targets[{index}] must be an object")
        track, owner = entry.get("track_sid"), entry.get("participant_sid")
        for field, value in (("track_sid", track), ("participant_sid", owner)):
            if not isinstance(value, str) or not 0 < len(value) <= MAX_SID_CHARS:
                raise ValueError(f"targets[{index}].{field} must be a string of 1-64 characters")
        assert isinstance(track, str) and isinstance(owner, str)
        if any(t.track_sid == track for t in parsed):
            raise ValueError(f"targets[{index}].track_sid {track!r} is listed twice")
        parsed.append(Target(track, owner))
    if not isinstance(output, dict):
        raise ValueError("output must be an object")
    width = _even_size(output.get("width"), "width", MAX_OUTPUT_W)
    height = _even_size(output.get("height"), "height", MAX_OUTPUT_H)
    fps: Any = output.get("max_fps")
    # bool is an int to Python, and NaN fails every comparison: both are refused here.
    if type(fps) not in (int, float) or not 1 <= fps <= MAX_OUTPUT_FPS:
        raise ValueError(f"output.max_fps must be a number in 1..{MAX_OUTPUT_FPS:.0f}")
    focus = message.get("speaker_focus", False)
    if not isinstance(focus, bool):
        raise ValueError("speaker_focus must be true or false")
    return FramingTargets(tuple(parsed), width, height, float(fps), focus)


def _even_size(value: Any, field: str, top: int) -> int:
    if type(value) is not int or not MIN_OUTPUT_PX <= value <= top or value % 2:
        raise ValueError(f"output.{field} must be an even integer in {MIN_OUTPUT_PX}..{top}")
    return value


@dataclass(frozen=True)
class SessionOptions:
    url: str  # http(s)://host:port of the Sparkle server
    room: str
    token: str
    rtc_addresses: tuple[str, ...] = ()  # local addresses for ICE (default: aioice's)
    join_timeout_s: float = 10.0
    # With no target for this long the job is over (framing turned off for everyone).
    idle_timeout_s: float = 15.0
    # A stalled camera's last framed frame is sent again this often (framing/framed_track.py).
    repeat_interval_s: float = 1.0

    def __repr__(self) -> str:  # never print the token
        return f"SessionOptions(url={self.url!r}, room={self.room!r})"


class FramerSession(RoomSession):
    def __init__(
        self,
        options: SessionOptions,
        new_framing: NewCameraFraming,
        executor: Executor | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        super().__init__(options, NAME, stop if stop is not None else asyncio.Event())
        self.options = options
        self.peer: VideoPeer = VideoPeer(
            options.rtc_addresses,
            self.signal.request,
            self._on_frame,
            self._on_slot_end,
            options.repeat_interval_s,
        )
        self.outputs: dict[str, FramedOutput] = {}  # target track sid -> its output
        self.targets: FramingTargets | None = None
        self.active_speaker: str | None = None
        self._new_framing = new_framing
        self._executor = executor
        self._idle_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"FramerSession(room={self.options.room!r})"

    # --- life cycle -----------------------------------------------------------------------

    async def _in_room(self, joined: dict[str, Any]) -> int:
        self.roster.load(joined.get("participants"), joined.get("tracks"))
        if not self.outputs:
            self._arm_idle_timer()
        async with self._reading() as wait:
            await wait(None)
            if not self._finished.is_set():
                self.finish_reason = "stop requested"
                return ExitCode.STOPPED
            return ExitCode.DONE

    def _arm_idle_timer(self) -> None:
        if self._idle_timer is None:
            loop = asyncio.get_running_loop()
            self._idle_timer = loop.call_later(
                self.options.idle_timeout_s, self._finish, "no target to frame"
            )

    def _disarm_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    async def _shutdown(self) -> None:
        """Outputs first (tracks stopped, detections finished), then leave and the media."""
        self._disarm_idle_timer()
        await self.peer.cancel_tasks()
        await asyncio.gather(*(o.close() for o in self.outputs.values()), return_exceptions=True)
        await self._leave()

    # --- signalling -----------------------------------------------------------------------

    def _on_message(self, kind: Any, message: dict[str, Any]) -> None:
        if kind == "framing_targets":
            try:
                targets = parse_framing_targets(message)
            except ValueError as exc:
                logger.warning("framing_targets ignored: %s", exc)
                return
            self.apply_targets(targets)
        elif kind == "active_speaker":
            speaker = message.get("participant_sid")
            self.active_speaker = speaker if isinstance(speaker, str) else None

    def _track_ended(self, sid: str) -> None:
        output = self.outputs.get(sid)
        if output is not None:
            output.end()  # the server sends new targets; meanwhile nothing to repeat

    def apply_targets(self, targets: FramingTargets) -> None:
        """Frame exactly ``targets`` (public: a test can play the server's part)."""
        if self._finished.is_set() or self.stop.is_set():
            return
        previous, self.targets = self.targets, targets
        output_changed = previous is None or (
            previous.width,
            previous.height,
            previous.max_fps,
        ) != (targets.width, targets.height, targets.max_fps)
        wanted = [t.track_sid for t in targets.targets]
        tracks = self.peer.set_outputs(wanted)
        for sid in list(self.outputs):
            output = self.outputs[sid]
            if sid not in tracks or tracks[sid] is not output.track:
                del self.outputs[sid]
                # Not close(): the track may already carry the next target (video_peer.py
                # reuses transceivers); only this output's work ends.
                output.retire()
        for sid, track in tracks.items():
            current = self.outputs.get(sid)
            if current is None:
                self.outputs[sid] = FramedOutput(
                    track, self._framing_for(targets), targets.max_fps, self._executor
                )
            elif output_changed:
                current.reconfigure(self._framing_for(targets), targets.max_fps)
        if wanted:
            self._disarm_idle_timer()
        else:
            self._arm_idle_timer()

    def _framing_for(self, targets: FramingTargets) -> Callable[[int, int], Framing]:
        new, width, height = self._new_framing, targets.width, targets.height
        return lambda source_w, source_h: new(source_w, source_h, width, height)

    # --- video ----------------------------------------------------------------------------

    def _on_frame(self, slot: VideoSlot, frame: VideoFrame) -> None:
        sid = self.peer.track_sid(slot)
        output = self.outputs.get(sid) if sid is not None else None
        if output is not None and not self.stop.is_set():
            output.feed(frame)

    def _on_slot_end(self, slot: VideoSlot) -> None:
        sid = self.peer.track_sid(slot)
        output = self.outputs.get(sid) if sid is not None else None
        if output is not None:
            output.end()
