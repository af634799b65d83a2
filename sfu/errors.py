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


def describe(exc: BaseException) -> str:
    """A one-line, bounded description of an exception from aiortc, for a ``reason``."""
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
