"""The meetings API (issue 5): meetings, their transcripts (JSON, WebVTT, SRT, plain text),
their action items, and full-text search over transcripts.

Access follows the recordings' rules (signaling/recordings_api.py) and adds one: the API key
(HTTP Basic) reads and changes everything; a room token (``Bearer``) of one of the room's
hosts reads and changes that room's meetings; a room token of anyone else reads the meetings
of that room it attended (so every participant can open the summary afterwards), and
nothing else. Only hosts (and the API key) edit action items and delete meetings.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from minutes import transcript_formats
from signaling.action_item_store import ActionItemRecord
from signaling.api import PREFIX
from signaling.appkeys import ROOMS
from signaling.authorization import bearer_token, require_api_key
from signaling.errors import ErrorCode, SparkleError
from signaling.meeting_store import MeetingRecord
from signaling.registry import RoomRegistry
from signaling.request_body import read_object
from signaling.room_name import is_valid_room_name

MEETINGS = f"{PREFIX}/meetings"
MAX_TASK_CHARS = 500
MAX_SEARCH_CHARS = 200
SEARCH_LIMIT = 50
FORMATS = {
    "json": ("application/json", transcript_formats.to_json),  # served in the API's shape
    "vtt": ("text/vtt", transcript_formats.to_webvtt),
    "srt": ("application/x-subrip", transcript_formats.to_srt),
    "txt": ("text/plain", transcript_formats.to_text),
}


def setup(app: web.Application) -> None:
    app.router.add_get(MEETINGS, list_meetings)
    app.router.add_get(f"{MEETINGS}/{{id}}", get_meeting)
    app.router.add_delete(f"{MEETINGS}/{{id}}", delete_meeting)
    app.router.add_get(f"{MEETINGS}/{{id}}/transcript", get_transcript)
    app.router.add_get(f"{MEETINGS}/{{id}}/action-items", list_action_items)
    app.router.add_post(f"{MEETINGS}/{{id}}/action-items", add_action_item)
    app.router.add_patch(f"{MEETINGS}/{{id}}/action-items/{{item}}", update_action_item)
    app.router.add_delete(f"{MEETINGS}/{{id}}/action-items/{{item}}", delete_action_item)
    app.router.add_get(f"{PREFIX}/transcripts/search", search)


@dataclass(frozen=True)
class Caller:
    """Who is asking: the API key holder, or a room token's holder."""

    api_key: bool
    room: str | None = None
    identity: str | None = None
    host: bool = False

    def reads(self, registry: RoomRegistry, meeting: MeetingRecord) -> bool:
        if self.api_key:
            return True
        if self.room != meeting.room or self.identity is None:
            return False
        return self.host or registry.meetings.records.attended(meeting.id, self.identity)

    def edits(self, meeting: MeetingRecord) -> bool:
        return self.api_key or (self.room == meeting.room and self.host)


def _caller(request: web.Request) -> Caller:
    value = bearer_token(request)
    if value is None:
        require_api_key(request)
        return Caller(api_key=True)
    registry = request.app[ROOMS]
    token = registry.tokens.verify(value)
    return Caller(
        api_key=False, room=token.room, identity=token.identity, host=registry.is_host(token)
    )


def _meeting(
    request: web.Request, *, edit: bool = False
) -> tuple[RoomRegistry, MeetingRecord, Caller]:
    caller = _caller(request)
    registry = request.app[ROOMS]
    meeting = registry.meetings.records.get(request.match_info["id"])
    if meeting is None:
        raise SparkleError(ErrorCode.NOT_FOUND, "no such meeting")
    if not caller.reads(registry, meeting):
        raise SparkleError(ErrorCode.FORBIDDEN, "only the meeting's hosts and attendees see it")
    if edit and not caller.edits(meeting):
        raise SparkleError(ErrorCode.FORBIDDEN, "only the room's hosts may change this")
    return registry, meeting, caller


def _meeting_json(registry: RoomRegistry, meeting: MeetingRecord, caller: Caller) -> dict[str, Any]:
    service = registry.meetings
    live = registry.transcription.current(meeting.room)
    return {
        **meeting.to_json(),
        # Whether this caller may edit the action items and delete the meeting: the server's
        # view (a host promoted during the meeting has no room_admin in its token).
        "can_edit": caller.edits(meeting),
        "transcribing": live is not None and live.meeting_id == meeting.id,
        "segments": service.transcripts.count(meeting.id),
        "participants": [
            {"identity": identity, "name": name}
            for identity, name in service.records.participants(meeting.id)
        ],
        "recordings": [record.id for record in service.recordings_of(meeting)],
    }


