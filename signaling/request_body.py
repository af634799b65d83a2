"""Strict parsing of JSON request bodies for the HTTP API: precise messages, nothing guessed.

Unknown fields are refused rather than ignored (a misspelt ``max_participant`` should not
silently fall back to a default), duplicate keys and NaN/Infinity are refused (RFC 8259
section 4 leaves duplicates undefined), and a field of the wrong type names the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from signaling.errors import ErrorCode, SparkleError


def _bad(message: str) -> SparkleError:
    return SparkleError(ErrorCode.BAD_MESSAGE, message)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _bad(f"duplicate field {key!r}")
        result[key] = value
    return result


def _no_constants(value: str) -> Any:
    raise _bad(f"{value} is not valid JSON")


async def read_object(
    request: web.Request, allowed: Mapping[str, type | tuple[type, ...]]
) -> dict[str, Any]:
    """The body as a JSON object whose fields are all in ``allowed`` with the right types.

    An empty body is an empty object, so endpoints whose fields are all optional accept a
    bare POST. ``bool`` is never accepted where ``int`` is asked for.
    """
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise SparkleError(ErrorCode.MESSAGE_TOO_LARGE, "request body too large") from None
    if not raw.strip():
        return {}
    if request.content_type != "application/json":
        raise _bad("Content-Type must be application/json")
    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constants
        )
    except UnicodeDecodeError:
        raise _bad("body is not UTF-8") from None
    except RecursionError:
        raise _bad("body is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise _bad(
            f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(value, dict):
        raise _bad("body must be a JSON object")
    for key, item in value.items():
        if key not in allowed:
            raise _bad(f"unknown field {key!r}; allowed: {', '.join(sorted(allowed))}")
        expected = allowed[key]
        types = expected if isinstance(expected, tuple) else (expected,)
        if isinstance(item, bool) and bool not in types:
            raise _bad(f"field {key!r} must be {_describe(types)}")
        if not isinstance(item, types):
            raise _bad(f"field {key!r} must be {_describe(types)}")
    return value


def _describe(types: tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        bool: "a boolean",
        dict: "an object",
        list: "a list",
    }
    return " or ".join(names.get(t, t.__name__) for t in types)
