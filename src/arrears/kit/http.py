"""HTTP plumbing: one transaction per request, RFC 9457 problem responses, API field types.

Every error leaves the API as ``application/problem+json``::

    {"type": "https://arrears.dev/problems/loan_not_found", "title": "Loan not found",
     "status": 404, "detail": "there is no loan with reference 'L9'", "code": "loan_not_found"}

plus any details the error carries (``errors`` for invalid input, ``current_version`` for a
stale write, ...). Stack traces never leave the server; they go to the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrears.kit.db import unit_of_work
from arrears.kit.errors import ArrearsError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://arrears.dev/problems/"
INTERNAL_ERROR_SENTENCE = (
    "Something went wrong on our side. The error has been logged; please try again, "
    "and contact support if it keeps happening."
)


# --- one transaction per request ------------------------------------------------------


def get_db_session() -> Iterator[Session]:
    """A session whose transaction commits when the request succeeds and rolls back if not."""
    with unit_of_work() as session:
        yield session


# scope="function": the commit happens before the response is sent, so a failed commit
# (a stale version, a unique violation) still reaches the client as a problem.
DbSession = Annotated[Session, Depends(get_db_session, scope="function")]


# --- API field types ------------------------------------------------------------------

# Far beyond any loan, and inside 64-bit minor units even for 4-decimal currencies.
MAX_AMOUNT = Decimal("99999999999999")
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)


def _plausible_date(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(
            f"date must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"
        )
    return value


def _plain(value: Decimal) -> Decimal:
    # one spelling per rate ("4.90" and "4.9" are the same rate), never exponent notation
    exact = value.normalize()
    exponent = exact.as_tuple().exponent
    return exact.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else exact


PositiveAmount = Annotated[
    Decimal,
    Field(
        gt=0,
        le=MAX_AMOUNT,
        allow_inf_nan=False,
        description='Money as a decimal string in major units, e.g. "3343.58".',
        examples=["3343.58"],
    ),
]
AnnualRate = Annotated[
    Decimal,
    Field(
        ge=0,
        le=1000,
        decimal_places=6,
        allow_inf_nan=False,
        description='Interest rate in percent per year: "4.9" means 4.9 %.',
        examples=["4.9"],
    ),
    AfterValidator(_plain),
]
BusinessDate = Annotated[
    date,
    AfterValidator(_plausible_date),
    Field(description="An ISO date (YYYY-MM-DD).", examples=["2024-02-15"]),
]
Reference = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$", examples=["L-2024-0001"]),
]


# --- problem responses ----------------------------------------------------------------


class Problem(BaseModel):
    """An RFC 9457 problem: a machine code and a sentence a person understands."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["https://arrears.dev/problems/loan_not_found"])
    title: str = Field(examples=["Loan not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["there is no loan with reference 'L9'"])
    code: str = Field(examples=["loan_not_found"])


class FieldProblem(BaseModel):
    """One invalid input: where it is and what is wrong with it."""

    field: str = Field(examples=["body.principal"])
    message: str = Field(examples=["must be greater than 0"])


class ValidationProblem(Problem):
    """A problem with the request's input, one entry per invalid field."""

    errors: list[FieldProblem]


_DESCRIPTIONS = {
    400: "The request cannot be understood.",
    401: "Not authenticated.",
    403: "Not allowed.",
    404: "Not found.",
    409: "Conflicts with the current state (duplicate, stale version, reused reference).",
    422: "The input is not valid.",
    500: "An unexpected error on the server.",
    503: "A dependency (the database) is unavailable.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problems a route can answer with."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model = ValidationProblem if status == 422 else Problem
        # the media type becomes problem+json in ``problem_openapi``
        out[status] = {
            "model": model,
            "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        }
    return out


def problem_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Declare every 4xx/5xx body as ``application/problem+json`` in an OpenAPI document.

    FastAPI writes declared models as ``application/json`` and adds its own 422 shape to
    routes that take input; both are rewritten to the problems this API really sends.
    """
    schemas = document.get("components", {}).get("schemas", {})
    validation_ref = "#/components/schemas/ValidationProblem"
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if str(status)[:1] not in ("4", "5"):
                    continue
                content = response.setdefault("content", {})
                schema = content.pop("application/json", {}).get("schema")
                if schema == {"$ref": "#/components/schemas/HTTPValidationError"}:
                    schema = {"$ref": validation_ref}
                    response["description"] = _DESCRIPTIONS[422]
                if schema is not None:
                    content.setdefault(PROBLEM_MEDIA_TYPE, {"schema": schema})
    if "ValidationProblem" not in schemas:
        _, definitions = models_json_schema(
            [(ValidationProblem, "serialization")], ref_template="#/components/schemas/{model}"
        )
        schemas.update(definitions.get("$defs", {}))
        document.setdefault("components", {})["schemas"] = schemas
    text = json.dumps(document.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and f'/schemas/{unused}"' not in text:
            del schemas[unused]
    return document


def title_of(code: str) -> str:
    """A short title for a problem code: ``loan_not_found`` → ``Loan not found``."""
    return code.replace("_", " ").strip().capitalize() or "Error"


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {}
    for key, value in (details or {}).items():
        body[key] = value
    # the standard members win over details of the same name
    body.update(
        type=PROBLEM_BASE + code,
        title=title_of(code),
        status=status,
        detail=detail,
        code=code,
    )
    ordered = {k: body[k] for k in ("type", "title", "status", "detail", "code")}
    ordered.update({k: v for k, v in body.items() if k not in ordered})
    return JSONResponse(
        jsonable_encoder(ordered),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers) if headers else None,
    )


def _field_path(location: Sequence[Any]) -> str:
    return ".".join(str(part) for part in location) or "body"


_READABLE = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "json_invalid": "is not valid JSON",
}


def field_problems(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's error entries as ``[{"field": "body.principal", "message": ...}]``."""
    out: list[dict[str, str]] = []
    for error in errors:
        kind = str(error.get("type", ""))
        location = list(error.get("loc", ()))
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        if kind == "json_invalid":
            # the location's tail is a character offset, not a field
            reason = (error.get("ctx") or {}).get("error")
            location = location[:1]
            message = f"is not valid JSON ({reason})" if reason else "is not valid JSON"
        elif kind in _READABLE:
            message = _READABLE[kind]
        out.append({"field": _field_path(location), "message": message})
    return out


def _sentence(problems: Sequence[Mapping[str, str]]) -> str:
    shown = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return f"The request is not valid: {shown}{more}."


async def _on_arrears_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ArrearsError)
    # some errors carry headers (WWW-Authenticate, Retry-After) for their response
    headers = getattr(exc, "headers", None)
    return problem(exc.status, exc.code, exc.message, details=exc.details, headers=headers)


async def _on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = field_problems(exc.errors())
    return problem(422, "validation_failed", _sentence(problems), details={"errors": problems})


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    code = getattr(exc, "code", None) or phrase.lower().replace(" ", "_").replace("-", "_")
    if status == 404:
        detail = f"There is nothing at {request.method} {request.url.path}."
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    elif isinstance(exc.detail, str) and exc.detail != phrase:
        detail = exc.detail
    else:
        detail = f"{phrase}."
    return problem(status, code, detail, headers=exc.headers)


async def _on_stale_data(request: Request, exc: Exception) -> JSONResponse:
    log.info("http.stale_version path=%s", request.url.path)
    return problem(
        409,
        "stale_version",
        "Someone else changed this record after you read it; reload it and try again.",
    )


async def _on_integrity_error(request: Request, exc: Exception) -> JSONResponse:
    log.info("http.integrity_conflict path=%s error=%s", request.url.path, exc)
    return problem(
        409,
        "conflict",
        "The change conflicts with existing data (a duplicate reference or a missing "
        "related record).",
    )


async def _on_data_error(request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value (out of range, too long, a NUL character): the input's
    # fault, since a value from the code would have been caught by its own checks.
    log.warning("http.data_error path=%s error=%s", request.url.path, exc)
    return problem(
        422,
        "invalid_value",
        "A value in the request is out of range or contains characters that cannot be stored.",
    )


async def _on_overflow(request: Request, exc: Exception) -> JSONResponse:
    # SQLite's driver refuses integers beyond 64 bits with a bare OverflowError, where
    # PostgreSQL raises a DataError; both mean a number in the request is too large.
    log.warning("http.overflow path=%s error=%s", request.url.path, exc)
    return problem(422, "invalid_value", "A number in the request is too large.")


class CatchAllMiddleware:
    """Turns any unhandled exception into a 500 problem without a stack trace; logs it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception:
            log.exception(
                "http.unhandled_error method=%s path=%s", scope.get("method"), scope.get("path")
            )
            if started:
                raise
            response = problem(500, "internal_error", INTERNAL_ERROR_SENTENCE)
            await response(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error of ``app`` as problem+json."""
    app.add_exception_handler(ArrearsError, _on_arrears_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(StaleDataError, _on_stale_data)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(DataError, _on_data_error)
    app.add_exception_handler(OverflowError, _on_overflow)
    app.add_middleware(CatchAllMiddleware)
