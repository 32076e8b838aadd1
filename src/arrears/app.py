"""The HTTP API: one FastAPI app built from each domain's router, everything under /api/v1.

Run it with ``uvicorn arrears.app:create_app --factory``.

Every route declares who may call it (``arrears.auth.deps``); a test walks them all.
Browsers of other origins are refused unless listed in ``ARREARS_CORS_ORIGINS``; every
answer carries security headers; request bodies are limited in size.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

import arrears
from arrears.analytics.api import router as analytics_router
from arrears.auth.api import router as auth_router
from arrears.auth.deps import Public
from arrears.auth.errors import install_auth_handlers
from arrears.auth.settings import get_auth_settings
from arrears.customers.api import router as customers_router
from arrears.delinquency.api import router as delinquency_router
from arrears.kit.db import get_engine
from arrears.kit.errors import ArrearsError
from arrears.kit.hardening import MIB, BodyLimitMiddleware, SecurityHeadersMiddleware
from arrears.kit.http import install_problem_handlers, problem_openapi, problem_responses
from arrears.kit.migrate import current_revision
from arrears.kit.settings import get_settings
from arrears.kit.spa import install_spa
from arrears.ledger.api import router as ledger_router
from arrears.loans.api import router as loans_router
from arrears.loans.imports_api import router as imports_router

API_PREFIX = "/api/v1"


class DatabaseHealth(BaseModel):
    reachable: bool
    dialect: str
    revision: str | None = Field(description="The Alembic revision the schema is at.")


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    version: str = Field(examples=[arrears.__version__])
    database: DatabaseHealth


class DatabaseUnavailable(ArrearsError):
    """The database cannot be reached."""

    status = 503
    code = "database_unavailable"


health_router = APIRouter(tags=["health"])


@health_router.get(
    "/health", response_model=Health, dependencies=[Public], responses=problem_responses(503)
)
def health() -> Health:
    """Whether the API can reach its database, and which schema revision that database has."""
    engine = get_engine()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(
            f"the database cannot be reached ({type(exc).__name__})"
        ) from None
    return Health(
        status="ok",
        version=arrears.__version__,
        database=DatabaseHealth(reachable=True, dialect=engine.dialect.name, revision=revision),
    )


def create_app() -> FastAPI:
    """A new arrears API application."""
    app = FastAPI(
        title="arrears",
        version=arrears.__version__,
        description=(
            "Loan delinquency and collections. Conventions (errors, paging, money, dates, "
            "optimistic locking) are described in docs/api.md."
        ),
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    install_spa(app)
    install_problem_handlers(app)
    install_auth_handlers(app)
    install_hardening(app)
    for router in (
        health_router,
        auth_router,
        customers_router,
        loans_router,
        ledger_router,
        delinquency_router,
        imports_router,
        analytics_router,
    ):
        app.include_router(router, prefix=API_PREFIX)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = problem_openapi(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def install_hardening(app: FastAPI) -> None:
    """Body size limits, cross-origin rules and security headers (added last: outermost)."""
    security = get_auth_settings()
    app.add_middleware(
        BodyLimitMiddleware,
        max_body=security.max_body_kb * 1024,
        max_upload=get_settings().max_upload_mb * MIB,
    )
    origins = security.cors_origin_list
    if origins:
        # a console served from elsewhere: its origins may call, with the session cookie
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token"],
            expose_headers=["Location", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware, hsts=security.tls)
