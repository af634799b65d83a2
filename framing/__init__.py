"""Auto-framing: turns face detections into a smooth crop of a meeting-room camera."""

from framing.framer import Detection, Framer
from framing.framing_settings import FramingSettings
from framing.geometry import Box

__all__ = ["Box", "Detection", "Framer", "FramingSettings"]
