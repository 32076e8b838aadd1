"""Shared fixtures: a migrated database on SQLite and, when configured, on PostgreSQL.

Tests that take ``engine`` or ``db_session`` run once per database. PostgreSQL runs when
``ARREARS_TEST_POSTGRES_URL`` is set (CI always sets it); otherwise those runs skip and say
so.

``auth_client`` is a client of the whole app signed in as an administrator; ``sign_in``
gives a bearer token for a new user of any role.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from arrears.auth import passwords
from arrears.kit import db as kit_db
from arrears.kit.migrate import upgrade
from arrears.models import metadata
from tests.factories import bearer_token

POSTGRES_URL = os.environ.get("ARREARS_TEST_POSTGRES_URL", "")
DATABASES = ["sqlite", "postgresql"]


def reset_postgres(url: str) -> Engine:
    """Empty the PostgreSQL test database and migrate it to head."""
    engine = kit_db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    return engine


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = kit_db.make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set ARREARS_TEST_POSTGRES_URL to run this on it")
    engine = reset_postgres(POSTGRES_URL)
    yield engine
    engine.dispose()


def _truncate_postgres(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=DATABASES)
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Engine]:
    """A migrated, empty database; also made the process-wide engine for the test."""
    if request.param == "sqlite":
        path = tmp_path / "arrears.db"
        shutil.copy(sqlite_template, path)
        eng = kit_db.make_engine(f"sqlite:///{path}")
    else:
        eng = request.getfixturevalue("postgres_engine")
        _truncate_postgres(eng)
    previous = (kit_db._engine, kit_db._factory)
    kit_db.set_engine(eng)
    try:
        yield eng
    finally:
        kit_db._engine, kit_db._factory = previous
        if request.param == "sqlite":
            eng.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session on ``engine``; the test decides when to commit."""
    session = sessionmaker(bind=engine, expire_on_commit=False)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


# --- signed-in clients ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with minimal cost: the same code path, a thousand times faster."""
    monkeypatch.setattr(
        passwords, "hasher", PasswordHash((Argon2Hasher(time_cost=1, memory_cost=64),))
    )
    monkeypatch.setattr(passwords, "_DUMMY_HASH", None)


@pytest.fixture
def sign_in(engine: Engine) -> Callable[..., dict[str, str]]:
    """``sign_in("li.na", "collector")``: the Authorization header of a new user's token."""

    def headers(username: str, role: str = "admin", **user: object) -> dict[str, str]:
        return {"Authorization": f"Bearer {bearer_token(engine, username, role, **user)}"}

    return headers


@pytest.fixture
def auth_client(engine: Engine) -> Iterator[TestClient]:
    """A client of the whole app, signed in as an administrator with a bearer token."""
    from arrears.app import create_app

    token = bearer_token(engine, "test.admin", "admin")
    with TestClient(create_app(), headers={"Authorization": f"Bearer {token}"}) as client:
        yield client
