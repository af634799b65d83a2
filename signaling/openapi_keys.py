"""OpenAPI paths of the API keys API (issue 7, signaling/keys_api.py)."""

from __future__ import annotations

from typing import Any

from signaling.openapi_parts import api_key, bad_message, body, error, json_content, unauthorized

_KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
_ORIGINS = {
    "type": "array",
    "maxItems": 20,
    "items": {"type": "string", "description": "scheme://host[:port]"},
    "description": "Origins whose pages may embed this key's rooms (https; http for loopback).",
}
_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 64},
    "embed_origins": _ORIGINS,
    "webhook_url": {"type": ["string", "null"], "description": "Where events are POSTed."},
}
_KEY_OBJECT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "name": {"type": "string"},
        "primary": {"type": "boolean"},
        "embed_origins": _ORIGINS,
        "webhook_url": {"type": ["string", "null"]},
        "created_at": {"type": "number"},
    },
}


def _forbidden() -> dict[str, Any]:
    return {"403": error("Needs the primary key, or this key itself (`forbidden`).")}


def key_paths() -> dict[str, Any]:
    created = {
        **_KEY_OBJECT,
        "properties": {
            **_KEY_OBJECT["properties"],
            "secret": {"type": "string", "description": "Shown once."},
            "webhook_secret": {"type": "string", "description": "Shown once."},
        },
    }
    return {
        "/api/v1/keys": {
            "get": {
                "summary": "List the live API keys (primary key only)",
                "security": api_key(),
                "responses": {
                    "200": json_content(
                        {
                            "type": "object",
                            "properties": {"keys": {"type": "array", "items": _KEY_OBJECT}},
                        },
                        "The keys, without secrets",
                    ),
                    **unauthorized(),
                    **_forbidden(),
                },
            },
            "post": {
                "summary": "Create an API key (primary key only)",
                "security": api_key(),
                "requestBody": body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": _FIELDS,
                    },
                    required=True,
                ),
                "responses": {
                    "201": json_content(created, "The new key with its secrets"),
                    **bad_message(),
                    **unauthorized(),
                    **_forbidden(),
                },
            },
        },
        "/api/v1/keys/{key}/webhook-secret": {
            "parameters": [_KEY],
            "post": {
                "summary": "A new webhook signing secret for a key, shown once",
                "security": api_key(),
                "responses": {
                    "200": json_content(
                        {
                            "type": "object",
                            "properties": {
                                "key": {"type": "string"},
                                "webhook_secret": {"type": "string"},
                            },
                        },
                        "The new secret; the old one no longer signs",
                    ),
                    **unauthorized(),
                    **_forbidden(),
                    "404": error("No such live key (`not_found`)."),
                },
            },
        },
        "/api/v1/keys/{key}": {
            "parameters": [_KEY],
            "get": {
                "summary": "One API key (the primary key, or the key itself)",
                "security": api_key(),
                "responses": {
                    "200": json_content(_KEY_OBJECT, "The key, without secrets"),
                    **unauthorized(),
                    **_forbidden(),
                    "404": error("No such live key (`not_found`)."),
                },
            },
            "patch": {
                "summary": "Change a key's name, embed origins or webhook",
                "security": api_key(),
                "requestBody": body(
                    {"type": "object", "additionalProperties": False, "properties": _FIELDS},
                    required=True,
                ),
                "responses": {
                    "200": json_content(_KEY_OBJECT, "The key as it is now"),
                    **bad_message(),
                    **unauthorized(),
                    **_forbidden(),
                    "404": error("No such live key (`not_found`)."),
                },
            },
            "delete": {
                "summary": "Revoke a key (primary key only); its tokens stop working",
                "security": api_key(),
                "responses": {
                    "204": {"description": "Revoked"},
                    **unauthorized(),
                    **_forbidden(),
                    "404": error("No such live key (`not_found`)."),
                    "409": error("The primary key cannot be revoked (`conflict`)."),
                },
            },
        },
    }
