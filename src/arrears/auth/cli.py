"""``arrears user``, ``arrears keys`` and ``arrears audit`` commands."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from arrears.kit.errors import ArrearsError

if TYPE_CHECKING:
    from arrears.auth.audit import Actor

user_app = typer.Typer(help="Users: create, list, disable, reset passwords.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys of personal data.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)

console = Console()
err_console = Console(stderr=True)


def _fail(error: ArrearsError) -> typer.Exit:
    err_console.print(f"[bold red]error[/] [dim]({error.code})[/]: {error.message}")
    return typer.Exit(code=1)


# Whoever runs the CLI holds the database credentials: they act as an administrator.
OPERATOR_ROLE = "admin"


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except Exception:  # no login name (containers): still say it came from the CLI
        return "cli"


def operator_actor() -> AbstractContextManager[Actor]:
    """Attribute the audit entries written inside the block to the operator at the terminal."""
    from arrears.auth.audit import audit_actor

    return audit_actor(_operator(), OPERATOR_ROLE)


@contextmanager
def _transaction() -> Iterator[Session]:
    """One unit of work whose audit entries name the operator at the terminal."""
    from arrears.kit.db import unit_of_work

    with operator_actor(), unit_of_work() as session:
        yield session


def _read_password() -> str:
    text = sys.stdin.readline().rstrip("\r\n")
    if not text:
        raise typer.BadParameter("no password on standard input", param_hint="--password-stdin")
    return text


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="User name (lower case).")],
    role: Annotated[str, typer.Option(help="admin, manager, collector, field_agent, ...")],
    team: Annotated[str | None, typer.Option(help="Team the user works in.")] = None,
    agency: Annotated[str | None, typer.Option(help="Agency (agency users only).")] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown in the console.")] = None,
    approval_limit: Annotated[
        str | None, typer.Option(help="Largest amount the user may approve, e.g. 50000.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user. Without --password-stdin a one-time password is generated and printed."""
    from arrears.auth import passwords, service
    from arrears.kit.money import parse_amount, to_minor
    from arrears.kit.settings import get_settings

    password = _read_password() if password_stdin else passwords.generate_password(name.lower())
    try:
        limit = (
            None
            if approval_limit is None
            else to_minor(
                parse_amount(approval_limit, field="approval limit"),
                get_settings().default_currency,
                field="approval limit",
            )
        )
        with _transaction() as session:
            user = service.create_user(
                db_session=session,
                username=name,
                password=password,
                role=role,
                display_name=display_name,
                team=team,
                agency=agency,
                approval_limit=limit,
                must_change_password=not password_stdin,
            )
            username, user_role = user.username, user.role
    except ArrearsError as exc:
        raise _fail(exc) from None
    console.print(f"user {username} created with role {user_role}")
    if not password_stdin:
        console.print(f"one-time password (must be changed at first sign-in): {password}")


@user_app.command("list")
def user_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the users."""
    from arrears.auth import service

    with _transaction() as session:
        rows = [
            {
                "username": u.username,
                "display_name": u.display_name,
                "role": u.role,
                "team": u.team,
                "agency": u.agency,
                "active": u.active,
                "locked_until": u.locked_until.isoformat() if u.locked_until else None,
            }
            for u in service.list_users(db_session=session)
        ]
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("user", "name", "role", "team", "agency", "active", "locked until")
    for row in rows:
        table.add_row(
            str(row["username"]),
            str(row["display_name"]),
            str(row["role"]),
            str(row["team"] or ""),
            str(row["agency"] or ""),
            "yes" if row["active"] else "no",
            str(row["locked_until"] or ""),
        )
    console.print(table)


@user_app.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Disable a user: sign-in refused, open sessions ended."""
    from arrears.auth import service

    try:
        with _transaction() as session:
            service.disable_user(db_session=session, username=name)
    except ArrearsError as exc:
        raise _fail(exc) from None
    console.print(f"user {name} disabled")


@user_app.command("unlock")
def user_unlock(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Lift a sign-in lockout."""
    from arrears.auth import service

    try:
        with _transaction() as session:
            service.unlock_user(db_session=session, username=name)
    except ArrearsError as exc:
        raise _fail(exc) from None
    console.print(f"user {name} unlocked")


@user_app.command("reset-password")
def user_reset_password(
    name: Annotated[str, typer.Argument(help="User name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input.")
    ] = False,
) -> None:
    """Set a new password; without --password-stdin print a one-time password."""
    from arrears.auth import service

    password = _read_password() if password_stdin else None
    try:
        with _transaction() as session:
            _, generated = service.reset_password(
                db_session=session, username=name, password=password
            )
    except ArrearsError as exc:
        raise _fail(exc) from None
    console.print(f"password of {name} reset; their sessions have ended")
    if generated:
        console.print(f"one-time password (must be changed at first sign-in): {generated}")


@keys_app.command("rotate")
def keys_rotate(
    chunk_size: Annotated[int, typer.Option(min=1, help="Rows re-encrypted per statement.")] = 1000,
) -> None:
    """Re-encrypt every encrypted column with the active key (the first of ARREARS_DATA_KEYS)."""
    from arrears.auth import crypto

    with _transaction() as session:
        report = crypto.rotate(db_session=session, chunk_size=chunk_size)
    for column, count in report.reencrypted.items():
        console.print(f"{column}: {count} values re-encrypted")
    console.print(
        f"{report.total} values now use key '{report.active_key}'"
        if report.reencrypted
        else "no encrypted columns"
    )


@keys_app.command("new")
def keys_new(
    key_id: Annotated[str, typer.Argument(help="Id of the new key, e.g. 2026-12.")],
) -> None:
    """Print a fresh key as keyid:base64key, to put first in ARREARS_DATA_KEYS."""
    from arrears.auth import crypto

    if crypto.key_id_of(f"{crypto.FORMAT}:{key_id}:x") is None:
        raise typer.BadParameter("a key id is 1-32 letters, digits or dashes", param_hint="KEY_ID")
    sys.stdout.write(f"{key_id}:{crypto.new_key()}\n")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain; exits non-zero naming the first entry that breaks it."""
    from arrears.auth import audit

    with _transaction() as session:
        result = audit.verify(db_session=session)
    if result.ok:
        console.print(f"audit trail intact: {result.checked} entries, head hash {result.head_hash}")
        return
    err_console.print(
        f"[bold red]audit trail broken[/] at entry {result.first_broken_id}: {result.reason} "
        f"({result.checked} entries before it are intact)"
    )
    raise typer.Exit(code=2)
