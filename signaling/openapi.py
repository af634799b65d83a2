"""The OpenAPI 3.1 description of the HTTP API, served at ``GET /api/v1/openapi.json``.

Written by hand next to the handlers it describes (signaling/api.py); a test checks that
every route the app serves is described here and that nothing described is missing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from signaling.errors import ErrorCode

VERSION = "0.1.0"

_NAME_PATTERN = "^[A-Za-z0-9_-]{1,64}$"
_SOURCES = ("camera", "microphone", "screen_share", "screen_share_audio")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _body(schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _room_param() -> dict[str, Any]:
    return {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": _NAME_PATTERN},
    }


def _auth() -> list[dict[str, list[str]]]:
    return [{"apiKey": []}]


def _unauth() -> dict[str, Any]:
    return {"401": _error("Missing or wrong API key (`unauthorized`).")}


def _bad() -> dict[str, Any]:
    return {"400": _error("Malformed body: unknown field, wrong type (`bad_message`).")}


def _limited() -> dict[str, Any]:
    return {"429": _error("Per-IP quota exceeded (`rate_limited`).")}


def _schemas() -> dict[str, Any]:
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "enum": [c.value for c in ErrorCode]},
                        "message": {"type": "string"},
                    },
                }
            },
        },
        "Room": {
            "type": "object",
            "required": [
                "name",
                "sid",
                "max_participants",
                "metadata",
                "created_by",
                "lobby",
                "participants",
            ],
            "properties": {
                "name": {"type": "string", "pattern": _NAME_PATTERN},
                "sid": {"type": "string"},
                "created_at": {
                    "type": ["number", "null"],
                    "description": "Unix time; null if auto-created.",
                },
                "max_participants": {"type": "integer"},
                "metadata": {"type": "object"},
                "created_by": {"type": "string", "enum": ["api", "meeting", "auto"]},
                "lobby": {
                    "type": "boolean",
                    "description": "Waiting room: non-hosts wait until a host admits them.",
                },
                "password": {
                    "type": "boolean",
                    "description": "Whether a meeting password is set (never the password).",
                },
                "participants": {"type": "integer", "description": "Live, hidden ones excluded."},
            },
        },
        "AuditEntry": {
            "type": "object",
            "required": ["id", "at", "actor", "action", "target_identity", "details"],
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "number", "description": "Unix time."},
                "actor": {
                    "type": "object",
                    "properties": {"identity": {"type": "string"}, "name": {"type": "string"}},
                },
                "action": {
                    "type": "string",
                    "enum": [
                        "promote",
                        "demote",
                        "remove",
                        "unban",
                        "lock",
                        "unlock",
                        "end_meeting",
                        "admit",
                        "deny",
                        "lobby_on",
                        "lobby_off",
                        "update_room",
                        "mute",
                        "mute_all",
                        "lower_hand",
                        "ask_unmute",
                        "allow",
                        "revoke",
                        "stop_share",
                    ],
                },
                "target_identity": {"type": ["string", "null"]},
                "details": {
                    "type": "object",
                    "description": (
                        "remove: {ban, participant_sid}; unban: {was_banned}; admit: "
                        "{participant_sid, seated}; deny: {participant_sid}; update_room: the "
                        "changed settings (password: set or removed, never the value); mute: "
                        "{source}; mute_all: {source, count}; allow/revoke: {permission}; "
                        "stop_share: {was_sharing}."
                    ),
                },
            },
        },
        "Grants": {
            "type": "object",
            "additionalProperties": False,
            "description": "Anything unset is denied.",
            "properties": {
                "room_join": {"type": "boolean"},
                "room_admin": {"type": "boolean"},
                "can_subscribe": {"type": "boolean"},
                "can_publish_data": {"type": "boolean"},
                "can_publish_sources": {
                    "type": "array",
                    "uniqueItems": True,
                    "items": {"type": "string", "enum": list(_SOURCES)},
                },
                "hidden": {"type": "boolean"},
            },
        },
    }


def _paths() -> dict[str, Any]:
    return {
        "/healthz": {
            "get": {
                "summary": "Liveness check",
                "responses": {"200": _json({"type": "object"}, '`{"status": "ok"}`')},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (text exposition format)",
                "responses": {
                    "200": {
                        "description": "Metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
            }
        },
        "/api/v1/ws": {
            "get": {
                "summary": "The signalling WebSocket (docs/protocol.md)",
                "description": "The token is the first message (join), never in the URL.",
                "responses": {"101": {"description": "Switching to the WebSocket protocol"}},
            }
        },
        "/api/v1/rooms": {
            "get": {
                "summary": "List rooms (stored and live)",
                "security": _auth(),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"rooms": {"type": "array", "items": _ref("Room")}},
                        },
                        "The rooms",
                    ),
                    **_unauth(),
                },
            },
            "post": {
                "summary": "Create a room (a readable random name if none is given)",
                "security": _auth(),
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "pattern": _NAME_PATTERN},
                            "max_participants": {"type": "integer", "minimum": 1},
                            "metadata": {
                                "type": "object",
                                "description": "At most 4096 bytes as JSON.",
                            },
                            "lobby": {
                                "type": "boolean",
                                "default": False,
                                "description": "Waiting room on (home-page meetings: on).",
                            },
                        },
                    }
                ),
                "responses": {
                    "201": _json(_ref("Room"), "The room"),
                    **_bad(),
                    **_unauth(),
                    "409": _error("A room with that name exists (`conflict`)."),
                },
            },
        },
        "/api/v1/rooms/{name}": {
            "parameters": [_room_param()],
            "get": {
                "summary": "One room",
                "security": _auth(),
                "responses": {
                    "200": _json(_ref("Room"), "The room"),
                    **_unauth(),
                    "404": _error("No such room (`not_found`)."),
                },
            },
            "delete": {
                "summary": "Delete a room; everyone in it is told and disconnected",
                "security": _auth(),
                "responses": {
                    "204": {"description": "Deleted"},
                    **_unauth(),
                    "404": _error("No such room (`not_found`)."),
                },
            },
        },
        "/api/v1/rooms/{name}/tokens": {
            "parameters": [_room_param()],
            "post": {
                "summary": "Mint a join token",
                "security": _auth(),
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["identity"],
                        "properties": {
                            "identity": {"type": "string", "minLength": 1, "maxLength": 128},
                            "name": {"type": "string", "maxLength": 64},
                            "host": {"type": "boolean", "description": "Host grants (room_admin)."},
                            "ttl_s": {
                                "type": "integer",
                                "minimum": 1,
                                "description": "Default host_token_ttl_s; at most token_max_ttl_s.",
                            },
                            "grants": _ref("Grants"),
                        },
                    },
                    required=True,
                ),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "token": {"type": "string"},
                                "room": {"type": "string"},
                                "identity": {"type": "string"},
                                "expires_at": {"type": "number"},
                                "url": {
                                    "type": "string",
                                    "description": "Join link; the token is in the fragment.",
                                },
                            },
                        },
                        "The token",
                    ),
                    **_bad(),
                    **_unauth(),
                    "404": _error("No such room, when auto_create_rooms is off (`not_found`)."),
                },
            },
        },
        "/api/v1/rooms/{name}/audit": {
            "parameters": [_room_param()],
            "get": {
                "summary": "The room's moderation log (newest 1000 entries, oldest first)",
                "security": _auth(),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["room", "entries"],
                            "properties": {
                                "room": {"type": "string"},
                                "entries": {"type": "array", "items": _ref("AuditEntry")},
                            },
                        },
                        "The log",
                    ),
                    **_unauth(),
                    "404": _error("No such room and no log for it (`not_found`)."),
                },
            },
        },
        "/api/v1/rooms/{name}/guest-token": {
            "parameters": [_room_param()],
            "post": {
                "summary": "A short-lived guest token for a stored room (no API key)",
                "description": "Grants: join, subscribe, data, camera, microphone. Per-IP quota.",
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1, "maxLength": 64},
                            "password": {"type": "string", "minLength": 1, "maxLength": 128},
                        },
                    },
                    required=True,
                ),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "token": {"type": "string"},
                                "identity": {"type": "string"},
                                "expires_at": {"type": "number"},
                            },
                        },
                        "The token",
                    ),
                    **_bad(),
                    "401": _error(
                        "The room is unknown, locked or has a password and no `password` was "
                        "given (`password_required`); or, with a `password`: unknown room, "
                        "locked room, wrong password or too many wrong ones (`invalid_token`). "
                        "Unknown, locked and protected rooms answer alike at each step."
                    ),
                    **_limited(),
                },
            },
        },
        **_file_paths(),
        **_recording_paths(),
        **_recorder_paths(),
        "/api/v1/meetings": {
            "post": {
                "summary": "Start a meeting: a new room and its host token (no API key)",
                "description": "The home page's New meeting button. Per-IP quota.",
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "name": {
                                "type": "string",
                                "maxLength": 64,
                                "description": "The host's display name.",
                            }
                        },
                    }
                ),
                "responses": {
                    "201": _json(
                        {
                            "type": "object",
                            "properties": {
                                "room": _ref("Room"),
                                "host_token": {"type": "string"},
                                "host_url": {"type": "string"},
                                "guest_url": {"type": "string"},
                            },
                        },
                        "The meeting",
                    ),
                    **_bad(),
                    **_limited(),
                },
            },
        },
    }


_FILE_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
)


def _recording_paths() -> dict[str, Any]:
    """Recordings (signaling/recordings_api.py): the API key or a host's room token."""
    recording = {
        "type": "object",
        "required": ["id", "room", "state", "started_at", "files"],
        "properties": {
            "id": {"type": "string"},
            "room": {"type": "string"},
            "state": {"type": "string", "enum": ["recording", "paused", "stopped", "failed"]},
            "started_at": {"type": "number"},
            "ended_at": {"type": ["number", "null"]},
            "started_by": {"type": "string", "description": "A host's identity, or auto."},
            "bytes": {"type": "integer"},
            "error": {"type": ["string", "null"]},
            "files": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
                },
            },
        },
    }
    either: list[dict[str, list[str]]] = [{"apiKey": []}, {"roomToken": []}]
    export_job = {
        "type": "object",
        "properties": {
            "recording_id": {"type": "string"},
            "layout": {"type": "string"},
            "state": {"type": "string", "enum": ["running", "done", "failed"]},
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "file": {"type": ["string", "null"], "description": "Once done."},
            "duration": {"type": ["number", "null"]},
            "error": {"type": ["string", "null"]},
        },
    }
    denied = {
        **_unauth(),
        "403": _error("A room token that is not a host's of this room (`forbidden`)."),
        "404": _error("No such recording or file (`not_found`)."),
    }
    rid = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/api/v1/rooms/{name}/recordings": {
            "parameters": [_room_param()],
            "get": {
                "summary": "The room's recordings, oldest first",
                "security": either,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "room": {"type": "string"},
                                "recordings": {"type": "array", "items": recording},
                            },
                        },
                        "The recordings",
                    ),
                    **denied,
                },
            },
        },
        "/api/v1/recordings/{id}": {
            "parameters": [rid],
            "get": {
                "summary": "One recording and its files",
                "security": either,
                "responses": {"200": _json(recording, "The recording"), **denied},
            },
            "delete": {
                "summary": "Delete a recording and its files",
                "security": either,
                "responses": {
                    "204": {"description": "Deleted"},
                    "409": _error("The recording is under way (`conflict`)."),
                    **denied,
                },
            },
        },
        "/api/v1/rooms/{name}/recording": {
            "parameters": [_room_param()],
            "post": {
                "summary": "Start, stop, pause or resume the meeting's recording",
                "description": "Like the hosts' WebSocket commands; the meeting must be under "
                "way. Everyone in it is told (the recording message).",
                "security": either,
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["action"],
                        "properties": {
                            "action": {
                                "type": "string",
                                "enum": ["start", "stop", "pause", "resume"],
                            }
                        },
                    },
                    required=True,
                ),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "state": {"type": "string"},
                                "started_at": {"type": "number"},
                            },
                        },
                        "The recording, as the room's recording message carries it",
                    ),
                    **_bad(),
                    "409": _error(
                        "Nobody in the meeting, already recording, or not recording (`conflict`)."
                    ),
                    "507": _error("Not enough free disk space (`storage_full`)."),
                    **denied,
                },
            },
        },
        "/api/v1/recordings/{id}/export": {
            "parameters": [rid],
            "post": {
                "summary": "Export the recording to one MP4 (H.264 + AAC), in a worker process",
                "description": "The result, export-<layout>.mp4, joins the recording's files.",
                "security": either,
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"layout": {"type": "string", "enum": ["grid", "speaker"]}},
                    }
                ),
                "responses": {
                    "202": _json(export_job, "The job (a running one is returned as is)"),
                    **_bad(),
                    "409": _error("The recording is under way (`conflict`)."),
                    **denied,
                },
            },
            "get": {
                "summary": "The export's state and progress",
                "security": either,
                "responses": {"200": _json(export_job, "The job"), **denied},
            },
        },
        "/api/v1/recordings/{id}/links": {
            "parameters": [rid],
            "post": {
                "summary": "A share link to the recording (optionally with a password)",
                "description": "The URL carries the link's secret in its fragment and is shown "
                "only in this answer. Whoever has it reads the recording with the headers "
                "X-Sparkle-Link (and X-Sparkle-Link-Password) until it expires.",
                "security": either,
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "password": {"type": "string", "minLength": 1, "maxLength": 128},
                            "expires_in_s": {
                                "type": "integer",
                                "minimum": 60,
                                "maximum": 90 * 86400,
                                "default": 7 * 86400,
                            },
                        },
                    }
                ),
                "responses": {
                    "201": _json(
                        {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "url": {"type": "string"},
                                "expires_at": {"type": "number"},
                                "password": {"type": "boolean"},
                            },
                        },
                        "The link",
                    ),
                    **_bad(),
                    **denied,
                },
            },
        },
        "/api/v1/recordings/{id}/files/{file}": {
            "parameters": [
                rid,
                {"name": "file", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "get": {
                "summary": "Download one file of a recording; Range requests are answered",
                "security": either,
                "responses": {
                    "200": {"description": "The file"},
                    "206": {"description": "The requested range (RFC 9110 section 14)"},
                    "416": {"description": "The range is outside the file"},
                    **denied,
                },
            },
            "put": _upload_operation(),
        },
    }


def _upload_operation() -> dict[str, Any]:
    """A remote recorder's upload (signaling/recorder_jobs_api.py)."""
    return {
        "summary": "Upload one file a remote recorder wrote (recorder_workers = remote)",
        "description": "The raw bytes, streamed; stored under a temporary name and renamed "
        "when complete. Only while a pool worker holds the recording's job. An existing file "
        "of that name is replaced.",
        "security": [{"apiKey": []}],
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        },
        "responses": {
            "201": _json(
                {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
                },
                "Stored",
            ),
            "400": _error("Not a recording file name (`bad_message`)."),
            **_unauth(),
            "404": _error("No such recording (`not_found`)."),
            "409": _error("No pool worker holds this recording (`conflict`)."),
            "413": _error("Over recorder_upload_max_bytes (`file_too_large`)."),
            "507": _error("The recordings disk is (nearly) full (`storage_full`)."),
        },
    }


