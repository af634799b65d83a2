"""OpenAPI paths of the worker job queues (signaling/worker_jobs_api.py): the transcriber's
(issue 5) and the framing worker's (issue 6), one shape for both."""

from __future__ import annotations

from typing import Any

from signaling.openapi_parts import bad_message, error, job_done_body, json_content, unauthorized

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _job_paths(
    path: str, worker: str, grant: str, extra: dict[str, Any], nothing: str
) -> dict[str, Any]:
    key: list[dict[str, list[str]]] = [{"apiKey": []}]
    properties = {"job_id": {"type": "string"}, "room": {"type": "string"}, **extra}
    return {
        f"{path}/claim": {
            "post": {
                "summary": f"A {worker} claims a room waiting for one (long polling)",
                "security": key,
                "parameters": [
                    {
                        "name": "wait",
                        "in": "query",
                        "schema": {"type": "number", "minimum": 0, "maximum": 30, "default": 0},
                    }
                ],
                "responses": {
                    "200": json_content(
                        {
                            "type": "object",
                            "required": [*properties, "token"],
                            "properties": {**properties, "token": {"type": "string"}},
                        },
                        f"The job; the token ({grant} grant) is for the worker's join",
                    ),
                    "204": {"description": nothing},
                    **bad_message(),
                    **unauthorized(),
                },
            }
        },
        f"{path}/{{id}}/done": {
            "parameters": [_ID],
            "post": {
                "summary": f"The {worker} left the room",
                "security": key,
                "requestBody": job_done_body(),
                "responses": {
                    "204": {"description": "Noted"},
                    **bad_message(),
                    **unauthorized(),
                    "404": error("No such job (`not_found`)."),
                },
            },
        },
    }


def job_paths() -> dict[str, Any]:
    return {
        **_job_paths(
            "/api/v1/transcriber/jobs",
            "transcriber",
            "transcriber",
            {"meeting_id": {"type": "string"}},
            "Nothing to transcribe",
        ),
        **_job_paths("/api/v1/framer/jobs", "framing worker", "framer", {}, "Nothing to frame"),
    }
