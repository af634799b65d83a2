"""A meeting participant for integration tests: a WebSocket session and a real aiortc peer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiortc.mediastreams import MediaStreamTrack

from signaling.tokens import Grants
from tests.conftest import RunningServer
from tests.support.aiortc_client import MediaClient
from tests.support.media import close_to
from tests.support.ws_client import WsClient, mint


@dataclass
class Participant:
    ws: WsClient
    media: MediaClient
    joined: dict[str, Any]

    @property
    def sid(self) -> str:
        return str(self.joined["participant"]["sid"])

    def frames_from(self, track_sid: str) -> int:
        received = self.media.by_sid(track_sid)
        return 0 if received is None else received.frames

    def sees(self, track_sid: str, color: tuple[int, int, int], frames: int = 3) -> bool:
        received = self.media.by_sid(track_sid)
        return (
            received is not None
            and received.frames >= frames
            and bool(received.colors)
            and close_to(received.colors[-1], color)
        )


@asynccontextmanager
async def participant(
    server: RunningServer,
    room: str,
    identity: str,
    tracks: Sequence[tuple[str, MediaStreamTrack]] = (),
    grants: Grants | None = None,
    **join: Any,
) -> AsyncIterator[Participant]:
    """A real aiortc participant: joins over the WebSocket (``join``: extra fields of the
    join message, e.g. ``password``), offers ``tracks`` and receive slots, renegotiates
    when asked."""
    token = mint(server.tokens, room, identity, name=identity.title(), grants=grants)
    async with WsClient.connect(server.base_url) as ws:
        joined = await ws.join(token, **join)
        # Like the browser client (web/js/meeting.js): the first offer has a receive slot
        # for every track ``joined`` lists, and without m-sections there is no offer.
        others = joined["tracks"]
        media = MediaClient(
            identity,
            tracks=tracks,
            audio_slots=sum(1 for t in others if t["kind"] == "audio"),
            video_slots=sum(1 for t in others if t["kind"] == "video"),
            wait_when_empty=True,
        )
        try:
            ws.route_renegotiate(media.renegotiate)
            await media.connect(ws.offer_exchange())
            yield Participant(ws, media, joined)
        finally:
            await media.close()


def track_sid(published: dict[str, Any] | list[dict[str, Any]], who: str, source: str) -> str:
    tracks = published if isinstance(published, list) else [published]
    return next(t["sid"] for t in tracks if t["participant_sid"] == who and t["source"] == source)
