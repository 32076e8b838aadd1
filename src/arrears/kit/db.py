"""Database engine, sessions, the declarative base and shared column types."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import BigInteger, DateTime, Integer, MetaData, create_engine, event, text
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.types import TypeDecorator

from arrears.kit.settings import get_settings, normalise_database_url

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Now, in UTC (timestamps only; business dates never come from the clock here)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored and returned in UTC, also on SQLite (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ScaledDecimal(TypeDecorator[Decimal]):
    """An exact decimal (rates, multipliers) stored as a scaled 64-bit integer.

    SQLite would store ``Numeric`` as a float, so it is never used for exact values.
    """

    impl = BigInteger
    cache_ok = True

    def __init__(self, scale: int = 6) -> None:
        super().__init__()
        self.scale = scale
        self.factor = Decimal(10) ** scale

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        scaled = Decimal(value) * self.factor
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.scale} decimals")
        return int(scaled)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if not value:
            return Decimal(0)
        exact = (Decimal(value) / self.factor).normalize()
        # normalize() writes 10 as 1E+1; keep whole numbers in plain notation
        return exact.quantize(Decimal(1)) if exact.as_tuple().exponent > 0 else exact  # type: ignore[operator]


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING)


class Audited:
    """Columns every user-edited table carries: timestamps and an optimistic-lock version."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # stale writes fail instead of silently overwriting someone else's change
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout.

    PostgreSQL sessions run without JIT compilation: the bulk statements of the daily run
    and imports are costed high enough to trigger it, and compiling took longer than the
    statements themselves (200–900 ms each, a third of a following day's run at 100,000
    loans); the rest of the application's statements are short.
    """
    target = normalise_database_url(url or get_settings().database_url)
    if target.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
    # JSON columns read by orjson: the same values as the standard library's, in a fifth of
    # the time (the daily run reads a JSON carry per delinquent loan)
    kwargs.setdefault("json_deserializer", orjson.loads)
    engine = create_engine(target, **kwargs)
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _postgresql_settings(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET jit = off")
            dbapi_connection.commit()

    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in target:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None


def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    global _engine, _factory
    if _engine is None:
        _engine = make_engine()
        _factory = sessionmaker(bind=_engine, expire_on_commit=False)
    return _engine


def set_engine(engine: Engine) -> None:
    """Point the process at another engine (tests, the CLI's ``--database``)."""
    global _engine, _factory
    _engine = engine
    _factory = sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction: commits when the block ends, rolls back on any error."""
    if engine is not None:
        factory = sessionmaker(bind=engine, expire_on_commit=False)
    else:
        get_engine()
        assert _factory is not None
        factory = _factory
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def refresh_statistics(db_session: Session, tables: Sequence[str]) -> None:
    """Let PostgreSQL's planner see tables a transaction has just filled (``ANALYZE``).

    Rows written in the open transaction are invisible to autovacuum, so a table filled by
    a large import still looks empty to the planner, which then scans it whole for every
    chunk of loans looked up by id. ``ANALYZE`` in the transaction samples its own rows.
    SQLite's planner prefers the indexes anyway: nothing is done there.
    """
    if tables and db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(text(f"ANALYZE {', '.join(tables)}"))


@contextmanager
def keyed_lookups(db_session: Session) -> Iterator[None]:
    """Inside: statements fetching the rows of a chunk of ids use the indexes.

    PostgreSQL's planner estimates rows per id from a sample; for a table like
    ``installments`` (27 million rows, from 3 to 360 per loan) it guesses ten times too many,
    and then scans the whole table in parallel for each chunk of 2,000 loans (seconds each)
    instead of reading their index entries (milliseconds). For lookups by key the index is
    always the right plan, so sequential scans are ruled out while they run. SQLite's
    planner uses the indexes anyway.
    """
    if db_session.get_bind().dialect.name != "postgresql":
        yield
        return
    # no parallel workers either: starting them costs more than reading a chunk's rows
    scan, workers = db_session.execute(
        text(
            "SELECT current_setting('enable_seqscan'), "
            "current_setting('max_parallel_workers_per_gather'), "
            "set_config('enable_seqscan', 'off', true), "
            "set_config('max_parallel_workers_per_gather', '0', true)"
        )
    ).one()[:2]
    yield  # should it raise, the transaction is rolled back, and the settings with it
    db_session.execute(
        text(
            "SELECT set_config('enable_seqscan', :scan, true), "
            "set_config('max_parallel_workers_per_gather', :workers, true)"
        ),
        {"scan": scan, "workers": workers},
    )
