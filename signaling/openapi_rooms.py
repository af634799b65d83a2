"""The OpenAPI paths of rooms, their tokens, audit log and meetings (signaling/api.py)."""

from __future__ import annotations

from typing import Any

from signaling.openapi_parts import (
    NAME_PATTERN,
    api_key,
    bad_message,
    body,
    error,
    json_content,
    rate_limited,
    ref,
    room_param,
    unauthorized,
)


def room_paths() -> dict[str, Any]:
    """Rooms and their tokens and log (signaling/api.py)."""
    return {
        "/api/v1/rooms": {
            "get": {
                "summary": "List rooms (stored and live)",
                "security": api_key(),
                "responses": {
                    "200": json_content(
                        {
                            "type": "object",
                            "properties": {"rooms": {"type": "array", "items": ref("Room")}},
                        },
                        "The rooms",
                    ),
                    **unauthorized(),
                },
            },
            "post": {
                "summary": "Create a room (a readable random name if none is given)",
                "security": api_key(),
                "requestBody": body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "pattern": NAME_PATTERN},
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
                    "201": json_content(ref("Room"), "The room"),
                    **bad_message(),
                    **unauthorized(),
                    "409": error("A room with that name exists (`conflict`)."),
                },
            },
        },
        "/api/v1/rooms/{name}": {
            "parameters": [room_param()],
            "get": {
                "summary": "One room",
                "security": api_key(),
                "responses": {
                    "200": json_content(ref("Room"), "The room"),
                    **unauthorized(),
                    "404": error("No such room (`not_found`)."),
                },
            },
            "delete": {
                "summary": "Delete a room; everyone in it is told and disconnected",
                "security": api_key(),
                "responses": {
                    "204": {"description": "Deleted"},
                    **unauthorized(),
                    "404": error("No such room (`not_found`)."),
                },
            },
        },
        "/api/v1/rooms/{name}/tokens": {
            "parameters": [room_param()],
            "post": {
                "summary": "Mint a join token",
                "security": api_key(),
                "requestBody": body(
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
                            "grants": ref("Grants"),
                        },
                    },
                    required=True,
                ),
                "responses": {
                    "200": json_content(
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
                    **bad_message(),
                    **unauthorized(),
                    "404": error("No such room, when auto_create_rooms is off (`not_found`)."),
                },
            },
        },
        "/api/v1/rooms/{name}/audit": {
            "parameters": [room_param()],
            "get": {
                "summary": "The room's moderation log (newest 1000 entries, oldest first)",
                "security": api_key(),
                "responses": {
                    "200": json_content(
                        {
                            "type": "object",
                            "required": ["room", "entries"],
                            "properties": {
                                "room": {"type": "string"},
                                "entries": {"type": "array", "items": ref("AuditEntry")},
                            },
                        },
                        "The log",
                    ),
                    **unauthorized(),
                    "404": error("No such room and no log for it (`not_found`)."),
                },
            },
        },
        "/api/v1/rooms/{name}/guest-token": {
            "parameters": [room_param()],
            "post": {
                "summary": "A short-lived guest token for a stored room (no API key)",
                "description": "Grants: join, subscribe, data, camera, microphone. Per-IP quota.",
                "requestBody": body(
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
                    "200": json_content(
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
                    **bad_message(),
                    "401": error(
                        "The room is unknown, locked or has a password and no `password` was "
                        "given (`password_required`); or, with a `password`: unknown room, "
                        "locked room, wrong password or too many wrong ones (`invalid_token`). "
                        "Unknown, locked and protected rooms answer alike at each step."
                    ),
                    **rate_limited(),
                },
            },
        },
    }


def meeting_paths() -> dict[str, Any]:
    """The home page's meetings (signaling/api.py), without an API key."""
    return {
        "/api/v1/meetings": {
            "post": {
                "summary": "Start a meeting: a new room and its host token (no API key)",
                "description": "The home page's New meeting button. Per-IP quota.",
                "requestBody": body(
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
                    "201": json_content(
                        {
                            "type": "object",
                            "properties": {
                                "room": ref("Room"),
                                "host_token": {"type": "string"},
                                "host_url": {"type": "string"},
                                "guest_url": {"type": "string"},
                            },
                        },
                        "The meeting",
                    ),
                    **bad_message(),
                    **rate_limited(),
                },
            },
        },
    }
