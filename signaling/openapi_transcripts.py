"""OpenAPI paths of issue 5: meetings, transcripts, action items, search
(signaling/meetings_api.py). The transcriber's jobs are in signaling/openapi_jobs.py."""

from __future__ import annotations

from typing import Any

from signaling.openapi_parts import bad_message, body, error, json_content, unauthorized

_READ = (
    "The API key, a room token of one of the room's hosts, or the room token of someone who "
    "attended the meeting (Bearer)."
)
_EDIT = "The API key, or a room token of one of the room's hosts (Bearer)."
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_ITEM = {"name": "item", "in": "path", "required": True, "schema": {"type": "integer"}}
_SECURITY: list[dict[str, list[str]]] = [{"apiKey": []}, {"roomToken": []}]

_MEETING = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "room": {"type": "string"},
        "started_at": {"type": "number"},
        "ended_at": {"type": ["number", "null"]},
        "time_zone": {"type": "string"},
        "action_items": {"enum": ["none", "pending", "ready"]},
        "transcribing": {"type": "boolean"},
        "can_edit": {"type": "boolean", "description": "The caller may edit and delete."},
        "segments": {"type": "integer"},
        "participants": {"type": "array", "items": {"type": "object"}},
        "recordings": {"type": "array", "items": {"type": "string"}},
    },
}
_ACTION_ITEM = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "task": {"type": "string"},
        "owner": {"type": ["string", "null"], "description": "A participant identity."},
        "owner_name": {"type": ["string", "null"]},
        "due": {"type": ["string", "null"], "format": "date"},
        "due_text": {"type": ["string", "null"]},
        "segment_id": {"type": ["integer", "null"]},
        "start": {"type": ["number", "null"]},
        "quote": {"type": "string"},
        "confirmed": {"type": "boolean"},
        "edited": {"type": "boolean"},
    },
}
_ITEM_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "task": {"type": "string", "minLength": 1, "maxLength": 500},
        "owner": {"type": ["string", "null"]},
        "due": {"type": ["string", "null"], "format": "date"},
        "confirmed": {"type": "boolean"},
    },
}


def _denied() -> dict[str, Any]:
    return {
        **unauthorized(),
        "403": error("Not a host of the room, nor an attendee (`forbidden`)."),
        "404": error("No such meeting (`not_found`)."),
    }


def meetings_list() -> dict[str, Any]:
    """``GET /api/v1/meetings`` (the path's POST is the home page's New meeting)."""
    return {
        "summary": "Meetings: all (API key), a room's (host), or those you attended",
        "security": _SECURITY,
        "parameters": [{"name": "room", "in": "query", "schema": {"type": "string"}}],
        "responses": {
            "200": json_content(
                {
                    "type": "object",
                    "properties": {"meetings": {"type": "array", "items": _MEETING}},
                },
                "Newest first",
            ),
            **bad_message(),
            **unauthorized(),
        },
    }


def transcript_paths() -> dict[str, Any]:
    return {
        "/api/v1/meetings/{id}": {
            "parameters": [_ID],
            "get": {
                "summary": "One meeting",
                "description": _READ,
                "security": _SECURITY,
                "responses": {"200": json_content(_MEETING, "The meeting"), **_denied()},
            },
            "delete": {
                "summary": "Delete a meeting with its transcript, action items and recordings",
                "description": _EDIT,
                "security": _SECURITY,
                "responses": {
                    "204": {"description": "Deleted"},
                    **_denied(),
                    "409": error("The meeting is still under way (`conflict`)."),
                },
            },
        },
        "/api/v1/meetings/{id}/transcript": {
            "parameters": [_ID],
            "get": {
                "summary": "The meeting's transcript: JSON, WebVTT, SRT or plain text",
                "description": _READ,
                "security": _SECURITY,
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "schema": {"enum": ["json", "vtt", "srt", "txt"], "default": "json"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "Per speaker, in time order",
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "text/vtt": {"schema": {"type": "string"}},
                            "application/x-subrip": {"schema": {"type": "string"}},
                            "text/plain": {"schema": {"type": "string"}},
                        },
                    },
                    **bad_message(),
                    **_denied(),
                },
            },
        },
        "/api/v1/meetings/{id}/action-items": {
            "parameters": [_ID],
            "get": {
                "summary": "The meeting's action items (state pending until they are made)",
                "description": _READ,
                "security": _SECURITY,
                "responses": {
                    "200": json_content(
                        {
                            "type": "object",
                            "properties": {
                                "meeting_id": {"type": "string"},
                                "state": {"enum": ["pending", "ready"]},
                                "items": {"type": "array", "items": _ACTION_ITEM},
                            },
                        },
                        "The items",
                    ),
                    **_denied(),
                },
            },
            "post": {
                "summary": "A host adds an action item",
                "description": _EDIT,
                "security": _SECURITY,
                "requestBody": body(_ITEM_BODY, required=True),
                "responses": {
                    "201": json_content(_ACTION_ITEM, "The new item"),
                    **bad_message(),
                    **_denied(),
                },
            },
        },
        "/api/v1/meetings/{id}/action-items/{item}": {
            "parameters": [_ID, _ITEM],
            "patch": {
                "summary": "A host edits or confirms an action item",
                "description": _EDIT + " The item is never replaced when items are made again.",
                "security": _SECURITY,
                "requestBody": body(_ITEM_BODY, required=True),
                "responses": {
                    "200": json_content(_ACTION_ITEM, "The item"),
                    **bad_message(),
                    **_denied(),
                },
            },
            "delete": {
                "summary": "A host deletes an action item",
                "description": _EDIT,
                "security": _SECURITY,
                "responses": {"204": {"description": "Deleted"}, **_denied()},
            },
        },
        "/api/v1/transcripts/search": {
            "get": {
                "summary": "Full-text search over the transcripts the caller may read",
                "description": "Every word must match; the last may be the start of a word. "
                "With the API key, `identity` limits the search to meetings that identity "
                "attended (an integrator searching on behalf of its user).",
                "security": _SECURITY,
                "parameters": [
                    {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "identity", "in": "query", "schema": {"type": "string"}},
                    {"name": "room", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": json_content(
                        {
                            "type": "object",
                            "properties": {
                                "query": {"type": "string"},
                                "results": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                        "Best first, at most 50",
                    ),
                    **bad_message(),
                    **unauthorized(),
                    "403": error("A room token searching for another identity (`forbidden`)."),
                },
            }
        },
    }
