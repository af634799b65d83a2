"""Errors the media plane raises to its caller (the caller maps them to its own catalogue)."""

from __future__ import annotations


class MediaError(Exception):
    """Base class: ``reason`` is a precise, client-safe message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SdpRejected(MediaError):
    """An offer failed the SDP guard or aiortc could not apply it."""


class UnknownPeer(MediaError):
    """No peer with that id (it left or never existed)."""
