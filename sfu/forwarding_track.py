"""The track attached to a subscriber's sender: it never yields a frame.

aiortc's sender loop (rtcrtpsender.py ``_run_rtp``) pulls frames from its track and creates
an encoder on the first one. This track's ``recv()`` waits until the track is stopped, so
the loop idles and no encoder is ever created; the forwarder writes RTP to the transport
itself (see sfu/aiortc_hooks.py SenderTap).
"""

from __future__ import annotations

import asyncio

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack


class ForwardingTrack(MediaStreamTrack):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._ended = asyncio.Event()

    async def recv(self) -> None:  # type: ignore[override]
        await self._ended.wait()
        raise MediaStreamError

    def stop(self) -> None:
        self._ended.set()
        super().stop()
