"""A worker pool's calls to the server's jobs API, and the API key pair they are made with.

Every worker pool (recorder/pool.py, and through roomclient/job_pool.py transcribe/pool.py
and framing/pool.py) takes jobs the same way, each under its own path
(``/api/v1/recorder/jobs``, ``/api/v1/transcriber/jobs``, ``/api/v1/framer/jobs``), with
HTTP Basic auth by the API key pair (RFC 7617):

- ``POST {jobs}/claim``: 204 nothing to do, 200 a job (the worker parses it), 401 the key
  pair is refused (``Unauthorized``), anything else (or a malformed job) a failed claim,
  logged and tried again later;
- ``POST {jobs}/{id}/done {"exit_code", "error"?}``: how the job ended, tried a few times
  (a 5xx or a network error may pass; a 4xx will not).

The key pair comes from the environment only, never the command line (which any local user
can read in the process list), and is never printed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

logger = logging.getLogger(__name__)

KEY_ENV, SECRET_ENV = "SPARKLE_API_KEY", "SPARKLE_API_SECRET"
REPORT_ATTEMPTS = 3
RETRY_S = 1.0
# What the server keeps of an error (signaling/*_jobs_api.py MAX_ERROR_CHARS).
MAX_ERROR_CHARS = 500

JobT = TypeVar("JobT")


class Unauthorized(Exception):
    """The server refused the API key pair."""


def key_pair(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The API key and secret from ``environ``; None unless both are there."""
    key, secret = environ.get(KEY_ENV, "").strip(), environ.get(SECRET_ENV, "").strip()
    return (key, secret) if key and secret else None


class JobClient:
    def __init__(self, url: str, jobs_path: str, api_key: str, api_secret: str) -> None:
        self.base = url.rstrip("/")  # http(s)://host:port of the Sparkle server
        self.jobs_url = self.base + jobs_path
        # The Authorization header, for the pool's other calls too (e.g. uploads).
        self.auth = {"Authorization": aiohttp.encode_basic_auth(api_key, api_secret)}

    def __repr__(self) -> str:  # never print the secret
        return f"JobClient({self.jobs_url!r})"

    async def claim(
        self, http: aiohttp.ClientSession, parse: Callable[[Any], JobT], **request: Any
    ) -> JobT | None:
        """A job (the 200 body through ``parse``), or None when there is none or the claim
        failed (logged: the pool tries again later). Raises Unauthorized; ``request`` goes
        to the POST (e.g. ``params``, ``timeout``)."""
        url = f"{self.jobs_url}/claim"
        try:
            async with http.post(url, headers=self.auth, **request) as response:
                if response.status == 401:
                    raise Unauthorized
                if response.status == 204:
                    return None
                if response.status != 200:
                    raise ValueError(f"claim answered {response.status}")
                body: Any = await response.json()
            return parse(body)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            logger.warning("claiming a job failed: %s", exc)
            return None

    async def done(
        self, http: aiohttp.ClientSession, job_id: str, code: int, error: str | None
    ) -> bool:
        """Report how job ``job_id`` ended; True once the server took it."""
        url = f"{self.jobs_url}/{quote(job_id)}/done"
        body: dict[str, Any] = {"exit_code": int(code)}
        if error is not None:
            body["error"] = error[:MAX_ERROR_CHARS]
        for attempt in range(REPORT_ATTEMPTS):
            if attempt:
                await asyncio.sleep(RETRY_S * attempt)
            try:
                async with http.post(url, json=body, headers=self.auth) as response:
                    if response.status in (200, 204):
                        return True
                    logger.error("job %s: the end report answered %d", job_id, response.status)
                    if response.status < 500:
                        return False  # refused: trying again would not help
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                logger.warning("job %s: reporting the end failed: %s", job_id, exc)
        return False
