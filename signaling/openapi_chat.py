"""The OpenAPI paths of files shared in chat (signaling/chat_files.py)."""

from __future__ import annotations

from typing import Any

from signaling.openapi_parts import error, json_content, room_param

FILE_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
)


def file_paths() -> dict[str, Any]:
    """Files shared in chat (signaling/chat_files.py), with a room token, not the API key."""
    shared = {
        "type": "object",
        "required": ["id", "name", "size", "type"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string", "maxLength": 128, "description": "Sanitised."},
            "size": {"type": "integer"},
            "type": {"type": "string", "enum": list(FILE_TYPES)},
        },
    }
    token: list[dict[str, list[str]]] = [{"roomToken": []}]
    invalid = {"401": error("Missing, invalid or expired token (`invalid_token`).")}
    binary = {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
    return {
        "/api/v1/rooms/{name}/files": {
            "parameters": [room_param()],
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
                    "content": {mime: binary for mime in FILE_TYPES},
                },
                "responses": {
                    "201": json_content(shared, "The shared file"),
                    "400": error("Empty file (`bad_message`)."),
                    **invalid,
                    "403": error("Not in the meeting, or no file_share permission (`forbidden`)."),
                    "404": error("Invalid room name (`not_found`)."),
                    "413": error("Over chat_max_file_bytes (`file_too_large`)."),
                    "415": error(
                        "Type not allowed or not matching the bytes (`unsupported_file_type`)."
                    ),
                    "429": error("Over chat_files_per_minute (`rate_limited`)."),
                },
            },
        },
        "/api/v1/rooms/{name}/files/{id}": {
            "parameters": [
                room_param(),
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
                        "content": {mime: binary for mime in FILE_TYPES},
                    },
                    **invalid,
                    "403": error("Not in the meeting and not a host (`forbidden`)."),
                    "404": error("No such file in this room (`not_found`)."),
                },
            },
        },
    }
