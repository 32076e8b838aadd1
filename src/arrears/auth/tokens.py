"""Sessions: random opaque tokens, stored only as SHA-256 hashes, revocable at any time.

A bearer token and a console cookie are the same kind of thing: a row in
``auth_sessions``. A cookie session also has a CSRF token (hashed as well) that unsafe
requests authenticated by the cookie must echo in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from arrears.auth.models import AuthSession, SessionKind, User
from arrears.kit.db import utcnow

# A recognisable prefix lets secret scanners spot a leaked token.
TOKEN_PREFIX = "arr_"
COOKIE_NAME = "arrears_session"
CSRF_HEADER = "X-CSRF-Token"


def new_secret() -> str:
    """A fresh unguessable token (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The stored form of a token: hex SHA-256 (a random token needs no salt or slow hash)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new session and its secrets, which exist in clear only in this response."""

    session: AuthSession
    token: str
    csrf_token: str | None
    expires_in: int


def issue(
    *,
    db_session: Session,
    user: User,
    kind: SessionKind,
    lifetime: timedelta,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> IssuedSession:
    """Open a session for ``user``; a cookie session also gets a CSRF token."""
    now = now or utcnow()
    token = new_secret()
    csrf = secrets.token_urlsafe(32) if kind is SessionKind.COOKIE else None
    row = AuthSession(
        user_id=user.id,
        token_hash=token_hash(token),
        kind=kind.value,
        created_at=now,
        expires_at=now + lifetime,
        csrf_token_hash=token_hash(csrf) if csrf else None,
        ip=ip[:64] if ip else None,
        user_agent=user_agent[:300] if user_agent else None,
    )
    db_session.add(row)
    db_session.flush()
    return IssuedSession(row, token, csrf, int(lifetime.total_seconds()))


def resolve(
    *, db_session: Session, token: str, now: datetime | None = None
) -> tuple[AuthSession, User] | None:
    """The live session of ``token`` and its active user; None when unknown, expired or revoked."""
    now = now or utcnow()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    found = db_session.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash == token_hash(token))
    ).first()
    if found is None:
        return None
    session, user = found
    if session.revoked_at is not None or session.expires_at <= now or not user.active:
        return None
    return session, user


def csrf_matches(session: AuthSession, presented: str | None) -> bool:
    """Whether ``presented`` is the CSRF token of cookie ``session`` (constant-time compare)."""
    if not presented or session.csrf_token_hash is None:
        return False
    return hmac.compare_digest(token_hash(presented), session.csrf_token_hash)


def revoke(*, db_session: Session, session: AuthSession, now: datetime | None = None) -> None:
    """End ``session``: its token stops working at once."""
    if session.revoked_at is None:
        session.revoked_at = now or utcnow()
        db_session.flush()


def revoke_all(
    *, db_session: Session, user_id: int, except_id: int | None = None, now: datetime | None = None
) -> int:
    """End every live session of a user (disabled, password changed); returns how many."""
    statement = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    if except_id is not None:
        statement = statement.where(AuthSession.id != except_id)
    result = db_session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


def purge_expired(*, db_session: Session, older_than: datetime) -> int:
    """Delete sessions that expired or were revoked before ``older_than``; returns how many."""
    result = db_session.execute(
        delete(AuthSession)
        .where(or_(AuthSession.expires_at < older_than, AuthSession.revoked_at < older_than))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
