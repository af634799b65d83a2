"""The OpenAPI 3.1 description of the HTTP API, served at ``GET /api/v1/openapi.json``.

Written by hand next to the handlers it describes (signaling/api.py); a test checks that
every route the app serves is described here and that nothing described is missing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from signaling.openapi_chat import file_paths
from signaling.openapi_jobs import job_paths
from signaling.openapi_keys import key_paths
from signaling.openapi_parts import json_content
from signaling.openapi_recordings import recorder_paths, recording_paths
from signaling.openapi_rooms import meeting_paths, room_paths
from signaling.openapi_schemas import schemas
from signaling.openapi_transcripts import meetings_list, transcript_paths
from signaling.openapi_webhooks import webhook_paths

VERSION = "0.1.0"


def _paths() -> dict[str, Any]:
    paths = _base_paths()
    # One path, two groups: POST is the home page's New meeting, GET lists meetings (issue 5).
    paths["/api/v1/meetings"]["get"] = meetings_list()
    return paths


def _base_paths() -> dict[str, Any]:
    return {
        "/healthz": {
            "get": {
                "summary": "Liveness check",
                "responses": {"200": json_content({"type": "object"}, '`{"status": "ok"}`')},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness check (route new users here?)",
                "description": "503 while the server shuts down or its database does not "
                "answer; /healthz stays 200 then (the process is alive).",
                "responses": {
                    "200": json_content({"type": "object"}, '`{"status": "ready"}`'),
                    "503": json_content(
                        {"type": "object"},
                        '`{"status": "shutting_down"}` or '
                        '`{"status": "unavailable", "reason": "..."}`',
                    ),
                },
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
                "responses": {"200": json_content({"type": "object"}, "OpenAPI 3.1 document")},
            }
        },
        "/api/v1/ws": {
            "get": {
                "summary": "The signalling WebSocket (docs/protocol.md)",
                "description": "The token is the first message (join), never in the URL.",
                "responses": {"101": {"description": "Switching to the WebSocket protocol"}},
            }
        },
        **room_paths(),
        **file_paths(),
        **recording_paths(),
        **recorder_paths(),
        **meeting_paths(),
        **transcript_paths(),
        **job_paths(),
        **key_paths(),
        **webhook_paths(),
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
            "schemas": schemas(),
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
