"""Roles and permissions: the one table that says which role may do what.

``docs/security.md`` shows this table; ``permissions_table_markdown()`` renders it and a
test keeps the two equal, so change the table here and paste the output there.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a user is in the collections operation."""

    ADMIN = "admin"
    MANAGER = "manager"
    COLLECTOR = "collector"
    FIELD_AGENT = "field_agent"
    LEGAL = "legal"
    ANALYST = "analyst"
    AUDITOR = "auditor"
    AGENCY = "agency"


class Permission(StrEnum):
    """One thing a route lets a caller do: ``<area>:<verb>``."""

    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    CUSTOMERS_REVEAL = "customers:reveal"
    LOANS_READ = "loans:read"
    LOANS_WRITE = "loans:write"
    PRODUCTS_READ = "products:read"
    PRODUCTS_WRITE = "products:write"
    PAYMENTS_READ = "payments:read"
    PAYMENTS_WRITE = "payments:write"
    PAYMENTS_REVERSE = "payments:reverse"
    IMPORTS_RUN = "imports:run"
    EXPORTS_RUN = "exports:run"
    AUDIT_READ = "audit:read"
    USERS_MANAGE = "users:manage"
    APPROVALS_READ = "approvals:read"
    APPROVALS_REQUEST = "approvals:request"
    APPROVALS_DECIDE = "approvals:decide"
    SCHEDULE_PREVIEW = "schedule:preview"
    EOD_RUN = "eod:run"
    EOD_READ = "eod:read"
    HOLDS_WRITE = "holds:write"
    ANALYTICS_READ = "analytics:read"


ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.ADMIN: "runs the system: users, keys, everything",
    Role.MANAGER: "runs collections: products, imports, the daily run; approves",
    Role.COLLECTOR: "phone collector: works the cases assigned to them",
    Role.FIELD_AGENT: "field collector: visits the borrowers of their cases",
    Role.LEGAL: "legal officer: the cases referred to legal",
    Role.ANALYST: "risk analyst: reads the whole portfolio, runs exports (masked)",
    Role.AUDITOR: "auditor / compliance: reads everything and the audit trail",
    Role.AGENCY: "external agency: reads only the cases placed with it",
}

P = Permission
_READ_BOOK = frozenset({P.CUSTOMERS_READ, P.LOANS_READ, P.PAYMENTS_READ, P.PRODUCTS_READ})

# The table. Collectors never post or reverse payments: payments come from core banking.
# Agencies are external, so they never see unmasked personal data (no customers:reveal).
# Collectors and legal officers place dispute and legal holds on the loans they work.
# Portfolio figures (analytics:read) are for those who see the whole portfolio.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MANAGER: frozenset(Permission) - {P.USERS_MANAGE, P.AUDIT_READ},
    Role.COLLECTOR: _READ_BOOK
    | {
        P.CUSTOMERS_REVEAL,
        P.SCHEDULE_PREVIEW,
        P.APPROVALS_READ,
        P.APPROVALS_REQUEST,
        P.HOLDS_WRITE,
    },
    Role.FIELD_AGENT: _READ_BOOK | {P.CUSTOMERS_REVEAL, P.APPROVALS_READ, P.APPROVALS_REQUEST},
    Role.LEGAL: _READ_BOOK
    | {
        P.CUSTOMERS_REVEAL,
        P.SCHEDULE_PREVIEW,
        P.EOD_READ,
        P.APPROVALS_READ,
        P.APPROVALS_REQUEST,
        P.HOLDS_WRITE,
    },
    Role.ANALYST: _READ_BOOK | {P.SCHEDULE_PREVIEW, P.EOD_READ, P.EXPORTS_RUN, P.ANALYTICS_READ},
    Role.AUDITOR: _READ_BOOK | {P.EOD_READ, P.AUDIT_READ, P.APPROVALS_READ, P.ANALYTICS_READ},
    Role.AGENCY: frozenset({P.CUSTOMERS_READ, P.LOANS_READ, P.PAYMENTS_READ}),
}


def permissions_of(role: Role | str) -> frozenset[Permission]:
    """The permissions a role grants; none for an unknown role."""
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def permissions_table_markdown() -> str:
    """The role table as Markdown: one row per permission, one column per role."""
    roles = list(Role)
    lines = [
        "| permission | " + " | ".join(role.value for role in roles) + " |",
        "|---|" + "|".join(":-:" for _ in roles) + "|",
    ]
    for permission in Permission:
        marks = ["✓" if permission in ROLE_PERMISSIONS[role] else "" for role in roles]
        lines.append(f"| `{permission.value}` | " + " | ".join(marks) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - prints the table for docs/security.md
    print(permissions_table_markdown(), end="")