def _recorder_paths() -> dict[str, Any]:
    """The recorder pool (signaling/recorder_jobs_api.py): API key only."""
    key: list[dict[str, list[str]]] = [{"apiKey": []}]
    return {
        "/api/v1/recorder/jobs/claim": {
            "post": {
                "summary": "A pool worker claims the oldest recording waiting for one",
                "description": "recorder_workers = remote. Of workers claiming at once, "
                "exactly one gets a job. The token (recorder grant) is for the worker's join.",
                "security": key,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["recording_id", "room", "token"],
                            "properties": {
                                "recording_id": {"type": "string"},
                                "room": {"type": "string"},
                                "token": {"type": "string"},
                            },
                        },
                        "The job",
                    ),
                    "204": {"description": "Nothing to record"},
                    **_unauth(),
                },
            },
        },
        "/api/v1/recorder/jobs/{id}/done": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "post": {
                "summary": "The worker finished and uploaded its files; the recording closes",
                "security": key,
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["exit_code"],
                        "properties": {
                            "exit_code": {"type": "integer", "minimum": 0, "maximum": 255},
                            "error": {"type": "string", "maxLength": 500},
                        },
                    },
                    required=True,
                ),
                "responses": {
                    "204": {"description": "Recorded"},
                    **_bad(),
                    **_unauth(),
                    "404": _error("No job for this recording (`not_found`)."),
                    "409": _error("The job is not held by a worker (`conflict`)."),
                },
            },
        },
    }


