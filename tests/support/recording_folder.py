"""A recording folder made the way the recorder makes one, without a server: for export tests.

Each participant's camera (solid colour, optionally with a moving bar so the encoder makes
real delta frames) is encoded to VP8 and its microphone (a sine tone) to Opus with PyAV's
libvpx/libopus, and the encoded frames go through the recorder's own ``TrackWriter`` with RTP
timestamps, while a ``RecordingManifest`` gets the ``track``/``pause``/``resume``/
``track_end``/``end`` lines the worker writes (recorder/track_recording.py).
"""

from __future__ import annotations

import fractions
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from recorder.manifest import RecordingManifest
from recorder.track_writer import TrackWriter

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
OPUS_FRAME = 960  # 20 ms
ORIGIN = 1_700_000_000.0  # unix time of the recording's start


@dataclass(frozen=True)
class Person:
    identity: str
    colour: tuple[int, int, int]
    tone: float  # Hz
    start: float = 0.0  # seconds after ORIGIN when both tracks begin
    stop: float | None = None  # seconds after ORIGIN when both tracks end (None: the end)
    camera_off: tuple[float, float] | None = None  # a gap in the camera (seconds)
    amplitude: float = 0.3
    camera: bool = True
    share: tuple[int, int, int] | None = None  # a screen share of this colour (1280x720)


def make_recording(
    folder: Path,
    people: list[Person],
    *,
    duration: float = 3.0,
    fps: int = 15,
    size: tuple[int, int] = (320, 240),
    moving: bool = False,
    pause: tuple[float, float] | None = None,
) -> Path:
    """Write ``folder`` (manifest.jsonl + one file per track); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    with RecordingManifest(folder / "manifest.jsonl") as manifest:
        for number, person in enumerate(people):
            stop = duration if person.stop is None else person.stop

            def recorded(t: float) -> bool:
                return pause is None or not pause[0] <= t < pause[1]

            if person.camera:
                _camera(folder, manifest, number, person, stop, fps, size, moving, recorded)
            if person.share is not None:
                sharing = Person(person.identity, person.share, person.tone, person.start, stop)
                _camera(
                    folder,
                    manifest,
                    number,
                    sharing,
                    stop,
                    fps,
                    (1280, 720),
                    False,
                    recorded,
                    source="screen_share",
                )
            _microphone(folder, manifest, number, person, stop, recorded)
            if pause is not None and number == 0:
                manifest.pause(at=ORIGIN + pause[0])
                manifest.resume(at=ORIGIN + pause[1])
        manifest.end(at=ORIGIN + duration)
    return folder


def _list(
    manifest: RecordingManifest,
    file: str,
    person: Person,
    number: int,
    source: str,
    kind: str,
    codec: str,
    clock: int,
    first_rtp: int,
    first_wall: float,
) -> None:
    manifest.track(
        file=file,
        track_sid=f"TR_{number}_{source}",
        participant_sid=f"PA_{number}",
        identity=person.identity,
        name=person.identity.title(),
        source=source,
        kind=kind,
        codec=codec,
        clock_rate=clock,
        first_rtp=first_rtp,
        first_wall=first_wall,
    )


def _camera(
    folder: Path,
    manifest: RecordingManifest,
    number: int,
    person: Person,
    stop: float,
    fps: int,
    size: tuple[int, int],
    moving: bool,
    recorded: Callable[[float], bool],
    source: str = "camera",
) -> None:
    width, height = size
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = fractions.Fraction(1, fps)
    encoder.bit_rate = 500_000
    encoder.gop_size = fps * 2
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    file = f"{source}-{number}.webm"
    writer = TrackWriter(folder / file, "vp8", VIDEO_CLOCK)
    base_rtp = 1000 + number * 7919
    count = round((stop - person.start) * fps)
    base = np.empty((height, width, 3), dtype=np.uint8)
    base[:] = person.colour
    first_rtp: int | None = None
    for index in range(count):
        t = person.start + index / fps
        off = person.camera_off is not None and person.camera_off[0] <= t < person.camera_off[1]
        if off or not recorded(t):
            continue
        image = base
        if moving:
            image = base.copy()
            x = (index * 8) % max(1, width - 16)
            image[:, x : x + 16] = 255 - np.array(person.colour, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        # After a gap the next frame must be a keyframe (the recorder waits for one).
        if first_rtp is not None and off is False and index > 0 and _after_gap(person, t, fps):
            frame.pict_type = av.video.frame.PictureType.I
        for packet in encoder.encode(frame):
            assert packet.pts is not None
            at = person.start + packet.pts / fps
            rtp = (base_rtp + round(at * VIDEO_CLOCK)) & 0xFFFFFFFF
            writer.write(bytes(packet), rtp)
            if first_rtp is None and writer.started:
                first_rtp = writer.first_rtp
                _list(
                    manifest,
                    file,
                    person,
                    number,
                    source,
                    "video",
                    "vp8",
                    VIDEO_CLOCK,
                    first_rtp or 0,
                    ORIGIN + at,
                )
    writer.close()
    manifest.track_end(file=file, at=ORIGIN + stop)


def _after_gap(person: Person, t: float, fps: int) -> bool:
    return person.camera_off is not None and person.camera_off[1] <= t < person.camera_off[1] + (
        1.5 / fps
    )


def _microphone(
    folder: Path,
    manifest: RecordingManifest,
    number: int,
    person: Person,
    stop: float,
    recorded: Callable[[float], bool],
) -> None:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = AUDIO_CLOCK
    encoder.layout = "stereo"
    encoder.format = "s16"
    encoder.bit_rate = 64_000
    encoder.time_base = fractions.Fraction(1, AUDIO_CLOCK)
    file = f"microphone-{number}.webm"
    writer = TrackWriter(folder / file, "opus", AUDIO_CLOCK)
    base_rtp = 5000 + number * 104729
    count = round((stop - person.start) * AUDIO_CLOCK / OPUS_FRAME)
    listed = False
    for index in range(count):
        samples = np.arange(OPUS_FRAME) + index * OPUS_FRAME
        wave = person.amplitude * np.sin(2 * math.pi * person.tone * samples / AUDIO_CLOCK)
        pcm = (wave * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(pcm, 2).reshape(1, -1), "s16", "stereo")
        frame.sample_rate = AUDIO_CLOCK
        frame.pts = index * OPUS_FRAME
        for packet in encoder.encode(frame):
            assert packet.pts is not None
            at = person.start + packet.pts / AUDIO_CLOCK
            if not recorded(at):
                continue
            rtp = (base_rtp + round(at * AUDIO_CLOCK)) & 0xFFFFFFFF
            writer.write(bytes(packet), rtp)
            if not listed and writer.started:
                listed = True
                _list(
                    manifest,
                    file,
                    person,
                    number,
                    "microphone",
                    "audio",
                    "opus",
                    AUDIO_CLOCK,
                    writer.first_rtp or 0,
                    ORIGIN + at,
                )
    writer.close()
    manifest.track_end(file=file, at=ORIGIN + stop)
