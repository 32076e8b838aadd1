"""The route walk: every route declares a permission, sign-in, or that it is public."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI

from arrears.auth.deps import (
    CurrentPrincipal,
    CustomersRead,
    Public,
    Require,
    permission_map,
    route_permission,
    undeclared_routes,
)
from arrears.auth.principal import Principal
from arrears.auth.roles import Permission


def toy_app() -> FastAPI:
    app = FastAPI()
    guarded = APIRouter(dependencies=[Depends(Require(Permission.EOD_RUN))])

    @app.get("/health", dependencies=[Public])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/customers")
    def customers(principal: CustomersRead) -> list[str]:
        return []

    @app.post(
        "/payments/{ref}/reverse", dependencies=[Depends(Require(Permission.PAYMENTS_REVERSE))]
    )
    def reverse(ref: str) -> None:
        return None

    @app.get("/me")
    def me(principal: CurrentPrincipal) -> str:
        return principal.username

    @app.get("/loans")
    def loans(
        principal: Annotated[Principal, Depends(Require(Permission.LOANS_READ))],
    ) -> list[str]:
        return []

    @guarded.post("/eod")
    def run_eod() -> None:
        return None

    @app.get("/forgotten")
    def forgotten() -> str:
        return "nobody declared who may call this"

    app.include_router(guarded)
    return app


def test_each_route_tells_what_it_demands():
    assert permission_map(toy_app().routes) == {
        "GET /health": "public",
        "GET /customers": Permission.CUSTOMERS_READ,
        "POST /payments/{ref}/reverse": Permission.PAYMENTS_REVERSE,
        "GET /me": "authenticated",
        "GET /loans": Permission.LOANS_READ,
        "POST /eod": Permission.EOD_RUN,
        "GET /forgotten": None,
    }


def test_a_route_without_a_declaration_is_detected():
    assert undeclared_routes(toy_app().routes) == ["GET /forgotten"]


def test_the_security_routes_all_declare_themselves():
    from arrears.auth.api import router

    assert undeclared_routes(router.routes) == []
    assert (
        route_permission(next(r for r in router.routes if getattr(r, "path", "") == "/auth/token"))
        == "public"
    )


def test_routes_of_an_included_router_are_walked_with_their_prefix():
    from arrears.auth.api import router

    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    found = permission_map(app.routes)
    assert found["POST /api/v1/auth/token"] == "public"
    assert found["GET /api/v1/auth/me"] == "authenticated"
    assert found["GET /api/v1/audit"] == Permission.AUDIT_READ
    assert found["POST /api/v1/approvals/{request_id}/approve"] == Permission.APPROVALS_DECIDE
    assert undeclared_routes(app.routes) == []


def test_the_openapi_document_declares_the_sign_in_schemes():
    from arrears.kit.http import problem_openapi

    from .conftest import build_app

    document = problem_openapi(build_app().openapi())
    schemes = document["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert schemes["APIKeyCookie"]["name"] == "arrears_session"
    session_body = document["paths"]["/api/v1/auth/session"]["post"]["requestBody"]["content"]
    assert set(session_body) == {"application/json", "application/x-www-form-urlencoded"}