def _file_paths() -> dict[str, Any]:
    """Files shared in chat (signaling/chat_files.py), with a room token, not the API key."""
    shared = {
        "type": "object",
        "required": ["id", "name", "size", "type"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string", "maxLength": 128, "description": "Sanitised."},
            "size": {"type": "integer"},
            "type": {"type": "string", "enum": list(_FILE_TYPES)},
        },
    }
    token: list[dict[str, list[str]]] = [{"roomToken": []}]
    invalid = {"401": _error("Missing, invalid or expired token (`invalid_token`).")}
    binary = {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
    return {
        "/api/v1/rooms/{name}/files": {
            "parameters": [_room_param()],
            "post": {
                "summary": "Share a file in the room's chat (then send chat with file_id)",
                "description": "The raw bytes as the body, Content-Type the file's type, which "
                "must match the bytes. Needs a participant in the meeting now with file_share "
                "permission. At most chat_max_file_bytes, chat_files_per_minute per person.",
                "security": token,
                "parameters": [
                    {
                        "name": "filename",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "Display name; sanitised, default file.<ext>.",
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {mime: binary for mime in _FILE_TYPES},
                },
                "responses": {
                    "201": _json(shared, "The shared file"),
                    "400": _error("Empty file (`bad_message`)."),
                    **invalid,
                    "403": _error("Not in the meeting, or no file_share permission (`forbidden`)."),
                    "404": _error("Invalid room name (`not_found`)."),
                    "413": _error("Over chat_max_file_bytes (`file_too_large`)."),
                    "415": _error(
                        "Type not allowed or not matching the bytes (`unsupported_file_type`)."
                    ),
                    "429": _error("Over chat_files_per_minute (`rate_limited`)."),
                },
            },
        },
        "/api/v1/rooms/{name}/files/{id}": {
            "parameters": [
                _room_param(),
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "get": {
                "summary": "Download a file shared in the room's chat",
                "description": "For participants in the meeting and the room's hosts. Served "
                "as an attachment with X-Content-Type-Options: nosniff and CSP sandbox.",
                "security": token,
                "responses": {
                    "200": {
                        "description": "The bytes, with the stored type",
                        "content": {mime: binary for mime in _FILE_TYPES},
                    },
                    **invalid,
                    "403": _error("Not in the meeting and not a host (`forbidden`)."),
                    "404": _error("No such file in this room (`not_found`)."),
                },
            },
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sparkle",
            "version": VERSION,
            "description": "Self-hosted video meetings. See docs/api.md and docs/protocol.md.",
        },
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "API key as the user name, API secret as the password.",
                },
                "roomToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A join token of the room (signaling/chat_files.py).",
                },
            },
        },
    }


async def openapi_handler(request: web.Request) -> web.Response:
    return web.json_response(document())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi_handler)
