"""The principal: who is calling, with what role, team, agency and permissions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from arrears.auth.audit import Actor
from arrears.auth.models import User
from arrears.auth.roles import Permission, Role, permissions_of


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in user as the routes and services see them."""

    user_id: int
    username: str
    role: Role
    team: str | None = None
    agency: str | None = None
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    approval_limit: int | None = None
    # An administrator issued a one-time password: nothing is allowed until it is changed.
    must_change_password: bool = False
    session_id: int | None = None
    via: Literal["bearer", "cookie", "internal"] = "internal"
    ip: str | None = None

    @classmethod
    def of(
        cls,
        user: User,
        *,
        session_id: int | None = None,
        via: Literal["bearer", "cookie", "internal"] = "internal",
        ip: str | None = None,
    ) -> Principal:
        """The principal of ``user``, its permissions from the role table."""
        role = Role(user.role)
        return cls(
            user_id=user.id,
            username=user.username,
            role=role,
            team=user.team,
            agency=user.agency,
            permissions=frozenset() if user.must_change_password else permissions_of(role),
            approval_limit=user.approval_limit,
            must_change_password=user.must_change_password,
            session_id=session_id,
            via=via,
            ip=ip,
        )

    def can(self, permission: Permission) -> bool:
        """Whether the principal holds ``permission``."""
        return permission in self.permissions

    @property
    def actor(self) -> Actor:
        """Who the audit trail names for this principal's actions."""
        return Actor(self.username, self.role.value, self.ip)
