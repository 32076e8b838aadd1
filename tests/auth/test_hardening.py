"""The app's outer defences: security headers, cross-origin rules, request size limits, the
demo users and the security commands of the ``arrears`` CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from arrears.app import create_app
from arrears.auth import passwords, service
from arrears.auth.models import User
from arrears.auth.roles import Role
from arrears.auth.settings import get_auth_settings
from arrears.cli import app as cli_app
from arrears.kit.db import unit_of_work
from arrears.kit.settings import get_settings
from arrears.kit.spa import CONTENT_SECURITY_POLICY

API = "/api/v1"


@pytest.fixture
def app_client(engine, monkeypatch) -> Iterator[TestClient]:
    """The app as built for the environment of the test (read when it is created)."""
    clients: list[TestClient] = []

    def build(**env: str) -> TestClient:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_auth_settings.cache_clear()
        get_settings.cache_clear()
        client = TestClient(create_app(), raise_server_exceptions=False)
        clients.append(client)
        return client.__enter__()

    yield build  # type: ignore[misc]
    for client in clients:
        client.__exit__(None, None, None)
    get_auth_settings.cache_clear()
    get_settings.cache_clear()


# --- headers ----------------------------------------------------------------------------


def test_api_answers_carry_security_headers_and_are_not_cached(app_client):
    client = app_client()
    for response in (client.get(f"{API}/health"), client.get(f"{API}/customers")):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] in ("no-referrer", "same-origin")
        assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in headers


def test_over_tls_answers_insist_on_https(app_client):
    response = app_client(ARREARS_TLS="true").get(f"{API}/health")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


def test_the_api_docs_may_load_swagger_ui(app_client):
    response = app_client().get("/docs")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in policy and "frame-ancestors 'none'" in policy


def test_the_console_keeps_its_own_policy(app_client, tmp_path: Path):
    (tmp_path / "index.html").write_text("<!doctype html><title>arrears</title>")
    response = app_client(ARREARS_WEB_DIST=str(tmp_path)).get("/customers/C1")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-cache"


def test_errors_keep_their_headers_and_get_the_security_headers(app_client):
    response = app_client().get(f"{API}/loans")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["x-content-type-options"] == "nosniff"


# --- cross-origin requests --------------------------------------------------------------


def test_other_origins_are_refused_unless_listed(app_client):
    closed = app_client().get(f"{API}/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in closed.headers
    client = app_client(ARREARS_CORS_ORIGINS="https://console.example")
    listed = client.options(
        f"{API}/customers",
        headers={
            "Origin": "https://console.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-CSRF-Token, Content-Type",
        },
    )
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == "https://console.example"
    assert listed.headers["access-control-allow-credentials"] == "true"
    other = client.get(f"{API}/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


# --- request size -----------------------------------------------------------------------


def test_a_body_above_the_limit_is_a_413_problem(app_client):
    client = app_client(ARREARS_MAX_BODY_KB="1")
    response = client.post(
        f"{API}/auth/session",
        content=json.dumps({"username": "x" * 2000, "password": "y"}),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "request_too_large" and body["limit_bytes"] == 1024
    assert "1 KiB" in body["detail"]


def test_a_streamed_body_without_a_length_is_cut_off_too(app_client):
    client = app_client(ARREARS_MAX_BODY_KB="1")

    def chunks() -> Iterator[bytes]:
        yield b'{"username": "'
        for _ in range(40):
            yield b"x" * 100
        yield b'", "password": "y"}'

    response = client.post(
        f"{API}/auth/session", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_uploads_have_their_own_larger_limit(app_client, sign_in):
    client = app_client(ARREARS_MAX_BODY_KB="1", ARREARS_MAX_UPLOAD_MB="1")
    headers = sign_in("test.admin")
    rows = "customer_ref,type,name,id_number,phone,email,address,city,province\n" + (
        "C1,individual,张三,,,,,北京,北京\n" * 200
    )
    small = client.post(
        f"{API}/imports/customers", files={"file": ("c.csv", rows.encode())}, headers=headers
    )
    assert small.status_code == 200, small.text  # above 1 KiB, below the upload limit
    big = client.post(
        f"{API}/imports/customers",
        files={"file": ("c.csv", b"x" * (3 * 1024 * 1024))},
        headers=headers,
    )
    assert big.status_code == 413 and big.json()["code"] == "request_too_large"


# --- demo users -------------------------------------------------------------------------


def test_demo_users_have_one_user_per_role_with_documented_passwords(engine):
    with unit_of_work(engine) as session:
        users = service.create_demo_users(session)
    assert [role for _, role, _ in users] == [role.value for role in Role]
    assert ("demo.admin", "admin", "demo-admin-2024!") in users
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text("utf-8")
    for username, role, password in users:
        assert passwords.policy_problems(password, username) == []
        assert f"| `{username}` |" in doc and f"`{password}` |" in doc
        with unit_of_work(engine) as session:
            user = service.authenticate(db_session=session, username=username, password=password)
            assert user.role == role and not user.must_change_password
    with unit_of_work(engine) as session:
        assert service.create_demo_users(session) == users  # idempotent
        assert session.scalar(select(func.count()).select_from(User)) == len(Role)
        agency = service.get_by_username(db_session=session, username="demo.agency")
        assert agency is not None and agency.agency


# --- the CLI ----------------------------------------------------------------------------


def test_the_security_commands_are_part_of_the_arrears_command(engine):
    runner = CliRunner()
    created = runner.invoke(
        cli_app,
        ["user", "create", "li.na", "--role", "collector", "--password-stdin"],
        input="Quiet-Harbour-Lantern-42\n",
    )
    assert created.exit_code == 0, created.output
    listed = runner.invoke(cli_app, ["user", "list", "--json"])
    assert [u["username"] for u in json.loads(listed.stdout)] == ["li.na"]
    assert runner.invoke(cli_app, ["keys", "new", "2027-01"]).exit_code == 0
    verified = runner.invoke(cli_app, ["audit", "verify"])
    assert verified.exit_code == 0 and "intact" in verified.output
