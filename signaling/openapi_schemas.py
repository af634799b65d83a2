"""The OpenAPI document's component schemas (``#/components/schemas``)."""

from __future__ import annotations

from typing import Any

from signaling.errors import ErrorCode
from signaling.openapi_parts import NAME_PATTERN

SOURCES = ("camera", "microphone", "screen_share", "screen_share_audio")


def schemas() -> dict[str, Any]:
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
                "name": {"type": "string", "pattern": NAME_PATTERN},
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
                    "items": {"type": "string", "enum": list(SOURCES)},
                },
                "hidden": {"type": "boolean"},
            },
        },
    }
