"""OpenAPI paths of the webhook delivery log (issue 7, signaling/webhooks_api.py); the events
themselves are described in docs/webhooks.md."""

from __future__ import annotations

from typing import Any

from signaling.openapi_parts import api_key, error, json_content, unauthorized
from signaling.webhooks import EVENTS, MAX_LOG_LIMIT

_ATTEMPT = {
    "type": "object",
    "properties": {
        "attempt": {"type": "integer", "minimum": 1},
        "at": {"type": "number", "description": "Unix time of the attempt's end"},
        "url": {"type": "string"},
        "status": {"type": ["integer", "null"], "description": "HTTP status; null: no answer"},
        "error": {
            "type": ["string", "null"],
            "description": "Why it did not count as delivered; null when delivered",
        },
        "duration_ms": {"type": "number"},
    },
}
_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "The webhook-id header of every attempt"},
        "event": {"type": "string", "enum": list(EVENTS)},
        "api_key": {"type": "string", "description": "The key whose webhook_url it goes to"},
        "room": {"type": "string"},
        "created_at": {"type": "number"},
        "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
        "next_attempt_at": {"type": ["number", "null"], "description": "While pending"},
        "payload": {"type": "object", "description": "The JSON body, as sent"},
        "attempts": {"type": "array", "items": _ATTEMPT},
    },
}


def webhook_paths() -> dict[str, Any]:
    return {
        "/api/v1/webhooks/deliveries": {
            "get": {
                "summary": "The webhook delivery log: events newest first, with their attempts",
                "description": "The calling key's events; the primary key sees every key's. "
                "See docs/webhooks.md.",
                "security": api_key(),
                "parameters": [
                    {"name": "event_id", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_LOG_LIMIT,
                            "default": 50,
                        },
                    },
                ],
                "responses": {
                    "200": json_content(
                        {
                            "type": "object",
                            "properties": {"events": {"type": "array", "items": _EVENT}},
                        },
                        "The events",
                    ),
                    "400": error("Unknown parameter, bad limit or event_id (`bad_message`)."),
                    **unauthorized(),
                },
            }
        }
    }
