"""The embed snippet and the meeting page in embed mode (issue 7; docs/embedding.md).

``/embed.js`` is ``web/embed.js``, a plain script an integrator loads with a ``<script>``
tag; it frames ``/embed/<room>?key=<api key id>``: the room page, told (by a ``<meta>``) the
origins that may frame it, and sent with ``Content-Security-Policy: frame-ancestors`` listing
exactly those origins (CSP Level 3, section 6.4.2), so a browser refuses to render it inside
any other site. The origins come from the API key (signaling/api_keys.py): an unknown,
revoked or origin-less key gets ``frame-ancestors 'none'``. The key id is not a secret; the
room token never travels in a URL: the snippet hands it over by postMessage
(web/js/embed-bridge.js).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Sequence

from aiohttp import web

# pages.setup registers these routes, so the two modules import each other: only the module
# object is bound here, its names are looked up at request time.
from signaling import pages
from signaling.appkeys import API_KEYS
from signaling.room_name import is_valid_room_name

EMBED_SCRIPT = "embed.js"
ROOM_PAGE = "room.html"
ORIGINS_META = "sparkle-embed-origins"
MAX_KEY_LENGTH = 128
# What a serialised http(s) origin looks like (RFC 6454 section 6.2, hosts in ASCII form).
# The origins go into a response header, so this page re-checks what the key store holds:
# a space, ';' or ',' would add a source or a directive to the policy.
_ORIGIN = re.compile(
    r"https?://(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?"
)

log = logging.getLogger(__name__)


def setup(app: web.Application) -> None:
    """Routes for the snippet and the embedded page (called by ``pages.setup``)."""
    app.router.add_get("/embed.js", embed_script)
    app.router.add_get("/embed/{room}", embed_page)


def safe_origins(origins: Sequence[str]) -> tuple[str, ...]:
    """``origins`` without anything that is not exactly one origin."""
    kept = tuple(o for o in origins if _ORIGIN.fullmatch(o))
    if len(kept) != len(origins):
        log.warning("embed: ignored %d malformed embed origin(s)", len(origins) - len(kept))
    return kept


def frame_ancestors(origins: Sequence[str]) -> str:
    """The CSP with ``frame-ancestors`` naming ``origins`` (already in serialised origin
    form, api_keys.parse_origin), or ``'none'`` when there are none."""
    return pages.content_security_policy(" ".join(origins) if origins else "'none'")


async def embed_script(request: web.Request) -> web.StreamResponse:
    path = request.app[pages.WEB_ROOT] / EMBED_SCRIPT
    if not path.is_file():
        return pages.not_found()
    # Integrators load it cross-origin with a plain <script> tag (no CORS needed), and a
    # deployment's new snippet must reach them at once: revalidate every time.
    return web.FileResponse(
        path,
        headers={"Cache-Control": "no-cache", "Content-Type": "text/javascript; charset=utf-8"},
    )


async def embed_page(request: web.Request) -> web.StreamResponse:
    room = request.match_info["room"]
    if not is_valid_room_name(room):
        return pages.not_found()
    key = request.query.get("key", "")
    found = request.app[API_KEYS].get(key) if 0 < len(key) <= MAX_KEY_LENGTH else None
    origins = safe_origins(found.embed_origins) if found is not None else ()
    path = request.app[pages.WEB_ROOT] / ROOM_PAGE
    try:
        page = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except OSError:
        return pages.not_found()
    # The page checks every postMessage's origin against this list (embed-bridge.js).
    meta = f'<meta name="{ORIGINS_META}" content="{html.escape(" ".join(origins))}">'
    page = page.replace("<head>", f"<head>\n  {meta}", 1)
    return web.Response(
        text=page,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": frame_ancestors(origins),
            "Cache-Control": "no-cache",
        },
    )
