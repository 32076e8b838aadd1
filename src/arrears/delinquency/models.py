"""Tables of the delinquency domain: holds, loan state, snapshots, history, events, runs."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from arrears.auth.audit import register_audited
from arrears.kit.db import Audited, Base, BigId, UTCDateTime, utcnow


class HoldReason(StrEnum):
    DISASTER_RELIEF = "disaster_relief"
    PAYMENT_HOLIDAY = "payment_holiday"
    DISPUTE = "dispute"
    LEGAL_HOLD = "legal_hold"
    BREATHING_SPACE = "breathing_space"


# Whether a hold of this reason stops penalty interest and fees (contact always stops).
SUSPENDS_PENALTY = {
    HoldReason.DISASTER_RELIEF: True,
    HoldReason.PAYMENT_HOLIDAY: True,
    HoldReason.DISPUTE: True,
    HoldReason.LEGAL_HOLD: False,
    HoldReason.BREATHING_SPACE: True,  # UK Breathing Space stops interest and fees
}


class Hold(Audited, Base):
    """A period in which delinquency does not age and contact stops; ``end_on`` is not held."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), nullable=False, index=True)
    start_on: Mapped[date] = mapped_column(Date, nullable=False)
    end_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    suspends_penalty: Mapped[bool] = mapped_column(Boolean, nullable=False)
    note: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str | None] = mapped_column(String(100))


class LoanState(Base):
    """A loan's state as of its ``as_of`` business date (one row per loan, derived)."""

    __tablename__ = "loan_states"

    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    past_due_days: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    delinquent_days: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    paused_days: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    oldest_overdue_due_on: Mapped[date | None] = mapped_column(Date)
    bucket: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    overdue_principal: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    overdue_interest: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    overdue_fee: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    overdue_penalty: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    overdue_total: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    overdue_by_bucket: Mapped[dict[str, int]] = mapped_column(JSON, nullable=False, default=dict)
    outstanding_principal: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    outstanding_total: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    five_category: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=1)
    ifrs9_stage: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=1)
    non_performing: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # borrower-level contagion can make a loan non-performing on another loan's account
    non_performing_by_contagion: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False
    )
    delinquent_since: Mapped[date | None] = mapped_column(Date)
    last_cured_on: Mapped[date | None] = mapped_column(Date)
    # what advancing the loan a day needs without re-deriving it (accrual.Carry); None (SQL
    # NULL, not JSON null, so that it can be filtered on): evaluate it in full
    carry: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # the open accrual span's penalty so far, held in the carry and not in ``charges`` (0
    # without a carry): what the ledger's charges plus this come to is what is charged
    open_penalty: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default="0"
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )


class LoanSnapshot(Base):
    """A loan's state at the end of one business date, for reports (roll rates, vintages)."""

    __tablename__ = "loan_snapshots"
    # the key only: each day's rows go at its end; a loan's history probes it per date
    __table_args__ = (PrimaryKeyConstraint("as_of", "loan_id"),)

    as_of: Mapped[date] = mapped_column(Date)
    loan_id: Mapped[int] = mapped_column(BigInteger)
    past_due_days: Mapped[int] = mapped_column(Integer, nullable=False)
    delinquent_days: Mapped[int] = mapped_column(Integer, nullable=False)
    bucket: Mapped[str] = mapped_column(String(16), nullable=False)
    overdue_principal: Mapped[int] = mapped_column(BigInteger, nullable=False)
    overdue_interest: Mapped[int] = mapped_column(BigInteger, nullable=False)
    overdue_fee: Mapped[int] = mapped_column(BigInteger, nullable=False)
    overdue_penalty: Mapped[int] = mapped_column(BigInteger, nullable=False)
    outstanding_principal: Mapped[int] = mapped_column(BigInteger, nullable=False)
    outstanding_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    five_category: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    ifrs9_stage: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    non_performing: Mapped[bool] = mapped_column(Boolean, nullable=False)


class BucketHistory(Base):
    """A stay of a loan in a bucket: entered on a business date, left on another (or not yet)."""

    __tablename__ = "bucket_history"
    __table_args__ = (
        # also answers "the loan's open stay" (a loan has a few stays)
        UniqueConstraint("loan_id", "entered_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    bucket: Mapped[str] = mapped_column(String(16), nullable=False)
    entered_on: Mapped[date] = mapped_column(Date, nullable=False)
    left_on: Mapped[date | None] = mapped_column(Date)


class Cure(Base):
    """A delinquent loan returning to current, with the business date it happened."""

    __tablename__ = "cures"
    __table_args__ = (UniqueConstraint("loan_id", "cured_on"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    cured_on: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    from_bucket: Mapped[str] = mapped_column(String(16), nullable=False)
    past_due_days_before: Mapped[int] = mapped_column(Integer, nullable=False)


class OutboxEvent(Base):
    """A domain event written in the same transaction as the change, for others to consume."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        UniqueConstraint("kind", "loan_id", "business_date"),
        Index("ix_outbox_unpublished", "published_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    loan_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    business_date: Mapped[date] = mapped_column(Date, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EodRun(Base):
    """One end-of-day run: which business dates, how far it got, what it did."""

    __tablename__ = "eod_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_date: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    from_date: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # running|completed|failed
    requested_by: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the last business date fully committed by this run
    completed_through: Mapped[date | None] = mapped_column(Date)
    loans_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    loans_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    loans_evaluated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # of those, moved on from their carry rather than re-derived
    loans_advanced: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default="0"
    )
    stage: Mapped[str | None] = mapped_column(String(64))
    stage_seconds: Mapped[dict[str, float]] = mapped_column(JSON, nullable=False, default=dict)
    bucket_counts: Mapped[dict[str, int]] = mapped_column(JSON, nullable=False, default=dict)
    events_written: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(String(2000))


class BusinessDay(Base):
    """A business date whose end-of-day processing is complete."""

    __tablename__ = "business_days"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    loans: Mapped[int] = mapped_column(Integer, nullable=False)


# Placing and ending a hold is an audit entry; states, snapshots, history and events are
# derived by the daily run and are not.
register_audited(Hold, entity_type="hold")
