"""The small builders the OpenAPI document (signaling/openapi.py) is written with.

Shared by the modules that describe one group of paths each (openapi_rooms.py,
openapi_chat.py, openapi_recordings.py) and by the component schemas.
"""

from __future__ import annotations

from typing import Any

NAME_PATTERN = "^[A-Za-z0-9_-]{1,64}$"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error(description: str) -> dict[str, Any]:
    return json_content(ref("Error"), description)


def body(schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def job_done_body() -> dict[str, Any]:
    """A worker's ``POST .../jobs/{id}/done`` body, the same for every worker pool."""
    return body(
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
    )


def room_param() -> dict[str, Any]:
    return {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": NAME_PATTERN},
    }


def api_key() -> list[dict[str, list[str]]]:
    return [{"apiKey": []}]


def unauthorized() -> dict[str, Any]:
    return {"401": error("Missing or wrong API key (`unauthorized`).")}


def bad_message() -> dict[str, Any]:
    return {"400": error("Malformed body: unknown field, wrong type (`bad_message`).")}


def rate_limited() -> dict[str, Any]:
    return {"429": error("Per-IP quota exceeded (`rate_limited`).")}
