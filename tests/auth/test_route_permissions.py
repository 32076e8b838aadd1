"""Every route of the app declares who may call it, and every role gets exactly that.

The walk covers the routes of ``create_app()`` as they are, so a route added later is
checked without a new test: each is called with a minimal request (placeholder path
values, a body no route accepts) and only the 401/403 answer is judged. A 404 or 422 from
an allowed role proves the permission check let it through.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from arrears.app import create_app
from arrears.auth import service
from arrears.auth.deps import (
    api_routes,
    permission_map,
    route_permission,
    routes_table_markdown,
    undeclared_routes,
)
from arrears.auth.models import SessionKind
from arrears.auth.roles import ROLE_PERMISSIONS, Permission, Role
from arrears.kit.db import unit_of_work

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
BODY_METHODS = {"POST", "PUT", "PATCH"}
# Path values that satisfy the path parameters' types; records they name do not exist.
PATH_VALUES = {"kind": "customers"}


def test_every_route_declares_who_may_call_it():
    assert undeclared_routes(create_app().routes) == []


def test_only_health_and_signing_in_are_public():
    public = [
        label for label, found in permission_map(create_app().routes).items() if found == "public"
    ]
    assert public == [
        "GET /api/v1/health",
        "POST /api/v1/auth/token",
        "POST /api/v1/auth/session",
    ]


def test_the_route_table_in_the_docs_is_the_apps():
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- routes-table:start -->\n") + len("<!-- routes-table:start -->\n")
    end = text.index("<!-- routes-table:end -->")
    assert text[start:end] == routes_table_markdown(create_app().routes), (
        "docs/security.md is out of date: paste the output of "
        "`python -m arrears.auth.deps` between the routes-table markers"
    )


# --- calling every route as every role --------------------------------------------------


def probe_path(path: str) -> str:
    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", lambda m: PATH_VALUES.get(m[1], "1"), path)


def call(client: TestClient, method: str, path: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # a JSON array is valid JSON that no route takes as its body
    body: dict[str, Any] = {"json": []} if method in BODY_METHODS else {}
    return client.request(method, probe_path(path), headers=headers, **body)


def endpoints() -> list[tuple[str, str, Permission | str]]:
    found = []
    for route in api_routes(create_app().routes):
        declaration = route_permission(route)
        assert declaration is not None
        for method in sorted(route.methods or ()):
            found.append((method, route.path, declaration))
    return found


def fresh_token(engine: Engine, username: str) -> str:
    with unit_of_work(engine) as session:
        user = service.get_by_username_or_raise(db_session=session, username=username)
        return service.start_session(
            db_session=session, user=user, kind=SessionKind.BEARER
        ).issued.token


@pytest.fixture
def walk(engine: Engine) -> Iterator[tuple[TestClient, dict[Role, str]]]:
    """The app, with the demo users of every role signed in through the API once."""
    with unit_of_work(engine) as session:
        users = service.create_demo_users(session)
    app = create_app()
    app.dependency_overrides[service.get_sign_in_guard] = lambda: service.SignInGuard(100)
    with TestClient(app, raise_server_exceptions=False) as client:
        for username, _, password in users:
            response = client.post(
                "/api/v1/auth/token", data={"username": username, "password": password}
            )
            assert response.status_code == 200, response.text
        yield client, {Role(role): username for username, role, _ in users}


def test_every_role_passes_exactly_the_permission_checks_its_role_grants(walk, engine):
    client, usernames = walk
    wrong = []
    for method, path, declaration in endpoints():
        for role, username in usernames.items():
            # a fresh session each time: some routes (sign-out) end the one they are called with
            response = call(client, method, path, fresh_token(engine, username))
            if isinstance(declaration, Permission) and declaration not in ROLE_PERMISSIONS[role]:
                ok = response.status_code == 403
                ok = ok and response.json().get("required") == declaration.value
            else:
                ok = response.status_code not in (401, 403) and response.status_code < 500
            if not ok:
                wrong.append(f"{role.value} {method} {path} -> {response.status_code}")
    assert wrong == []


def test_without_a_token_only_the_public_routes_answer(walk):
    client, _ = walk
    wrong = []
    for method, path, declaration in endpoints():
        response = call(client, method, path, None)
        if declaration == "public":
            ok = response.status_code not in (401, 403) and response.status_code < 500
        else:
            ok = response.status_code == 401 and response.json()["code"] == "not_authenticated"
            ok = ok and response.headers.get("www-authenticate") == "Bearer"
        if not ok:
            wrong.append(f"{method} {path} -> {response.status_code}")
    assert wrong == []


def test_a_revoked_token_opens_nothing(walk, engine):
    client, usernames = walk
    token = fresh_token(engine, usernames[Role.ADMIN])
    assert call(client, "POST", "/api/v1/auth/logout", token).status_code == 204
    for method, path, declaration in endpoints():
        if declaration != "public":
            assert call(client, method, path, token).status_code == 401, (method, path)
