"""The role table: what each role may do, and the copy of it in docs/security.md."""

from __future__ import annotations

from pathlib import Path

from arrears.auth.roles import ROLE_PERMISSIONS, Permission, Role, permissions_table_markdown

P = Permission
DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_every_role_has_a_row_in_the_table():
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_the_administrator_may_do_everything():
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)


def test_only_the_administrator_manages_users():
    assert [r for r, perms in ROLE_PERMISSIONS.items() if P.USERS_MANAGE in perms] == [Role.ADMIN]


def test_collectors_and_agencies_never_post_or_reverse_payments():
    for role in (Role.COLLECTOR, Role.FIELD_AGENT, Role.AGENCY, Role.LEGAL):
        assert not ROLE_PERMISSIONS[role] & {P.PAYMENTS_WRITE, P.PAYMENTS_REVERSE}


def test_agencies_only_read_and_never_see_unmasked_data():
    assert ROLE_PERMISSIONS[Role.AGENCY] == {P.CUSTOMERS_READ, P.LOANS_READ, P.PAYMENTS_READ}


def test_analysts_and_auditors_change_nothing():
    writes = {p for p in Permission if not p.value.endswith((":read", ":preview"))}
    assert ROLE_PERMISSIONS[Role.AUDITOR] & writes == set()
    assert ROLE_PERMISSIONS[Role.ANALYST] & writes == {P.EXPORTS_RUN}


def test_only_auditors_and_the_administrator_read_the_audit_trail():
    readers = {r for r, perms in ROLE_PERMISSIONS.items() if P.AUDIT_READ in perms}
    assert readers == {Role.ADMIN, Role.AUDITOR}


def test_managers_approve_and_collectors_ask():
    assert P.APPROVALS_DECIDE in ROLE_PERMISSIONS[Role.MANAGER]
    assert P.APPROVALS_REQUEST in ROLE_PERMISSIONS[Role.COLLECTOR]
    assert P.APPROVALS_DECIDE not in ROLE_PERMISSIONS[Role.COLLECTOR]


def test_the_table_in_the_docs_is_the_table_in_the_code():
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- roles-table:start -->\n") + len("<!-- roles-table:start -->\n")
    end = text.index("<!-- roles-table:end -->")
    assert text[start:end] == permissions_table_markdown(), (
        "docs/security.md is out of date: paste the output of "
        "`python -m arrears.auth.roles` between the roles-table markers"
    )
