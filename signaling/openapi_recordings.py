"""The OpenAPI paths of recordings, their exports, share links and the recorder pool's jobs.

Handlers: signaling/recordings_api.py and signaling/recorder_jobs_api.py.
"""

from __future__ import annotations

from typing import Any

from signaling.openapi_parts import (
    bad_message,
    body,
    error,
    job_done_body,
    json_content,
    room_param,
    unauthorized,
)


def recording_paths() -> dict[str, Any]:
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
        **unauthorized(),
        "403": error("A room token that is not a host's of this room (`forbidden`)."),
        "404": error("No such recording or file (`not_found`)."),
    }
    rid = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/api/v1/rooms/{name}/recordings": {
            "parameters": [room_param()],
            "get": {
                "summary": "The room's recordings, oldest first",
                "security": either,
                "responses": {
                    "200": json_content(
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
                "responses": {"200": json_content(recording, "The recording"), **denied},
            },
            "delete": {
                "summary": "Delete a recording and its files",
                "security": either,
                "responses": {
                    "204": {"description": "Deleted"},
                    "409": error("The recording is under way (`conflict`)."),
                    **denied,
                },
            },
        },
        "/api/v1/rooms/{name}/recording": {
            "parameters": [room_param()],
            "post": {
                "summary": "Start, stop, pause or resume the meeting's recording",
                "description": "Like the hosts' WebSocket commands; the meeting must be under "
                "way. Everyone in it is told (the recording message).",
                "security": either,
                "requestBody": body(
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
                    "200": json_content(
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
                    **bad_message(),
                    "409": error(
                        "Nobody in the meeting, already recording, or not recording (`conflict`)."
                    ),
                    "507": error("Not enough free disk space (`storage_full`)."),
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
                "requestBody": body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"layout": {"type": "string", "enum": ["grid", "speaker"]}},
                    }
                ),
                "responses": {
                    "202": json_content(export_job, "The job (a running one is returned as is)"),
                    **bad_message(),
                    "409": error("The recording is under way (`conflict`)."),
                    **denied,
                },
            },
            "get": {
                "summary": "The export's state and progress",
                "security": either,
                "responses": {"200": json_content(export_job, "The job"), **denied},
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
                "requestBody": body(
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
                    "201": json_content(
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
                    **bad_message(),
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
            "201": json_content(
                {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
                },
                "Stored",
            ),
            "400": error("Not a recording file name (`bad_message`)."),
            **unauthorized(),
            "404": error("No such recording (`not_found`)."),
            "409": error("No pool worker holds this recording (`conflict`)."),
            "413": error("Over recorder_upload_max_bytes (`file_too_large`)."),
            "507": error("The recordings disk is (nearly) full (`storage_full`)."),
        },
    }


def recorder_paths() -> dict[str, Any]:
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
                    "200": json_content(
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
                    **unauthorized(),
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
                "requestBody": job_done_body(),
                "responses": {
                    "204": {"description": "Recorded"},
                    **bad_message(),
                    **unauthorized(),
                    "404": error("No job for this recording (`not_found`)."),
                    "409": error("The job is not held by a worker (`conflict`)."),
                },
            },
        },
    }
