"""Users and sign-in: creating and managing users, checking passwords, lockout, rate limits."""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.auth import audit, passwords, tokens
from arrears.auth.audit import Actor
from arrears.auth.errors import (
    AccountDisabled,
    AccountLocked,
    InvalidCredentials,
    TooManyAttempts,
)
from arrears.auth.models import SessionKind, User
from arrears.auth.roles import Role
from arrears.auth.settings import get_auth_settings
from arrears.kit.db import utcnow
from arrears.kit.errors import Conflict, NotFound, ValidationFailed

log = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
ANONYMOUS = "anonymous"

# --- rate limiting ----------------------------------------------------------------------


class SlidingWindow:
    """At most ``limit`` hits per key in any ``window`` seconds (in process memory)."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float) -> float | None:
        """Count a hit for ``key``; when over the limit, count nothing and return the wait."""
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return hits[0] + self.window - now
            hits.append(now)
            if len(self._hits) > self.max_keys:
                self._forget_idle(now)
            return None

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window]
        for key in idle:
            del self._hits[key]

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


class SignInGuard:
    """Sign-in attempts per account and per client address, each in a sliding minute."""

    def __init__(self, per_minute: int | None = None) -> None:
        limit = per_minute or get_auth_settings().sign_in_attempts_per_minute
        self.per_account = SlidingWindow(limit, 60.0)
        self.per_ip = SlidingWindow(limit, 60.0)

    def check(self, *, username: str, ip: str | None, now: datetime) -> None:
        """Count an attempt; ``TooManyAttempts`` when the account or the address is over."""
        moment = now.timestamp()
        if ip:
            wait = self.per_ip.hit(ip, moment)
            if wait is not None:
                raise TooManyAttempts(wait, "from your address")
        wait = self.per_account.hit(normalise_username(username), moment)
        if wait is not None:
            raise TooManyAttempts(wait, "for this account")


_guard: SignInGuard | None = None


def get_sign_in_guard() -> SignInGuard:
    """The process-wide sign-in guard."""
    global _guard
    if _guard is None:
        _guard = SignInGuard()
    return _guard


# --- users ------------------------------------------------------------------------------


def normalise_username(username: str) -> str:
    """The stored form of a user name: trimmed, lower case."""
    return username.strip().lower()


def get_by_username(*, db_session: Session, username: str) -> User | None:
    """The user called ``username``, if any."""
    return db_session.scalar(select(User).where(User.username == normalise_username(username)))


def get_by_username_or_raise(*, db_session: Session, username: str) -> User:
    """The user called ``username``; ``NotFound`` otherwise."""
    user = get_by_username(db_session=db_session, username=username)
    if user is None:
        raise NotFound(f"there is no user '{username[:64]}'", code="user_not_found")
    return user


def list_users(*, db_session: Session) -> list[User]:
    """Every user, by user name."""
    return list(db_session.scalars(select(User).order_by(User.username)))


def _check_role(role: str, agency: str | None) -> Role:
    try:
        checked = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationFailed(
            f"'{role}' is not a role; roles are: {allowed}", code="invalid_role"
        ) from None
    if checked is Role.AGENCY and not agency:
        raise ValidationFailed("an agency user needs the agency it works for", code="agency_needed")
    if checked is not Role.AGENCY and agency:
        raise ValidationFailed("only agency users belong to an agency", code="agency_not_allowed")
    return checked


def _check_limit(approval_limit: int | None) -> None:
    if approval_limit is not None and approval_limit < 0:
        raise ValidationFailed("the approval limit cannot be negative", code="invalid_limit")


def create_user(
    *,
    db_session: Session,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    team: str | None = None,
    agency: str | None = None,
    approval_limit: int | None = None,
    must_change_password: bool = False,
) -> User:
    """Create a user; the password must satisfy the policy."""
    name = normalise_username(username)
    if not USERNAME_PATTERN.match(name):
        raise ValidationFailed(
            "a user name is 2-64 lower-case letters, digits, dots, dashes or underscores",
            code="invalid_username",
        )
    checked_role = _check_role(role, agency)
    _check_limit(approval_limit)
    if get_by_username(db_session=db_session, username=name) is not None:
        raise Conflict(f"user '{name}' already exists", code="user_exists")
    passwords.check_password_policy(password, name)
    user = User(
        username=name,
        display_name=(display_name or name).strip()[:200],
        role=checked_role.value,
        team=team or None,
        agency=agency or None,
        active=True,
        password_hash=passwords.hash_password(password),
        must_change_password=must_change_password,
        failed_attempts=0,
        approval_limit=approval_limit,
    )
    db_session.add(user)
    db_session.flush()
    return user


_UNSET: Any = object()


def update_user(
    *,
    db_session: Session,
    user: User,
    display_name: str | None = _UNSET,
    role: str | None = _UNSET,
    team: str | None = _UNSET,
    agency: str | None = _UNSET,
    approval_limit: int | None = _UNSET,
    active: bool | None = _UNSET,
) -> User:
    """Change the given fields of ``user``; disabling ends its sessions."""
    new_role = user.role if role is _UNSET or role is None else role
    new_agency = user.agency if agency is _UNSET else agency
    _check_role(new_role, new_agency)
    if approval_limit is not _UNSET:
        _check_limit(approval_limit)
        user.approval_limit = approval_limit
    if display_name is not _UNSET and display_name:
        user.display_name = display_name.strip()[:200]
    user.role = new_role
    user.agency = new_agency or None
    if team is not _UNSET:
        user.team = team or None
    if active is not _UNSET and active is not None and active != user.active:
        user.active = active
        if not active:
            tokens.revoke_all(db_session=db_session, user_id=user.id)
    db_session.flush()
    return user


def disable_user(*, db_session: Session, username: str) -> User:
    """Disable a user: no sign-in, and every open session ends."""
    user = get_by_username_or_raise(db_session=db_session, username=username)
    return update_user(db_session=db_session, user=user, active=False)


def unlock_user(*, db_session: Session, username: str) -> User:
    """Lift a lockout before it expires."""
    user = get_by_username_or_raise(db_session=db_session, username=username)
    user.locked_until = None
    user.failed_attempts = 0
    audit.record(db_session=db_session, action="auth.unlock", entity_type="user", entity_id=user.id)
    db_session.flush()
    return user


def set_password(
    *,
    db_session: Session,
    user: User,
    password: str,
    one_time: bool = False,
    keep_session_id: int | None = None,
) -> None:
    """Give ``user`` a new password (policy checked) and end its other sessions.

    A ``one_time`` password must be changed at the next sign-in before anything else.
    """
    passwords.check_password_policy(password, user.username)
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = one_time
    user.failed_attempts = 0
    user.locked_until = None
    tokens.revoke_all(db_session=db_session, user_id=user.id, except_id=keep_session_id)
    db_session.flush()


def reset_password(
    *, db_session: Session, username: str, password: str | None = None
) -> tuple[User, str | None]:
    """Set a password an administrator chose, or generate a one-time one (returned)."""
    user = get_by_username_or_raise(db_session=db_session, username=username)
    generated = None if password is not None else passwords.generate_password(user.username)
    set_password(
        db_session=db_session,
        user=user,
        password=password if password is not None else str(generated),
        one_time=generated is not None,
    )
    return user, generated


def change_own_password(
    *,
    db_session: Session,
    user: User,
    current_password: str,
    new_password: str,
    session_id: int | None = None,
) -> None:
    """A user changes their password; the current one must be given."""
    ok, _ = passwords.verify_password(current_password, user.password_hash)
    if not ok:
        raise ValidationFailed("the current password is not correct", code="wrong_password")
    if current_password == new_password:
        raise ValidationFailed("choose a password you have not just used", code="same_password")
    set_password(
        db_session=db_session, user=user, password=new_password, keep_session_id=session_id
    )


# --- sign-in ----------------------------------------------------------------------------


def authenticate(
    *,
    db_session: Session,
    username: str,
    password: str,
    ip: str | None = None,
    now: datetime | None = None,
    guard: SignInGuard | None = None,
) -> User:
    """The user whose password this is; otherwise a ``SignInRefused`` (or ``TooManyAttempts``).

    A refusal has already counted the failure and written its audit entry in
    ``db_session``: commit before letting the error end the transaction.
    """
    now = now or utcnow()
    (guard or get_sign_in_guard()).check(username=username, ip=ip, now=now)
    settings = get_auth_settings()
    anonymous = Actor(ANONYMOUS, None, ip)
    user = get_by_username(db_session=db_session, username=username)
    if user is None:
        passwords.burn_time(password)
        # people type their password into the user-name field: keep only what looks like a name
        attempted = normalise_username(username)
        shown = attempted if USERNAME_PATTERN.match(attempted) else "[not a user name]"
        log.info("auth.sign_in_failed reason=unknown_user ip=%s", ip)
        audit.record(
            db_session=db_session,
            action="auth.sign_in_failed",
            entity_type="user",
            after={"username": shown},
            reason="unknown user",
            actor=anonymous,
            occurred_at=now,
        )
        raise InvalidCredentials()
    if user.locked_until is not None and now < user.locked_until:
        log.info("auth.sign_in_refused user=%s reason=locked ip=%s", user.username, ip)
        audit.record(
            db_session=db_session,
            action="auth.sign_in_refused",
            entity_type="user",
            entity_id=user.id,
            reason="account locked",
            actor=anonymous,
            occurred_at=now,
        )
        raise AccountLocked((user.locked_until - now).total_seconds(), settings.max_failed_sign_ins)
    ok, new_hash = passwords.verify_password(password, user.password_hash)
    if not ok:
        log.info("auth.sign_in_failed user=%s reason=wrong_password ip=%s", user.username, ip)
        _count_failure(db_session, user, anonymous, now)
        db_session.flush()
        if user.locked_until is not None:
            raise AccountLocked(settings.lockout_minutes * 60, settings.max_failed_sign_ins)
        raise InvalidCredentials()
    if not user.active:
        audit.record(
            db_session=db_session,
            action="auth.sign_in_refused",
            entity_type="user",
            entity_id=user.id,
            reason="account disabled",
            actor=anonymous,
            occurred_at=now,
        )
        raise AccountDisabled()
    user.failed_attempts = 0
    user.locked_until = None
    if new_hash is not None:
        user.password_hash = new_hash
    db_session.flush()
    log.info("auth.sign_in user=%s ip=%s", user.username, ip)
    audit.record(
        db_session=db_session,
        action="auth.sign_in",
        entity_type="user",
        entity_id=user.id,
        actor=Actor(user.username, user.role, ip),
        occurred_at=now,
    )
    return user


def _count_failure(db_session: Session, user: User, actor: Actor, now: datetime) -> None:
    settings = get_auth_settings()
    user.failed_attempts += 1
    audit.record(
        db_session=db_session,
        action="auth.sign_in_failed",
        entity_type="user",
        entity_id=user.id,
        reason=f"wrong password ({user.failed_attempts} of {settings.max_failed_sign_ins})",
        actor=actor,
        occurred_at=now,
    )
    if user.failed_attempts >= settings.max_failed_sign_ins:
        log.warning("auth.locked user=%s ip=%s", user.username, actor.ip)
        user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
        user.failed_attempts = 0  # a fresh count once the lock ends
        audit.record(
            db_session=db_session,
            action="auth.locked",
            entity_type="user",
            entity_id=user.id,
            after={"locked_until": user.locked_until},
            reason=f"{settings.max_failed_sign_ins} failed sign-ins in a row",
            actor=actor,
            occurred_at=now,
        )


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A user and the session just opened for them."""

    user: User
    issued: tokens.IssuedSession


