"""The audit trail: append-only, every entry chained to the one before it by a hash.

Each entry's ``hash`` is ``sha256(prev_hash + canonical JSON of its fields)``; the first
entry chains off 64 zeros. Changing, removing or inserting an entry anywhere breaks the
chain from that point on, and ``verify`` names the first entry that no longer fits.

Entries come from two places:

- ``record(db_session=..., action="customer.reveal", ...)``: an explicit event.
- Writes through the ORM to a model registered with ``register_audited``: one entry per
  inserted, updated or deleted row, with the changed columns before and after.

Who did it comes from the session (``set_session_actor``, which the sign-in dependency
calls for every request), else from ``audit_actor(...)`` (CLI commands, jobs), else
``system``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, cast

from sqlalchemy import Connection, Table, event, insert, inspect, select, text
from sqlalchemy.orm import Session, UOWTransaction, attributes

from arrears.auth.crypto import EncryptedString
from arrears.auth.models import ApprovalRequest, AuditEntry, User
from arrears.kit.db import utcnow

GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock key of the chain: one writer at a time appends to it.
CHAIN_LOCK_KEY = 0x61727265617273  # "arrears"
REDACTED = "[redacted]"
DEFAULT_EXCLUDED = frozenset({"created_at", "updated_at", "version"})

_table = cast(Table, AuditEntry.__table__)


# --- who is acting ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Actor:
    """Who an audit entry is attributed to."""

    name: str
    role: str | None = None
    ip: str | None = None


SYSTEM = Actor("system")
_SESSION_KEY = "arrears.audit_actor"
_current: ContextVar[Actor | None] = ContextVar("arrears_audit_actor", default=None)


@contextmanager
def audit_actor(name: str, role: str | None = None, ip: str | None = None) -> Iterator[Actor]:
    """Attribute audit entries written inside the block to ``name`` (CLI commands, jobs)."""
    actor = Actor(name, role, ip)
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def set_session_actor(db_session: Session, actor: Actor) -> None:
    """Attribute the audit entries of ``db_session`` (one request's transaction) to ``actor``."""
    db_session.info[_SESSION_KEY] = actor


def current_actor(db_session: Session | None = None) -> Actor:
    """The actor of ``db_session``, else of the surrounding ``audit_actor`` block, else system."""
    if db_session is not None:
        actor = db_session.info.get(_SESSION_KEY)
        if isinstance(actor, Actor):
            return actor
    return _current.get() or SYSTEM


# --- the chain --------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (what the database returns is what was hashed)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(jsonable(item) for item in value)
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return "[binary]"
    return str(value)


def _clip(value: str | None, length: int) -> str | None:
    return None if value is None else value[:length]


def _hashed_fields(row: Mapping[Any, Any]) -> dict[str, Any]:
    occurred_at: datetime = row["occurred_at"]
    return {
        "occurred_at": occurred_at.isoformat(timespec="microseconds"),
        "actor": row["actor"],
        "actor_role": row["actor_role"],
        "action": row["action"],
        "entity_type": row["entity_type"],
        "entity_id": row["entity_id"],
        "before": row["before"],
        "after": row["after"],
        "reason": row["reason"],
        "ip": row["ip"],
    }


def chain_hash(prev_hash: str, row: Mapping[Any, Any]) -> str:
    """The hash of an entry with the fields in ``row`` that follows ``prev_hash``."""
    canonical = json.dumps(
        _hashed_fields(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _lock_chain(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # held to the end of the transaction: the next writer reads our hash as its prev
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    else:
        # SQLite has one writer at a time; a (no-op) write takes that lock before the read
        connection.execute(text("UPDATE audit_log SET id = id WHERE 1 = 0"))


def record(
    *,
    db_session: Session,
    action: str,
    entity_type: str | None = None,
    entity_id: object | None = None,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
    actor: Actor | None = None,
    occurred_at: datetime | None = None,
) -> int:
    """Append an entry to the audit trail in ``db_session``'s transaction; returns its id."""
    who = actor or current_actor(db_session)
    row: dict[str, Any] = {
        "occurred_at": occurred_at or utcnow(),
        "actor": _clip(who.name, 64) or "system",
        "actor_role": _clip(who.role, 16),
        "action": action[:64],
        "entity_type": _clip(entity_type, 64),
        "entity_id": None if entity_id is None else str(entity_id)[:64],
        "before": jsonable(before),
        "after": jsonable(after),
        "reason": _clip(reason, 500),
        "ip": _clip(who.ip, 64),
    }
    # the same connection the session flushes on: usable from inside a flush
    connection = db_session.connection()
    _lock_chain(connection)
    prev_hash = connection.execute(
        select(_table.c.hash).order_by(_table.c.id.desc()).limit(1)
    ).scalar()
    row["prev_hash"] = prev_hash or GENESIS_HASH
    row["hash"] = chain_hash(row["prev_hash"], row)
    result = connection.execute(insert(_table).values(**row))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What ``verify`` found: ``ok`` with the head hash, or the first entry that breaks."""

    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str | None = None
    head_hash: str = GENESIS_HASH


def verify(*, db_session: Session, chunk_size: int = 2000) -> VerifyResult:
    """Recompute the chain from the first entry; stop at the first one that does not fit."""
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = 0
    connection = db_session.connection()
    while True:
        rows = (
            connection.execute(
                select(_table).where(_table.c.id > last_id).order_by(_table.c.id).limit(chunk_size)
            )
            .mappings()
            .all()
        )
        if not rows:
            return VerifyResult(ok=True, checked=checked, head_hash=expected_prev)
        for row in rows:
            if row["prev_hash"] != expected_prev:
                return VerifyResult(
                    ok=False,
                    checked=checked,
                    first_broken_id=row["id"],
                    reason=(
                        f"entry {row['id']} does not follow the entry before it: an earlier "
                        "entry was removed, inserted or rewritten"
                    ),
                    head_hash=expected_prev,
                )
            if chain_hash(row["prev_hash"], row) != row["hash"]:
                return VerifyResult(
                    ok=False,
                    checked=checked,
                    first_broken_id=row["id"],
                    reason=f"entry {row['id']} was changed after it was written",
                    head_hash=expected_prev,
                )
            expected_prev = row["hash"]
            checked += 1
        last_id = rows[-1]["id"]


# --- capturing ORM writes ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditedModel:
    """How writes to one model are recorded."""

    entity_type: str
    exclude: frozenset[str] = DEFAULT_EXCLUDED
    redact: frozenset[str] = field(default_factory=frozenset)


_AUDITED: dict[type, AuditedModel] = {}
_DELETED_KEY = "arrears.audit_deleted"


def register_audited(
    model: type,
    *,
    entity_type: str | None = None,
    exclude: Iterable[str] = (),
    redact: Iterable[str] = (),
) -> None:
    """Record every ORM insert, update and delete of ``model`` in the audit trail.

    ``exclude`` columns are left out (timestamps and the version always are); ``redact``
    columns (and every ``EncryptedString`` column) show only that they changed.
    """
    table: Any = inspect(model).local_table
    encrypted = {c.key for c in table.columns if isinstance(c.type, EncryptedString)}
    _AUDITED[model] = AuditedModel(
        entity_type=entity_type or str(getattr(model, "__tablename__", model.__name__)),
        exclude=DEFAULT_EXCLUDED | frozenset(exclude),
        redact=frozenset(redact) | frozenset(encrypted),
    )


def _spec_of(obj: object) -> AuditedModel | None:
    for cls in type(obj).__mro__:
        spec = _AUDITED.get(cls)
        if spec is not None:
            return spec
    return None


def _entity_id(obj: object) -> str:
    state = inspect(obj)
    identity = state.mapper.primary_key_from_instance(obj)
    return "/".join(str(part) for part in identity)


def _values(obj: object, spec: AuditedModel, *, load: bool) -> dict[str, Any]:
    state = inspect(obj)
    out: dict[str, Any] = {}
    for column_attr in state.mapper.column_attrs:
        key = column_attr.key
        if key in spec.exclude:
            continue
        if load:
            value = getattr(obj, key)
        elif key in state.dict:
            value = state.dict[key]
        else:
            continue
        out[key] = REDACTED if key in spec.redact and value is not None else jsonable(value)
    return out


def _changes(obj: object, spec: AuditedModel) -> tuple[dict[str, Any], dict[str, Any]]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for column_attr in inspect(obj).mapper.column_attrs:
        key = column_attr.key
        if key in spec.exclude:
            continue
        history = attributes.get_history(obj, key)
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if key in spec.redact:
            before[key], after[key] = REDACTED, REDACTED
        else:
            before[key], after[key] = jsonable(old), jsonable(new)
    return before, after


@event.listens_for(Session, "before_flush")
def _remember_deleted(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    # after the flush a deleted row can no longer be loaded: read its values now
    if not _AUDITED:
        return
    snapshots = {}
    for obj in session.deleted:
        spec = _spec_of(obj)
        if spec is not None:
            snapshots[id(obj)] = (_entity_id(obj), _values(obj, spec, load=True))
    session.info[_DELETED_KEY] = snapshots


@event.listens_for(Session, "after_flush")
def _capture_writes(session: Session, flush_context: UOWTransaction) -> None:
    if not _AUDITED:
        return
    for obj in list(session.new):
        spec = _spec_of(obj)
        if spec is not None:
            record(
                db_session=session,
                action=f"{spec.entity_type}.create",
                entity_type=spec.entity_type,
                entity_id=_entity_id(obj),
                after=_values(obj, spec, load=False),
            )
    for obj in list(session.dirty):
        spec = _spec_of(obj)
        if spec is None or obj in session.deleted:
            continue
        before, after = _changes(obj, spec)
        if after:
            record(
                db_session=session,
                action=f"{spec.entity_type}.update",
                entity_type=spec.entity_type,
                entity_id=_entity_id(obj),
                before=before,
                after=after,
            )
    snapshots = session.info.pop(_DELETED_KEY, {})
    for obj in list(session.deleted):
        spec = _spec_of(obj)
        if spec is not None and id(obj) in snapshots:
            entity_id, values = snapshots[id(obj)]
            record(
                db_session=session,
                action=f"{spec.entity_type}.delete",
                entity_type=spec.entity_type,
                entity_id=entity_id,
                before=values,
            )


# Lockout counters change on every failed sign-in; ``auth.*`` entries record those events.
register_audited(
    User,
    entity_type="user",
    exclude=("failed_attempts", "locked_until"),
    redact=("password_hash",),
)
register_audited(ApprovalRequest, entity_type="approval_request")
