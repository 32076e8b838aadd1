"""The user, keys and audit commands."""

from __future__ import annotations

import base64
import json

import pytest
import typer
from sqlalchemy import select, text
from typer.testing import CliRunner

from arrears.auth import passwords, service
from arrears.auth.cli import audit_app, keys_app, user_app
from arrears.auth.models import AuditEntry, User
from arrears.kit.db import unit_of_work

from .conftest import PASSWORD

runner = CliRunner()


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(user_app, name="user")
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    return app


def user_named(engine, name):
    with unit_of_work(engine) as session:
        return service.get_by_username(db_session=session, username=name)


def test_create_a_user_with_a_password_from_stdin(cli, engine):
    result = runner.invoke(
        cli,
        ["user", "create", "li.na", "--role", "collector", "--team", "Team A", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    user = user_named(engine, "li.na")
    assert (user.role, user.team, user.must_change_password) == ("collector", "Team A", False)
    assert passwords.verify_password(PASSWORD, user.password_hash)[0]


def test_create_without_stdin_prints_a_one_time_password(cli, engine):
    result = runner.invoke(
        cli, ["user", "create", "zhou.min", "--role", "manager", "--approval-limit", "50000"]
    )
    assert result.exit_code == 0, result.output
    one_time = result.output.split("first sign-in): ")[1].strip()
    user = user_named(engine, "zhou.min")
    assert user.must_change_password
    assert user.approval_limit == 5_000_000
    assert passwords.verify_password(one_time, user.password_hash)[0]


def test_creating_with_a_weak_password_fails_with_the_reason(cli, engine):
    result = runner.invoke(
        cli,
        ["user", "create", "li.na", "--role", "collector", "--password-stdin"],
        input="password123456\n",
    )
    assert result.exit_code == 1
    assert "weak_password" in result.output
    assert user_named(engine, "li.na") is None


def test_creating_an_agency_user_needs_the_agency(cli):
    result = runner.invoke(
        cli,
        ["user", "create", "acme.one", "--role", "agency", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 1
    assert "agency_needed" in result.output


def test_the_cli_operator_is_named_in_the_audit_trail(cli, engine):
    runner.invoke(
        cli,
        ["user", "create", "li.na", "--role", "collector", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    with unit_of_work(engine) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.create")).one()
    assert entry.actor.startswith("cli")


def test_list_users_as_json(cli, engine):
    for name, role in (("li.na", "collector"), ("wang.fang", "auditor")):
        runner.invoke(
            cli, ["user", "create", name, "--role", role, "--password-stdin"], input=PASSWORD + "\n"
        )
    result = runner.invoke(cli, ["user", "list", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert [(r["username"], r["role"], r["active"]) for r in rows] == [
        ("li.na", "collector", True),
        ("wang.fang", "auditor", True),
    ]
    assert "password_hash" not in result.output


def test_disable_a_user(cli, engine):
    runner.invoke(
        cli,
        ["user", "create", "li.na", "--role", "collector", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    result = runner.invoke(cli, ["user", "disable", "li.na"])
    assert result.exit_code == 0
    assert user_named(engine, "li.na").active is False
    missing = runner.invoke(cli, ["user", "disable", "nobody"])
    assert missing.exit_code == 1
    assert "user_not_found" in missing.output


def test_reset_password_generates_a_one_time_password(cli, engine):
    runner.invoke(
        cli,
        ["user", "create", "li.na", "--role", "collector", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    result = runner.invoke(cli, ["user", "reset-password", "li.na"])
    assert result.exit_code == 0, result.output
    one_time = result.output.split("first sign-in): ")[1].strip()
    user = user_named(engine, "li.na")
    assert user.must_change_password
    assert passwords.verify_password(one_time, user.password_hash)[0]
    assert not passwords.verify_password(PASSWORD, user.password_hash)[0]


def test_reset_password_from_stdin(cli, engine):
    runner.invoke(
        cli,
        ["user", "create", "li.na", "--role", "collector", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    new = "Another-Quiet-Harbour-7"
    result = runner.invoke(cli, ["user", "reset-password", "li.na", "--password-stdin"], input=new)
    assert result.exit_code == 0, result.output
    assert new not in result.output
    user = user_named(engine, "li.na")
    assert passwords.verify_password(new, user.password_hash)[0]
    assert not user.must_change_password


def test_keys_rotate_reports_what_it_did(cli, engine):
    result = runner.invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 0, result.output


def test_audit_verify_exits_0_when_intact(cli, engine):
    runner.invoke(
        cli,
        ["user", "create", "li.na", "--role", "collector", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    result = runner.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0
    assert "intact: 1 entries" in result.output


def test_audit_verify_names_the_first_broken_entry(cli, engine):
    for name in ("li.na", "wang.fang", "zhou.min"):
        runner.invoke(
            cli,
            ["user", "create", name, "--role", "collector", "--password-stdin"],
            input=PASSWORD + "\n",
        )
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        second = connection.execute(text("SELECT id FROM audit_log ORDER BY id")).scalars().all()[1]
        connection.execute(
            text("UPDATE audit_log SET actor = 'nobody' WHERE id = :id"), {"id": second}
        )
    result = runner.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 2
    assert f"at entry {second}" in result.output


def test_user_rows_never_hold_a_password_in_clear(engine, cli):
    runner.invoke(
        cli,
        ["user", "create", "li.na", "--role", "collector", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    with unit_of_work(engine) as session:
        stored = session.scalars(select(User.password_hash)).one()
    assert PASSWORD not in stored


def test_keys_new_prints_a_key_for_the_environment(cli):
    result = runner.invoke(cli, ["keys", "new", "2026-12"])
    assert result.exit_code == 0
    key_id, _, key = result.output.strip().partition(":")
    assert key_id == "2026-12"
    assert len(base64.b64decode(key)) == 32
    assert runner.invoke(cli, ["keys", "new", "bad id"]).exit_code != 0
