"""What a room's life looks like to an integrator's webhook (issue 7): the payloads of the
seven events, and who is announced as being in a room.

The room registry (signaling/registry.py) and the recording and transcription services call
these hooks; ``WebhookService`` (signaling/webhooks.py) stores and delivers the result.

- ``room_started`` / ``room_finished``: a meeting starts (the first visible participant is
  seated) and ends (the last one left, a host ended it, the room was deleted, or the server
  shut down). Hidden workers (recorder, transcriber, framer) never start one and are never
  announced.
- ``participant_joined`` / ``participant_left``: every visible participant announced as joined
  is announced as left exactly once, whatever took it out (it left, was removed, replaced by a
  newer session, or the meeting ended), and after its joined.
- ``recording_ready``: a recording's files are final; ``transcript_ready`` then
  ``action_items_ready``: a meeting's transcription stopped and its action items were made.

Links are API paths, absolute when ``public_url`` is configured.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signaling.recording_files import is_recording_file
from signaling.recording_store import RecordingRecord
from signaling.store import Store
from signaling.webhooks import WebhookService

if TYPE_CHECKING:
    from signaling.participant import Participant
    from signaling.rooms import LiveRoom

# Rooms whose sid and owner are remembered after they leave the store (deleted through the
# API while a meeting ran): their last events still go to the right key. Bounded: an old
# entry falls out, and a deleted room's late events go to the primary key.
REMEMBERED_ROOMS = 4096


class RoomEvents:
    def __init__(self, webhooks: WebhookService, store: Store, public_url: str) -> None:
        self._webhooks = webhooks
        self._store = store
        self._base = public_url.rstrip("/")
        self._rooms: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()
        # room name -> participant sid -> {sid, identity, name}: who was announced as in.
        self._present: dict[str, dict[str, dict[str, Any]]] = {}

    @property
    def webhooks(self) -> WebhookService:
        return self._webhooks

    # --- the room's life ------------------------------------------------------------------

    def arrived(self, room: LiveRoom, participant: Participant, *, started: bool) -> None:
        """A visible participant was seated; ``started``: its arrival started the meeting."""
        if started:
            self._remember(room.name, room.sid)
            self._emit("room_started", room.name, {"meeting_id": room.meeting_id})
        info = {"sid": participant.sid, "identity": participant.identity, "name": participant.name}
        self._present.setdefault(room.name, {})[participant.sid] = info
        fields = {"meeting_id": room.meeting_id, "participant": info}
        self._emit("participant_joined", room.name, fields)

    def left(self, room: LiveRoom, participant: Participant, reason: str) -> None:
        """``participant`` may be out of the room: announce it once if it was announced in."""
        if room.participants.get(participant.sid) is participant:
            return  # still seated (it only left the lobby, or was not removed)
        present = self._present.get(room.name, {})
        info = present.pop(participant.sid, None)
        if info is not None:
            fields = {"meeting_id": room.meeting_id, "participant": info, "reason": reason}
            self._emit("participant_left", room.name, fields)

    def finished(self, room: LiveRoom, meeting_id: str | None, reason: str) -> None:
        """The meeting ended: whoever is still announced leaves, then the room finishes."""
        for info in self._present.pop(room.name, {}).values():
            fields = {"meeting_id": meeting_id, "participant": info, "reason": reason}
            self._emit("participant_left", room.name, fields)
        if meeting_id is not None:
            fields = {"meeting_id": meeting_id, "reason": reason}
            self._emit("room_finished", room.name, fields)

    # --- what a meeting leaves behind --------------------------------------------------------

    def recording_ready(self, record: RecordingRecord) -> None:
        api = self._url(f"/api/v1/recordings/{record.id}")
        files = [
            {"name": name, "size": size, "url": f"{api}/files/{name}"}
            for name, size in _files(Path(record.folder))
        ]
        ended = record.ended_at if record.ended_at is not None else record.started_at
        recording = {
            "id": record.id,
            "state": record.state,
            "started_at": record.started_at,
            "ended_at": record.ended_at,
            "duration_s": round(max(0.0, ended - record.started_at), 3),
            "bytes": record.bytes,
            "error": record.error,
            "url": api,
            "page_url": self._url(f"/recordings/{record.id}"),
            "files": files,
        }
        self._emit("recording_ready", record.room, {"recording": recording})

    def transcript_ready(self, room: str, meeting_id: str, segments: int) -> None:
        transcript = {
            "segments": segments,
            "url": self._url(f"/api/v1/meetings/{meeting_id}/transcript"),
            "summary_url": self._url(f"/meetings/{meeting_id}"),
        }
        self._emit("transcript_ready", room, {"meeting_id": meeting_id, "transcript": transcript})

    def action_items_ready(self, room: str, meeting_id: str, count: int) -> None:
        items = {
            "count": count,
            "url": self._url(f"/api/v1/meetings/{meeting_id}/action-items"),
            "summary_url": self._url(f"/meetings/{meeting_id}"),
        }
        self._emit("action_items_ready", room, {"meeting_id": meeting_id, "action_items": items})

    def meeting_done(self, event: str, room: str, meeting_id: str, count: int) -> None:
        """The transcription service's hook: ``transcript_ready`` (count: segments) or
        ``action_items_ready`` (count: items)."""
        if event == "transcript_ready":
            self.transcript_ready(room, meeting_id, count)
        else:
            self.action_items_ready(room, meeting_id, count)

    # --- rooms' sids and owners --------------------------------------------------------------

    def _remember(self, name: str, sid: str | None) -> tuple[str | None, str | None]:
        record = self._store.get_room(name)
        known = self._rooms.get(name)
        entry: tuple[str | None, str | None]
        if record is not None:
            entry = (sid or record.sid, record.owner_key)
        elif known is not None:
            entry = (sid or known[0], known[1])
        else:
            entry = (sid, None)
        self._rooms[name] = entry
        self._rooms.move_to_end(name)
        while len(self._rooms) > REMEMBERED_ROOMS:
            self._rooms.popitem(last=False)
        return entry

    def _emit(self, event: str, room: str, fields: dict[str, Any]) -> None:
        known = self._rooms.get(room)
        sid, owner = known if known is not None else self._remember(room, None)
        self._webhooks.emit(event, room_name=room, room_sid=sid, owner_key=owner, fields=fields)

    def _url(self, path: str) -> str:
        return self._base + path


def _files(folder: Path) -> list[tuple[str, int]]:
    """The recording's files as the recordings API lists them (signaling/recording_files.py)."""
    out: list[tuple[str, int]] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return out
    for path in entries:
        try:
            if is_recording_file(path.name) and path.is_file():
                out.append((path.name, path.stat().st_size))
        except OSError:
            continue
    return out
