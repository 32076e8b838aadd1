"""Request and response hardening: a limit on request bodies, security headers on answers.

``BodyLimitMiddleware`` refuses a body larger than its limit with a 413 problem, before the
route reads it when ``Content-Length`` tells, while it streams otherwise. File uploads
(``multipart/form-data``) have their own, larger limit.

``SecurityHeadersMiddleware`` adds to every answer what a browser needs to keep it safe:
no content-type sniffing, no framing, no referrer to other sites, a Content-Security-Policy
and, over TLS, Strict-Transport-Security. The console's pages carry their own policy
(``arrears.kit.spa``), which is left as it is; API answers get a policy that allows nothing,
and are never cached, since they hold personal data.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrears.kit.http import problem
from arrears.kit.spa import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

MIB = 1024 * 1024
# multipart boundaries and part headers around the file itself
MULTIPART_ALLOWANCE = MIB


class BodyTooLarge(HTTPException):
    """A request body above the limit (raised while the body is read)."""

    code = "request_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=_too_large_sentence(limit))
        self.limit = limit


def _too_large_sentence(limit: int) -> str:
    size = f"{limit // MIB} MiB" if limit >= MIB else f"{max(limit // 1024, 1)} KiB"
    return f"The request body is larger than the {size} the server accepts."


def _too_large(limit: int) -> JSONResponse:
    return problem(
        413, BodyTooLarge.code, _too_large_sentence(limit), details={"limit_bytes": limit}
    )


class BodyLimitMiddleware:
    """Refuses request bodies above ``max_body`` bytes (``max_upload`` for file uploads)."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    def limit_for(self, headers: Headers) -> int:
        """The largest body accepted for a request with ``headers``."""
        if headers.get("content-type", "").startswith("multipart/form-data"):
            return self.max_upload + MULTIPART_ALLOWANCE
        return self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limit_for(headers)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def noting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, noting_send)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(limit)(scope, receive, send)


# Answers of the API: JSON and CSV that no page may run, embed or frame.
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
# The interactive API docs load Swagger UI from its CDN and start it with an inline script.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ]
)
HSTS = "max-age=31536000; includeSubDomains"
DOCS_PATHS = ("/docs", "/redoc")
# The console's headers without its policy, which belongs to its own pages.
COMMON_HEADERS: Mapping[str, str] = {
    name: value for name, value in SECURITY_HEADERS.items() if value != CONTENT_SECURITY_POLICY
}


def content_security_policy(path: str) -> str:
    """The policy for an answer at ``path`` that did not bring its own."""
    if any(path == docs or path.startswith(docs + "/") for docs in DOCS_PATHS):
        return DOCS_CONTENT_SECURITY_POLICY
    return API_CONTENT_SECURITY_POLICY


class SecurityHeadersMiddleware:
    """Adds the security headers an answer lacks (those it set itself are kept)."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", content_security_policy(path))
                if path == "/api" or path.startswith("/api/"):
                    headers.setdefault("Cache-Control", "no-store")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
