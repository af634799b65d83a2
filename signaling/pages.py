"""The browser client's pages and static files, and the security headers on every response.

``web/`` is plain static files (no build step). ``/`` is the home page, ``/r/<room>`` the
meeting page for any syntactically valid room name (the page itself asks the API whether the
room exists, so the HTML reveals nothing), and ``/static/`` serves ``web/`` without directory
listings or symlinks out of it (aiohttp's static handler also refuses ``..`` traversal).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from signaling import embed_page
from signaling.config import ConfigError
from signaling.room_name import is_valid_room_name

WEB_ROOT: web.AppKey[Path] = web.AppKey("web_root", Path)


# Same-origin everything. 'self' in connect-src covers ws:/wss: to the same host (CSP Level 3,
# section 6.7.2.9); blob:/mediastream: are what <video> elements with srcObject need; no
# inline script, so an injected <script> in a display name cannot run. Pages may only be
# framed by the server's own pages, except the embed page (signaling/embed_page.py), whose
# frame-ancestors are its API key's embed origins.
def content_security_policy(frame_ancestors: str = "'self'") -> str:
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob: mediastream:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        )
    )


CONTENT_SECURITY_POLICY = content_security_policy()
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    # The meeting URL's fragment holds a token; no-referrer also keeps the room name private.
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self)"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)

NOT_FOUND_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not found · Sparkle</title>
<link rel="stylesheet" href="/static/css/app.css"></head>
<body><main><h1>Not found</h1><p>There is no such page. <a href="/">Start a meeting</a>.</p>
</main></body></html>
"""


def setup(app: web.Application, web_root: Path) -> None:
    """Serve ``web_root`` (``config.web_path``: the repository's web/ unless configured)."""
    root = web_root.resolve()
    if not (root / "room.html").is_file():
        raise ConfigError(
            f"the browser client is missing: {root}/room.html not found; "
            "set SPARKLE_WEB_DIR to the web/ directory"
        )
    app[WEB_ROOT] = root
    app.on_response_prepare.append(add_security_headers)
    app.router.add_get("/", index_page)
    app.router.add_get("/r/{room}", room_page)
    app.router.add_get("/recordings/{id}", recording_page)
    app.router.add_get("/meetings/{id}", summary_page)
    embed_page.setup(app)
    app.router.add_static(
        "/static", root, show_index=False, follow_symlinks=False, append_version=False
    )


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name, value)


def _page(request: web.Request, name: str) -> web.StreamResponse:
    path = request.app[WEB_ROOT] / name
    if not path.is_file():
        return not_found()
    # no-cache: revalidate, so a deployment's new page is picked up at once.
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


async def index_page(request: web.Request) -> web.StreamResponse:
    return _page(request, "index.html")


async def room_page(request: web.Request) -> web.StreamResponse:
    if not is_valid_room_name(request.match_info["room"]):
        return not_found()
    return _page(request, "room.html")


async def recording_page(request: web.Request) -> web.StreamResponse:
    """A recording's share link (signaling/recording_links.py); the page asks the API."""
    return _page(request, "recording.html")


async def summary_page(request: web.Request) -> web.StreamResponse:
    """A meeting's summary (issue 5): transcript and action items; the page asks the API
    with the token its participant joined with."""
    return _page(request, "summary.html")


def not_found() -> web.Response:
    return web.Response(status=404, text=NOT_FOUND_HTML, content_type="text/html")
