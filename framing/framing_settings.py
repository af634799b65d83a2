"""Every limit of the framing engine, named, with its default and the reason for it.

Sizes relative to a face are fractions of that face's detected width or height, so the
same settings work for a person near the camera and one at the back of the room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class FramingSettings:
    # How often the worker runs the detector. 5 Hz: measured MediaPipe at ~15 ms per
    # detection, so 5 Hz costs ~7% of a core, and people move little in 200 ms
    # (/work/shared/notes/ai-workers.md, "Auto-framing"). The engine itself is driven
    # by observe(); this value documents the cadence the other limits were tuned for.
    detection_interval_s: float = 0.2
    # Detections below this score are ignored: a false face would pull the frame off.
    min_score: float = 0.5

    # Face detector tiling (framing/face_detector.py). BlazeFace full-range sees a 192x192
    # input, so a 60 px face in a whole 1280x720 frame shrinks to 9 px and is missed; the
    # frame is cut into overlapping square tiles, each resized to 192. The tile side is a
    # share of the frame height so the same setting works for any camera resolution.
    # Measured on benchmarks/framing_scene.py (966 faces of 52-70 px at 1280x720, one core,
    # /tmp/issue6-contract.md and benchmarks/framing_detectors.py): side 720 px as 2x1
    # tiles: recall 0.964 at 12 ms; 480 px as 3x2: 0.997 at 37 ms; 400 px as 4x2: 0.997
    # at 48 ms. One row of three 480 px tiles (the top two thirds of the frame, where
    # seated and standing faces are; the bottom third is table and laps) found as many:
    # 0.997 at 20 ms, and in benchmarks/framing_eval.py kept every face inside 99.3% of
    # frames at 11.9% of a core, where 3x2 needed 21.5% (over the 20% budget) for
    # 98.9%. A camera mounted high, looking down on faces in the lower third, needs rows=2.
    # Tiles are spread evenly; with one row it is the top row.
    detector_tile_share: float = 2 / 3
    detector_tile_cols: int = 3
    detector_tile_rows: int = 1
    # Boxes of one face found by overlapping anchors or tiles are merged when their
    # intersection over union reaches this (MediaPipe's face detection graph uses 0.3).
    detector_nms_iou: float = 0.3

    # Head-and-shoulders framing around each face.
    # Room above the top of a face, in face heights: a framed shot keeps space over the
    # head rather than cutting the hair off.
    headroom: float = 0.6
    # Room below the bottom of a face, in face heights: shows the shoulders and chest so
    # the picture reads as a person, not a floating head.
    below_face: float = 1.6
    # Room left and right of a face, in face widths: shoulders and arms of a seated person
    # span about 2.5 face widths.
    side_margin: float = 0.8
    # Extra room around each detected face that the displayed crop must always include,
    # in face widths (sideways) and heights (up and down). It covers how far a person
    # moves between two detections: 0.5 face widths is ~35 px at 5 Hz, a slow walk across
    # a 720p room view; people move little vertically. Kept below the framing margins
    # above, so detector noise does not trip the "someone is being cut off" widening.
    contain_pad_side: float = 0.5
    contain_pad_vertical: float = 0.3

    # Dead zone: the framing does not move while the framing the faces need stays centred
    # within this fraction of the current framing's width (sideways) and height (up and
    # down), and every face stays inside it. Detector noise of a few pixels and people
    # leaning must not move the picture (the jitter complaint in jitsi-meet#11322).
    dead_zone_margin: float = 0.1
    # Zoom changes only when the needed crop width differs from the current one by more
    # than this fraction; smaller differences are noise or a person leaning.
    zoom_threshold: float = 0.15
    # A zoom or re-centring (other than widening at once to keep someone in the picture)
    # needs this many consecutive detections agreeing: one miss or one false detection
    # must not move the picture.
    zoom_confirm_count: int = 3
    # After a face disappears, do not zoom in to the others for this long: the person
    # has often only turned away or been missed by the detector for a moment.
    zoom_out_hold_s: float = 2.0
    # With nobody detected for this long, go back to the wide shot of the whole room.
    no_face_timeout_s: float = 3.0

    # Smoothing: a critically damped spring on centre and width with this time constant.
    # ~0.5 s moves calmly but follows a person who changes seats within ~2 s.
    smoothing_time_constant_s: float = 0.5
    # Top speed of the crop's centre and width, in source widths per second, so a large
    # reframe glides instead of whipping across the room. Widening to keep a newly seen
    # person in the picture is not limited by this (never cut someone off).
    max_speed: float = 0.6

    # Zoom limits, as source-fit width divided by crop width. 1.0 is the whole room.
    # Beyond 3x a 720p camera is upscaled from < 430 px wide and looks soft.
    min_zoom: float = 1.0
    max_zoom: float = 3.0
    # Output aspect ratio (width / height) of the published video; 16:9 matches the
    # usual 1280x720 output.
    output_aspect: float = 16 / 9

    # Frame the active speaker instead of the group when the detection marks one.
    speaker_focus: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                continue
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"FramingSettings.{f.name} must be a finite number")
            if value < 0:
                raise ValueError(f"FramingSettings.{f.name} must be >= 0, got {value}")
        for name in ("detection_interval_s", "smoothing_time_constant_s", "max_speed"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FramingSettings.{name} must be > 0")
        if not 0 < self.detector_tile_share <= 1:
            raise ValueError("FramingSettings.detector_tile_share must be in (0, 1]")
        for name in ("detector_tile_cols", "detector_tile_rows"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"FramingSettings.{name} must be an integer >= 1")
        if not 0 < self.detector_nms_iou < 1:
            raise ValueError("FramingSettings.detector_nms_iou must be in (0, 1)")
        if self.output_aspect <= 0:
            raise ValueError("FramingSettings.output_aspect must be > 0")
        if self.zoom_confirm_count < 1:
            raise ValueError("FramingSettings.zoom_confirm_count must be >= 1")
        if not 1.0 <= self.min_zoom <= self.max_zoom:
            raise ValueError("FramingSettings needs 1.0 <= min_zoom <= max_zoom")
        if self.dead_zone_margin >= 0.5:
            raise ValueError("FramingSettings.dead_zone_margin must be < 0.5")
        if self.zoom_threshold >= 1:
            raise ValueError("FramingSettings.zoom_threshold must be < 1")
