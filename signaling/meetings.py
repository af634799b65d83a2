"""Meetings (issue 5): one per stretch of a room with visible people in it, the thing a
transcript, its action items and the summary page belong to.

A meeting starts when the first visible participant is seated (joined, or admitted from the
lobby) and ends when the last one leaves, the meeting is ended, or the room is deleted
(signaling/registry.py calls ``attend`` and ``end``). Hidden workers never start or extend
one. Who attended is stored, so each participant can open the summary afterwards with the
token it joined with.

Privacy (the issue's point 5): a meeting's transcript and action items follow the same rules
as its recordings. They are deleted with the meeting (``delete`` also deletes the
recordings made during it) and by the same retention, ``recording_retention_days``.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import secrets
import time
import zoneinfo
from collections.abc import Callable

from minutes.action_items import extract_action_items
from minutes.transcript import Participant as RosterEntry
from signaling.action_item_store import ActionItemRecord, ActionItemStore
from signaling.config import Config
from signaling.meeting_store import MeetingRecord, MeetingStore
from signaling.participant import Participant
from signaling.recording import RecordingService
from signaling.recording_store import RecordingRecord
from signaling.rooms import LiveRoom
from signaling.store import Store
from signaling.transcript_store import TranscriptStore

log = logging.getLogger(__name__)


class MeetingService:
    def __init__(
        self,
        config: Config,
        store: Store,
        recordings: RecordingService,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._clock = clock
        self._recordings = recordings
        self.records = MeetingStore(store)
        self.transcripts = TranscriptStore(store)
        self.action_items = ActionItemStore(store)
        # A previous process that crashed left its meetings open: they ended with it.
        self.records.end_all_open(clock())

    # --- life of a meeting ---------------------------------------------------------------

    def attend(self, room: LiveRoom, participant: Participant) -> str:
        """``participant`` (visible) is in: start the room's meeting if none is under way,
        note the attendance; the meeting's id."""
        meeting_id = room.meeting_id
        if meeting_id is None:
            meeting_id = "MT_" + secrets.token_urlsafe(12)
            self.records.add(
                MeetingRecord(
                    id=meeting_id,
                    room=room.name,
                    started_at=self._clock(),
                    ended_at=None,
                    time_zone=room.settings.time_zone or self._config.default_time_zone,
                    actions_state="none",
                )
            )
            room.meeting_id = meeting_id
            log.info("room %s: meeting %s started", room.name, meeting_id)
        self.records.attend(meeting_id, participant.identity, participant.name, self._clock())
        return meeting_id

    def end(self, room: LiveRoom) -> str | None:
        """The last visible participant left: the meeting is over; its id, if one ran."""
        meeting_id, room.meeting_id = room.meeting_id, None
        if meeting_id is not None:
            self.records.end(meeting_id, self._clock())
            log.info("room %s: meeting %s ended", room.name, meeting_id)
        return meeting_id

    # --- action items ----------------------------------------------------------------------

    async def make_action_items(self, meeting_id: str) -> int:
        """Find the action items in the meeting's transcript and store them (keeping what a
        host confirmed or edited); how many were found. The database is read and written on
        the event loop (its connection belongs to it); the text work, ~0.2 ms an utterance,
        runs in a thread so a long meeting does not stall everyone else's signalling."""
        record = self.records.get(meeting_id)
        if record is None:
            return 0
        segments = self.transcripts.segments(meeting_id)
        attendees = self.records.participants(meeting_id)
        roster = [RosterEntry(identity, name) for identity, name in attendees]
        start = datetime.datetime.fromtimestamp(record.started_at, tz=_zone(record.time_zone))
        found = await asyncio.to_thread(extract_action_items, segments, roster, start)
        rows = [
            ActionItemRecord(
                id=0,
                meeting_id=meeting_id,
                task=item.task,
                owner=item.owner,
                owner_name=item.owner_name,
                due=None if item.due is None else item.due.isoformat(),
                due_text=item.due_text,
                segment_id=segments[item.segment_index].id,
                start=item.start,
                quote=item.quote,
                confirmed=False,
                edited=False,
            )
            for item in found
        ]
        if self.records.get(meeting_id) is None:
            return 0  # deleted meanwhile: nothing to attach the items to
        self.action_items.replace_automatic(meeting_id, rows)
        self.records.set_actions_state(meeting_id, "ready")
        return len(rows)

    # --- reading and deleting ------------------------------------------------------------

    def recordings_of(self, meeting: MeetingRecord) -> list[RecordingRecord]:
        """The recordings made during the meeting (started while it ran)."""
        end = meeting.ended_at if meeting.ended_at is not None else float("inf")
        return [
            record
            for record in self._recordings.records.for_room(meeting.room)
            if meeting.started_at - 1.0 <= record.started_at <= end
        ]

    def delete(self, meeting: MeetingRecord) -> None:
        """The meeting, its transcript, action items and recordings."""
        for recording in self.recordings_of(meeting):
            if recording.state in ("recording", "paused"):
                continue  # under way: its own stop and retention take care of it
            self._recordings.delete(recording)
        self.records.delete(meeting.id)

    def sweep(self) -> int:
        """Delete meetings older than ``recording_retention_days``; how many."""
        cutoff = self._clock() - self._config.recording_retention_days * 86400
        old = self.records.older_than(cutoff)
        for meeting in old:
            self.delete(meeting)
        return len(old)


def _zone(name: str) -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC
