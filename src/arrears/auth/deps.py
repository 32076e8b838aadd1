"""Route declarations: who may call a route, as FastAPI dependencies.

Every route declares exactly one of:

- ``Require(Permission.X)``: signed in, with a role that grants X (403 otherwise)::

      @router.get("/customers")
      def list_customers(principal: CustomersRead, db_session: DbSession): ...

      @router.post("/eod", dependencies=[Depends(Require(Permission.EOD_RUN))])

- ``authenticated``: any signed-in user (``/auth/me``, sign-out).
- ``public``: no sign-in (health, the sign-in routes themselves).

A route walk (``undeclared_routes(app)``) finds the routes that declare none of them.

Credentials are a bearer token (``Authorization: Bearer ...``) or the console's session
cookie; a cookie-authenticated unsafe request (POST, PUT, PATCH, DELETE) must also send
the session's CSRF token as ``X-CSRF-Token``. Missing, unknown, expired or revoked
credentials answer 401 ``not_authenticated``; a missing permission 403 ``forbidden``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, OAuth2PasswordBearer

from arrears.auth import audit, tokens
from arrears.auth.errors import Forbidden, NotAuthenticated
from arrears.auth.principal import Principal
from arrears.auth.roles import Permission
from arrears.kit.db import utcnow
from arrears.kit.http import DbSession

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_URL = "/api/v1/auth/token"
Declaration = Permission | Literal["public", "authenticated"]

# Declared for OpenAPI (the docs' "Authorize" button); both are optional here and checked
# in ``current_principal``.
bearer_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)
cookie_scheme = APIKeyCookie(name=tokens.COOKIE_NAME, auto_error=False)


def get_clock() -> Callable[[], datetime]:
    """What time it is (a dependency tests override)."""
    return utcnow


Clock = Annotated[Callable[[], datetime], Depends(get_clock)]


def client_ip(request: Request) -> str | None:
    """The caller's address as the server sees it (behind a proxy: run with --proxy-headers)."""
    return request.client.host if request.client else None


def current_principal(
    request: Request,
    db_session: DbSession,
    clock: Clock,
    bearer: Annotated[str | None, Depends(bearer_scheme)] = None,
    cookie: Annotated[str | None, Depends(cookie_scheme)] = None,
) -> Principal:
    """The signed-in caller; 401 without valid credentials, 403 on a failed CSRF check."""
    if request.headers.get("Authorization") and not bearer:
        raise NotAuthenticated("The Authorization header must be 'Bearer <token>'.")
    token = bearer or cookie
    if not token:
        raise NotAuthenticated()
    found = tokens.resolve(db_session=db_session, token=token, now=clock())
    if found is None:
        raise NotAuthenticated("Your session has ended or the token is not valid; sign in again.")
    session, user = found
    via: Literal["bearer", "cookie"] = "bearer" if bearer else "cookie"
    if via == "cookie" and request.method not in SAFE_METHODS:
        presented = request.headers.get(tokens.CSRF_HEADER)
        if not tokens.csrf_matches(session, presented):
            raise Forbidden(
                f"This request was authenticated by the session cookie but did not carry its "
                f"CSRF token; send the token returned at sign-in as {tokens.CSRF_HEADER}.",
                code="csrf_failed",
            )
    principal = Principal.of(user, session_id=session.id, via=via, ip=client_ip(request))
    audit.set_session_actor(db_session, principal.actor)
    request.state.principal = principal
    return principal