async def list_meetings(request: web.Request) -> web.Response:
    caller = _caller(request)
    registry = request.app[ROOMS]
    room = request.query.get("room")
    if room is not None and not is_valid_room_name(room):
        raise SparkleError(ErrorCode.BAD_MESSAGE, "query parameter 'room' is not a room name")
    records = registry.meetings.records
    if caller.api_key:
        meetings = records.all() if room is None else records.for_room(room)
    elif caller.host:
        meetings = records.for_room(caller.room or "")
    else:
        meetings = records.attended_by(caller.identity or "", caller.room)
    if room is not None:
        meetings = [m for m in meetings if m.room == room]
    listed = [_meeting_json(registry, m, caller) for m in meetings]
    return web.json_response({"meetings": listed})


async def get_meeting(request: web.Request) -> web.Response:
    registry, meeting, caller = _meeting(request)
    return web.json_response(_meeting_json(registry, meeting, caller))


async def delete_meeting(request: web.Request) -> web.Response:
    registry, meeting, _ = _meeting(request, edit=True)
    if meeting.ended_at is None:
        raise SparkleError(ErrorCode.CONFLICT, "the meeting is still under way")
    registry.meetings.delete(meeting)
    return web.Response(status=204)


async def get_transcript(request: web.Request) -> web.Response:
    registry, meeting, _ = _meeting(request)
    kind = request.query.get("format", "json")
    if kind not in FORMATS:
        raise SparkleError(
            ErrorCode.BAD_MESSAGE, f"format must be one of {', '.join(sorted(FORMATS))}"
        )
    content_type, render = FORMATS[kind]
    segments = registry.meetings.transcripts.segments(meeting.id)
    if kind == "json":
        # The API's own shape: epoch times (as captions carry them) and each utterance's
        # offset from the meeting's start, for a player.
        return web.json_response(
            {
                "meeting_id": meeting.id,
                "meeting_start": meeting.started_at,
                "segments": [
                    {
                        "id": s.id,
                        "identity": s.identity,
                        "name": s.name,
                        "start": s.start,
                        "end": s.end,
                        "offset_s": round(max(0.0, s.start - meeting.started_at), 3),
                        "text": s.text,
                    }
                    for s in segments
                ],
            }
        )
    body = render(segments, meeting.started_at)
    headers = {}
    if kind != "json":
        filename = f"{meeting.room}-{_day(meeting)}.{kind}"
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return web.Response(text=body, content_type=content_type, charset="utf-8", headers=headers)


def _day(meeting: MeetingRecord) -> str:
    return datetime.datetime.fromtimestamp(meeting.started_at, tz=datetime.UTC).strftime("%Y%m%d")


async def list_action_items(request: web.Request) -> web.Response:
    registry, meeting, _ = _meeting(request)
    items = registry.meetings.action_items.for_meeting(meeting.id)
    return web.json_response(
        {
            "meeting_id": meeting.id,
            "state": "pending" if meeting.actions_state != "ready" else "ready",
            "items": [item.to_json() for item in items],
        }
    )


_ITEM_FIELDS: dict[str, type | tuple[type, ...]] = {
    "task": str,
    "owner": (str, type(None)),
    "due": (str, type(None)),
    "confirmed": bool,
}


async def add_action_item(request: web.Request) -> web.Response:
    registry, meeting, _ = _meeting(request, edit=True)
    body = await read_object(request, _ITEM_FIELDS)
    if "task" not in body:
        raise SparkleError(ErrorCode.BAD_MESSAGE, "missing field 'task'")
    blank = ActionItemRecord(
        id=0,
        meeting_id=meeting.id,
        task="",
        owner=None,
        owner_name=None,
        due=None,
        due_text=None,
        segment_id=None,
        start=None,
        quote="",
        confirmed=False,
        edited=True,
    )
    item = _changed(registry, meeting, blank, body)
    item_id = registry.meetings.action_items.add(item)
    return web.json_response(replace(item, id=item_id).to_json(), status=201)


async def update_action_item(request: web.Request) -> web.Response:
    registry, meeting, _ = _meeting(request, edit=True)
    item = _item(registry, meeting, request.match_info["item"])
    body = await read_object(request, _ITEM_FIELDS)
    if not body:
        raise SparkleError(
            ErrorCode.BAD_MESSAGE, "nothing to change: send task, owner, due or confirmed"
        )
    changed = _changed(registry, meeting, item, body)
    registry.meetings.action_items.update(changed)
    return web.json_response(replace(changed, edited=True).to_json())


