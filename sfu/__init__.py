"""The media plane: an RTP pass-through SFU on aiortc (see docs/media-plane.md)."""

from .errors import MediaError, SdpRejected, UnknownPeer
from .events import MediaEvents, PublishedTrack
from .room import Answer, MediaRoom
from .settings import IceServer, SfuSettings

__all__ = [
    "Answer",
    "IceServer",
    "MediaError",
    "MediaEvents",
    "MediaRoom",
    "PublishedTrack",
    "SdpRejected",
    "SfuSettings",
    "UnknownPeer",
]