def authenticated(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """Any signed-in user, whatever their role (even one who must change their password)."""
    return principal


def public() -> None:
    """Marks a route that needs no sign-in."""


Public: Any = Depends(public)


class Require:
    """A dependency granting the route to principals whose role has ``permission``."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(self, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.must_change_password:
            raise Forbidden(
                "Change your one-time password first (POST /api/v1/auth/password).",
                code="password_change_required",
            )
        if not principal.can(self.permission):
            raise Forbidden(
                f"Your role ({principal.role.value}) does not allow {self.permission.value}.",
                required=self.permission.value,
            )
        return principal

    def __repr__(self) -> str:
        return f"Require({self.permission.value!r})"


CurrentPrincipal = Annotated[Principal, Depends(authenticated)]
CustomersRead = Annotated[Principal, Depends(Require(Permission.CUSTOMERS_READ))]
CustomersWrite = Annotated[Principal, Depends(Require(Permission.CUSTOMERS_WRITE))]
CustomersReveal = Annotated[Principal, Depends(Require(Permission.CUSTOMERS_REVEAL))]
LoansRead = Annotated[Principal, Depends(Require(Permission.LOANS_READ))]
LoansWrite = Annotated[Principal, Depends(Require(Permission.LOANS_WRITE))]
ProductsRead = Annotated[Principal, Depends(Require(Permission.PRODUCTS_READ))]
ProductsWrite = Annotated[Principal, Depends(Require(Permission.PRODUCTS_WRITE))]
PaymentsRead = Annotated[Principal, Depends(Require(Permission.PAYMENTS_READ))]
PaymentsWrite = Annotated[Principal, Depends(Require(Permission.PAYMENTS_WRITE))]
PaymentsReverse = Annotated[Principal, Depends(Require(Permission.PAYMENTS_REVERSE))]
ImportsRun = Annotated[Principal, Depends(Require(Permission.IMPORTS_RUN))]
ExportsRun = Annotated[Principal, Depends(Require(Permission.EXPORTS_RUN))]
AuditRead = Annotated[Principal, Depends(Require(Permission.AUDIT_READ))]
UsersManage = Annotated[Principal, Depends(Require(Permission.USERS_MANAGE))]
ApprovalsRead = Annotated[Principal, Depends(Require(Permission.APPROVALS_READ))]
ApprovalsRequest = Annotated[Principal, Depends(Require(Permission.APPROVALS_REQUEST))]
ApprovalsDecide = Annotated[Principal, Depends(Require(Permission.APPROVALS_DECIDE))]
SchedulePreview = Annotated[Principal, Depends(Require(Permission.SCHEDULE_PREVIEW))]
EodRun = Annotated[Principal, Depends(Require(Permission.EOD_RUN))]
EodRead = Annotated[Principal, Depends(Require(Permission.EOD_READ))]
HoldsWrite = Annotated[Principal, Depends(Require(Permission.HOLDS_WRITE))]
AnalyticsRead = Annotated[Principal, Depends(Require(Permission.ANALYTICS_READ))]


# --- the route walk ---------------------------------------------------------------------


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def route_permissions(route: Any) -> list[Declaration]:
    """Every access declaration in a route's dependency tree, in declaration order."""
    found: list[Declaration] = []
    for call in _calls(route.dependant):
        if isinstance(call, Require):
            found.append(call.permission)
        elif call is public:
            found.append("public")
        elif call is authenticated:
            found.append("authenticated")
    return found


def route_permission(route: Any) -> Declaration | None:
    """What a route demands: a permission, ``"authenticated"``, ``"public"``, or None.

    ``route`` is an ``APIRoute`` (or FastAPI's view of one inside an included router). A
    permission wins over the weaker declarations; None means the route declares nothing,
    which the route-walk test refuses.
    """
    found = route_permissions(route)
    for declaration in found:
        if isinstance(declaration, Permission):
            return declaration
    if "authenticated" in found:
        return "authenticated"
    if "public" in found:
        return "public"
    return None


def api_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """The API routes of ``app.routes``, those of included routers too (with their prefix)."""
    iter_route_contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    if iter_route_contexts is None:  # FastAPI before lazily included routers
        yield from (route for route in routes if isinstance(route, APIRoute))
        return
    for context in iter_route_contexts(list(routes)):
        if isinstance(context.original_route, APIRoute):
            yield context


def _label(route: Any) -> str:
    return f"{','.join(sorted(route.methods or ()))} {route.path}"


def permission_map(routes: Iterable[Any]) -> dict[str, Declaration | None]:
    """``"GET /api/v1/customers" → declaration`` for every API route (of ``app.routes``)."""
    return {_label(route): route_permission(route) for route in api_routes(routes)}


def undeclared_routes(routes: Iterable[Any]) -> list[str]:
    """The API routes (of ``app.routes``) that declare neither a permission nor public."""
    return [label for label, found in permission_map(routes).items() if found is None]


def _shown(declaration: Declaration | None) -> str:
    if isinstance(declaration, Permission):
        return f"`{declaration.value}`"
    if declaration == "authenticated":
        return "any signed-in user"
    if declaration == "public":
        return "public (no sign-in)"
    return "**undeclared**"


def routes_table_markdown(routes: Iterable[Any]) -> str:
    """The route → permission table of ``app.routes`` as Markdown (for docs/security.md)."""
    lines = ["| route | who may call it |", "|---|---|"]
    for label, declaration in permission_map(routes).items():
        lines.append(f"| `{label}` | {_shown(declaration)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - prints the route table for docs/security.md
    # imported by name: run as __main__ this module's classes are not the routes' ones
    from arrears.app import create_app
    from arrears.auth.deps import routes_table_markdown as table

    print(table(create_app().routes), end="")