def start_session(
    *,
    db_session: Session,
    user: User,
    kind: SessionKind,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> SignedIn:
    """Open a bearer or cookie session for ``user``, lifetime from the settings."""
    settings = get_auth_settings()
    minutes = settings.token_minutes if kind is SessionKind.BEARER else settings.session_minutes
    issued = tokens.issue(
        db_session=db_session,
        user=user,
        kind=kind,
        lifetime=timedelta(minutes=minutes),
        ip=ip,
        user_agent=user_agent,
        now=now,
    )
    return SignedIn(user, issued)


def record_reveal(
    *,
    db_session: Session,
    actor: Actor,
    entity_type: str,
    entity_id: object,
    fields: list[str],
    reason: str | None = None,
) -> int:
    """Note in the audit trail that ``actor`` saw ``fields`` of an entity unmasked."""
    return audit.record(
        db_session=db_session,
        action=f"{entity_type}.reveal",
        entity_type=entity_type,
        entity_id=entity_id,
        after={"fields": sorted(fields)},
        reason=reason,
        actor=actor,
    )


# --- demo users -------------------------------------------------------------------------

DEMO_AGENCY = "Demo Recoveries"
DEMO_TEAM = "Team A"
DEMO_APPROVAL_LIMIT = 5_000_000  # 50,000.00 in the default currency's minor units


def demo_password(role: Role) -> str:
    """The fixed, documented demo password of ``role``'s demo user: ``demo-<role>-2024!``."""
    return f"demo-{role.value.replace('_', '-')}-2024!"


def demo_username(role: Role) -> str:
    """The demo user of ``role``: ``demo.<role>``."""
    return f"demo.{role.value}"


def create_demo_users(db_session: Session) -> list[tuple[str, str, str]]:
    """One user per role with its demo password: ``(username, role, password)`` each.

    Idempotent: a demo user that already exists is left as it is. For demos only; the
    passwords are public (docs/security.md).
    """
    users: list[tuple[str, str, str]] = []
    for role in Role:
        username, password = demo_username(role), demo_password(role)
        if get_by_username(db_session=db_session, username=username) is None:
            deciding = role in (Role.ADMIN, Role.MANAGER)
            create_user(
                db_session=db_session,
                username=username,
                password=password,
                role=role.value,
                display_name=f"Demo {role.value.replace('_', ' ')}",
                team=DEMO_TEAM if role in (Role.COLLECTOR, Role.FIELD_AGENT) else None,
                agency=DEMO_AGENCY if role is Role.AGENCY else None,
                approval_limit=DEMO_APPROVAL_LIMIT if deciding else None,
            )
        users.append((username, role.value, password))
    return users
