"""Domain errors: a machine-readable code and a sentence a person understands."""

from __future__ import annotations

from typing import Any


class ArrearsError(Exception):
    """Base of every error a user can cause; rendered as RFC 9457 problem+json."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class ValidationFailed(ArrearsError):
    """Input does not satisfy a rule."""

    status = 422
    code = "validation_failed"


class NotFound(ArrearsError):
    """The thing asked for does not exist (or is outside the caller's scope)."""

    status = 404
    code = "not_found"


class Conflict(ArrearsError):
    """The request contradicts the current state (duplicate, stale version, ...)."""

    status = 409
    code = "conflict"
