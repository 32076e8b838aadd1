"""Fixtures for the security tests: a clock, users, an API client (cheap password hashing
comes from ``tests/conftest.py`` for every test)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from arrears.auth import crypto, service
from arrears.auth.api import router
from arrears.auth.deps import get_clock
from arrears.auth.errors import install_auth_handlers
from arrears.auth.models import User
from arrears.auth.settings import get_auth_settings
from arrears.kit.db import unit_of_work
from arrears.kit.http import install_problem_handlers

# Meets the policy; used for every test user unless a test says otherwise.
PASSWORD = "Quiet-Harbour-Lantern-42"


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Security settings and keys re-read for each test, from a clean environment."""
    for name in (
        "ARREARS_TOKEN_MINUTES",
        "ARREARS_SESSION_MINUTES",
        "ARREARS_DATA_KEYS",
        "ARREARS_BLIND_INDEX_KEY",
        "ARREARS_TLS",
        "ARREARS_CORS_ORIGINS",
    ):
        monkeypatch.delenv(name, raising=False)
    get_auth_settings.cache_clear()
    crypto.get_keyring.cache_clear()
    yield
    get_auth_settings.cache_clear()
    crypto.get_keyring.cache_clear()


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def make_user(db_session: Session, username: str, role: str = "collector", **kwargs: Any) -> User:
    kwargs.setdefault("password", PASSWORD)
    if role == "agency":
        kwargs.setdefault("agency", "Acme Recoveries")
    return service.create_user(db_session=db_session, username=username, role=role, **kwargs)


def add_users(engine: Engine, *specs: tuple[str, str] | tuple[str, str, dict[str, Any]]) -> None:
    """Create and commit users: ``("li.na", "manager")`` or with keyword arguments."""
    with unit_of_work(engine) as session:
        for spec in specs:
            extra: dict[str, Any] = spec[2] if len(spec) == 3 else {}  # type: ignore[misc]
            make_user(session, spec[0], spec[1], **extra)


@dataclass
class Api:
    """A test client over the security routes, with helpers to sign in."""

    client: TestClient
    clock: FakeClock
    guard: service.SignInGuard

    def token(self, username: str, password: str = PASSWORD) -> str:
        response = self.client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def headers(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username, password)}"}


def build_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_auth_handlers(app)
    app.include_router(router, prefix="/api/v1")
    return app


@pytest.fixture
def api(engine: Engine, clock: FakeClock) -> Iterator[Api]:
    app = build_app()
    guard = service.SignInGuard(per_minute=10)
    app.dependency_overrides[get_clock] = lambda: clock
    app.dependency_overrides[service.get_sign_in_guard] = lambda: guard
    with TestClient(app) as client:
        yield Api(client, clock, guard)
