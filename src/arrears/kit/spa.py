"""Serving the web console (``web/dist``) at ``/``, beside the API under ``/api``.

The console is a single-page app: its own router owns every path that is not the API's, so
an unknown ``GET /customers/C1`` answers ``index.html`` and the app shows the page. Paths
under ``/api`` (and the API's own ``/docs``, ``/openapi.json``) never fall back: an unknown
API path stays a problem+json 404. Hashed assets are cached for a year, ``index.html`` never.

``ARREARS_WEB_DIST`` points at another build; by default it is ``web/dist`` of the source
tree. Without a build the API works as before and ``/`` says how to build the console.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

# Paths the API itself serves outside /api.
API_PATHS = ("/api", "/docs", "/openapi.json", "/redoc")

# What the console needs and nothing more: its own scripts, Ant Design's inline styles
# (CSS-in-JS), chart images as data: URLs, and the API on the same origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
IMMUTABLE = "public, max-age=31536000, immutable"
NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8"><title>arrears</title>
<body style="font-family:system-ui,sans-serif;margin:3rem">
<h1>The web console is not built</h1>
<p>Build it with <code>make web</code> (or <code>cd web &amp;&amp; npm ci &amp;&amp;
npm run build</code>) and reload. The API is at <a href="/docs">/docs</a>.</p></body></html>
"""


def default_dist() -> Path:
    """Where the built console is: ``ARREARS_WEB_DIST`` or the source tree's ``web/dist``."""
    configured = os.environ.get("ARREARS_WEB_DIST")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "web" / "dist"


def is_api_path(path: str) -> bool:
    """Whether ``path`` belongs to the API (never answered with the console)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in API_PATHS)


class SpaMiddleware:
    """Answers GET and HEAD outside the API with the console's files or its ``index.html``."""

    def __init__(self, app: ASGIApp, dist: Path | None = None) -> None:
        self.app = app
        self.dist = (dist or default_dist()).resolve()

    def _file(self, path: str) -> Path | None:
        relative = path.lstrip("/")
        if not relative:
            return None
        candidate = (self.dist / relative).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        return candidate

    def response_for(self, path: str, headers: Headers) -> Response:
        """The console's answer to ``GET path``."""
        index = self.dist / "index.html"
        if not index.is_file():
            response: Response = HTMLResponse(NOT_BUILT, status_code=404)
        else:
            found = self._file(path)
            if found is None or found == index:
                response = FileResponse(index, media_type="text/html; charset=utf-8")
                response.headers["Cache-Control"] = "no-cache"
            else:
                response = self._asset(found, headers)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def _asset(self, found: Path, headers: Headers) -> Response:
        # Vite names assets by content hash, so they never change under their name;
        # a gzip copy written at build time is sent to clients that accept it.
        cache = IMMUTABLE if "/assets/" in found.as_posix() else "no-cache"
        compressed = found.with_name(found.name + ".gz")
        if "gzip" in headers.get("accept-encoding", "") and compressed.is_file():
            response = FileResponse(compressed, media_type=_media_type(found))
            response.headers["Content-Encoding"] = "gzip"
            response.headers["Vary"] = "Accept-Encoding"
        else:
            response = FileResponse(found)
        response.headers["Cache-Control"] = cache
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or is_api_path(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        response = self.response_for(scope["path"], Headers(scope=scope))
        await response(scope, receive, send)


def _media_type(path: Path) -> str:
    import mimetypes

    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def install_spa(app: ASGIApp, dist: Path | None = None) -> None:
    """Serve the console from ``dist`` on ``app`` (a FastAPI/Starlette application)."""
    app.add_middleware(SpaMiddleware, dist=dist)  # type: ignore[attr-defined]
