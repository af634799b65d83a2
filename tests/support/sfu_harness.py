"""Runs a MediaRoom in its own process and counts every codec it creates.

Used by tests/integration/test_no_transcoding.py: the clients (which do encode and decode)
live in the test process, so anything counted here was created by the SFU itself.

Before ``sfu`` is imported, ``av.CodecContext.create`` (every FFmpeg codec PyAV opens) and
aiortc's ``get_decoder``/``get_encoder`` (also as imported into rtcrtpreceiver/rtcrtpsender)
are wrapped with counters. At report time the harness also lists live ``av.CodecContext``
objects and decoder threads.

Protocol: one JSON object per line. stdin: {"id", "op": "add_peer"|"offer"|"report"|"close",
...}; stdout: {"id", ...} replies and {"event": "renegotiation_needed", "peer", "audio",
"video"}.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
from collections import Counter
from typing import Any

import aiortc.codecs
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import av

CALLS: Counter[str] = Counter()


def _count(name: str, function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        CALLS[name] += 1
        return function(*args, **kwargs)

    return wrapper


_create = av.CodecContext.create
av.CodecContext.create = _count("CodecContext.create", _create)  # type: ignore[method-assign]
_get_decoder = _count("get_decoder", aiortc.codecs.get_decoder)
_get_encoder = _count("get_encoder", aiortc.codecs.get_encoder)
for module in (aiortc.codecs, aiortc.rtcrtpreceiver):
    module.get_decoder = _get_decoder  # type: ignore[attr-defined]
for module in (aiortc.codecs, aiortc.rtcrtpsender):
    module.get_encoder = _get_encoder  # type: ignore[attr-defined]

from sfu import MediaRoom  # noqa: E402  (after the counters are in place)
from sfu.events import PublishedTrack  # noqa: E402
from tests.support.aiortc_client import loopback_settings  # noqa: E402


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class Events:
    def track_published(self, track: PublishedTrack) -> None:
        emit({"event": "track_published", "sid": track.sid, "source": track.source})

    def track_unpublished(self, track: PublishedTrack) -> None:
        emit({"event": "track_unpublished", "sid": track.sid})

    def track_refused(self, peer_id: str, mid: str, source: str, reason: str) -> None:
        emit({"event": "track_refused", "peer": peer_id, "reason": reason})

    def renegotiation_needed(self, peer_id: str, audio_slots: int, video_slots: int) -> None:
        emit(
            {
                "event": "renegotiation_needed",
                "peer": peer_id,
                "audio": audio_slots,
                "video": video_slots,
            }
        )

    def active_speaker_changed(self, peer_id: str | None) -> None:
        emit({"event": "active_speaker", "peer": peer_id})

    def peer_state_changed(self, peer_id: str, state: str) -> None:
        emit({"event": "peer_state", "peer": peer_id, "state": state})


def report(room: MediaRoom) -> dict[str, Any]:
    gc.collect()
    codecs = [
        f"{o.name}/{'encoder' if o.is_encoder else 'decoder'}"
        for o in gc.get_objects()
        if isinstance(o, av.CodecContext)
    ]
    return {
        "calls": dict(CALLS),
        "live_codecs": codecs,
        "threads": sorted(t.name for t in threading.enumerate()),
        "counters": vars(room.counters),
    }


async def main() -> None:
    room = MediaRoom(loopback_settings(), Events())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emit({"ready": True})
    while line := await reader.readline():
        request = json.loads(line)
        reply: dict[str, Any] = {"id": request["id"]}
        op = request["op"]
        try:
            if op == "add_peer":
                await room.add_peer(
                    request["peer"],
                    allowed_sources=frozenset(request["allowed"]),
                    subscribe=request["subscribe"],
                )
            elif op == "offer":
                answer = await room.handle_offer(
                    request["peer"], request["sdp"], request["sources"]
                )
                reply.update(sdp=answer.sdp, mids=answer.mids)
            elif op == "report":
                reply.update(report(room))
            elif op == "close":
                await room.close()
                emit(reply)
                return
        except Exception as exc:
            reply["error"] = f"{type(exc).__name__}: {exc}"
        emit(reply)


if __name__ == "__main__":
    asyncio.run(main())