async def delete_action_item(request: web.Request) -> web.Response:
    registry, meeting, _ = _meeting(request, edit=True)
    item = _item(registry, meeting, request.match_info["item"])
    registry.meetings.action_items.delete(meeting.id, item.id)
    return web.Response(status=204)


def _item(registry: RoomRegistry, meeting: MeetingRecord, raw: str) -> ActionItemRecord:
    item = None
    if raw.isdigit() and len(raw) < 16:
        item = registry.meetings.action_items.get(meeting.id, int(raw))
    if item is None:
        raise SparkleError(ErrorCode.NOT_FOUND, "no such action item in this meeting")
    return item


def _changed(
    registry: RoomRegistry, meeting: MeetingRecord, item: ActionItemRecord, body: dict[str, Any]
) -> ActionItemRecord:
    """``item`` with a host's changes, each checked: a non-empty task, an owner who attended
    the meeting (or null), a real calendar date (or null)."""
    values: dict[str, Any] = {}
    if "task" in body:
        task = " ".join(body["task"].split())
        if not task or len(task) > MAX_TASK_CHARS:
            raise SparkleError(
                ErrorCode.BAD_MESSAGE, f"'task' must be 1 to {MAX_TASK_CHARS} characters"
            )
        values["task"] = task
    if "owner" in body:
        owner = body["owner"]
        names = dict(registry.meetings.records.participants(meeting.id))
        if owner is not None and owner not in names:
            raise SparkleError(
                ErrorCode.BAD_MESSAGE, "'owner' must be the identity of someone who attended"
            )
        values["owner"], values["owner_name"] = owner, None if owner is None else names[owner]
    if "due" in body:
        due = body["due"]
        if due is not None:
            try:
                due = datetime.date.fromisoformat(due).isoformat()
            except ValueError:
                raise SparkleError(
                    ErrorCode.BAD_MESSAGE, "'due' must be a date as YYYY-MM-DD, or null"
                ) from None
        values["due"] = due
    if "confirmed" in body:
        values["confirmed"] = body["confirmed"]
    return replace(item, **values)


async def search(request: web.Request) -> web.Response:
    """``q``: the words to find (all of them; the last may be the start of a word);
    ``identity`` (API key only): only meetings that identity attended; ``room``: one room."""
    caller = _caller(request)
    registry = request.app[ROOMS]
    query = request.query.get("q", "")
    if not query.strip() or len(query) > MAX_SEARCH_CHARS:
        raise SparkleError(
            ErrorCode.BAD_MESSAGE, f"query parameter 'q' must be 1 to {MAX_SEARCH_CHARS} characters"
        )
    room = request.query.get("room")
    identity = request.query.get("identity")
    records = registry.meetings.records
    meeting_ids: list[str] | None
    if caller.api_key:
        if identity is not None:
            meeting_ids = [m.id for m in records.attended_by(identity, room)]
        elif room is not None:
            meeting_ids = [m.id for m in records.for_room(room)]
        else:
            meeting_ids = None
    else:
        if identity is not None and identity != caller.identity:
            raise SparkleError(ErrorCode.FORBIDDEN, "a room token searches its own meetings only")
        if caller.host:
            meeting_ids = [m.id for m in records.for_room(caller.room or "")]
        else:
            meeting_ids = [m.id for m in records.attended_by(caller.identity or "", caller.room)]
    hits = registry.meetings.transcripts.search(query, meeting_ids, limit=SEARCH_LIMIT)
    results = []
    for hit in hits:
        meeting = records.get(hit.meeting_id)
        recording = None
        if meeting is not None:
            for record in registry.meetings.recordings_of(meeting):
                end = record.ended_at if record.ended_at is not None else float("inf")
                if record.started_at <= hit.segment.start <= end:
                    offset = round(hit.segment.start - record.started_at, 2)
                    recording = {"id": record.id, "offset_s": offset}
        results.append(
            {
                "meeting_id": hit.meeting_id,
                "room": hit.room,
                "segment_id": hit.segment.id,
                "identity": hit.segment.identity,
                "name": hit.segment.name,
                "start": hit.segment.start,
                "end": hit.segment.end,
                "text": hit.segment.text,
                "snippet": hit.snippet,
                "recording": recording,
                "url": f"/meetings/{hit.meeting_id}#segment-{hit.segment.id}",
            }
        )
    return web.json_response({"query": query, "results": results})
