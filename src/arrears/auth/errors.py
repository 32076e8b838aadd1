"""Security errors. Some carry HTTP headers (``WWW-Authenticate``, ``Retry-After``) that
go out with their problem+json response: ``kit.http.install_problem_handlers`` sends the
headers of any error that has them, and ``install_auth_handlers`` does the same for an
app built from the security router alone."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from arrears.kit.errors import ArrearsError
from arrears.kit.http import problem

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class AuthProblem(ArrearsError):
    """A security error; ``headers`` go out with its problem response."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, code=code, **details)
        self.headers: dict[str, str] = dict(headers or {})


class NotAuthenticated(AuthProblem):
    """No valid credentials came with the request."""

    status = 401
    code = "not_authenticated"

    def __init__(self, message: str = "Sign in first: send a bearer token.", **kw: Any) -> None:
        kw.setdefault("headers", BEARER_CHALLENGE)
        super().__init__(message, **kw)


class Forbidden(AuthProblem):
    """The caller is signed in but may not do this."""

    status = 403
    code = "forbidden"


class TooManyAttempts(AuthProblem):
    """Too many sign-in attempts in a short time; nothing was checked."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: float, what: str) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"Too many sign-in attempts {what}; try again in {seconds} seconds.",
            headers={"Retry-After": str(seconds)},
            retry_after=seconds,
        )


class SignInRefused(AuthProblem):
    """A sign-in attempt that was checked and refused (the attempt itself is kept)."""

    status = 401
    code = "invalid_credentials"


class InvalidCredentials(SignInRefused):
    def __init__(self) -> None:
        super().__init__("The user name or password is not correct.", headers=BEARER_CHALLENGE)


class AccountLocked(SignInRefused):
    code = "account_locked"

    def __init__(self, retry_after: float, failures: int) -> None:
        seconds = max(1, math.ceil(retry_after))
        minutes = math.ceil(seconds / 60)
        super().__init__(
            f"This account is locked after {failures} failed sign-ins in a row; try again "
            f"in {minutes} minute{'s' if minutes != 1 else ''} or ask an administrator to "
            "unlock it.",
            headers={"Retry-After": str(seconds), **BEARER_CHALLENGE},
            retry_after=seconds,
        )


class AccountDisabled(SignInRefused):
    status = 403
    code = "account_disabled"

    def __init__(self) -> None:
        super().__init__("This account is disabled; ask an administrator.")


async def _on_auth_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthProblem)
    return problem(exc.status, exc.code, exc.message, details=exc.details, headers=exc.headers)


def install_auth_handlers(app: FastAPI) -> None:
    """Render security errors with their headers (after ``install_problem_handlers``)."""
    app.add_exception_handler(AuthProblem, _on_auth_problem)
