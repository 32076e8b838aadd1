"""Product, loan and installment tables."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
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
    String,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from arrears.auth.audit import register_audited
from arrears.kit.db import Audited, Base, BigId, ScaledDecimal, UTCDateTime, utcnow


class LoanStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"


class ScheduleSource(StrEnum):
    GENERATED = "generated"
    IMPORTED = "imported"


class Product(Audited, Base):
    """A loan product: how schedules are built, rounded, charged and paid."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    method: Mapped[str] = mapped_column(String(32), nullable=False)
    day_count: Mapped[str] = mapped_column(String(16), nullable=False)
    rounding: Mapped[str] = mapped_column(String(16), nullable=False)
    rounding_unit: Mapped[str] = mapped_column(String(8), nullable=False)  # cent | unit
    grace_days: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    penalty_rate: Mapped[Decimal | None] = mapped_column(ScaledDecimal(6))  # percent a year
    penalty_multiplier: Mapped[Decimal | None] = mapped_column(ScaledDecimal(6))
    penalty_compound: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    late_fee: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # minor units
    tolerance: Mapped[int] = mapped_column(BigInteger, nullable=False, default=1)  # minor units
    allocation_order: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    buckets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    # classification thresholds overriding the defaults (五级分类, IFRS 9, NPL)
    classification: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Loan(Audited, Base):
    """A loan on the book."""

    __tablename__ = "loans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_ref: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False, index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), nullable=False, index=True)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    principal: Mapped[int] = mapped_column(BigInteger, nullable=False)  # minor units
    annual_rate: Mapped[Decimal] = mapped_column(ScaledDecimal(6), nullable=False)  # percent
    term_months: Mapped[int] = mapped_column(Integer, nullable=False)
    disbursed_on: Mapped[date] = mapped_column(Date, nullable=False)
    first_due_on: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active", index=True)
    schedule_source: Mapped[str] = mapped_column(String(16), nullable=False, default="generated")
    # Overpayment held for the borrower, minor units (derived by allocation).
    credit: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)

    product: Mapped[Any] = relationship("Product", lazy="joined")


class Installment(Base):
    """One scheduled repayment and how much of it has been paid (derived by allocation)."""

    __tablename__ = "installments"
    __table_args__ = (
        PrimaryKeyConstraint("loan_id", "number"),
        Index("ix_installments_due_on", "due_on"),
    )

    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date, nullable=False)
    principal: Mapped[int] = mapped_column(BigInteger, nullable=False)
    interest: Mapped[int] = mapped_column(BigInteger, nullable=False)
    fee: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    paid_principal: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    paid_interest: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    paid_fee: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)

    @hybrid_property
    def owed_principal(self) -> int:
        """Scheduled principal not yet paid (an SQL expression on the class)."""
        return self.principal - self.paid_principal

    @hybrid_property
    def owed(self) -> int:
        """Scheduled principal, interest and fee not yet paid (an SQL expression on the class)."""
        return (
            self.principal
            + self.interest
            + self.fee
            - self.paid_principal
            - self.paid_interest
            - self.paid_fee
        )


class ImportRun(Base):
    """One import of a file: what it held, what it changed, what was wrong with it."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    file_name: Mapped[str] = mapped_column(String(500), nullable=False)
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # committed|rejected|checked
    rows_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_invalid: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    inserted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# Products and loans are edited by people: every change is an audit entry. A loan's credit
# is derived by allocation; installments are derived too and never audited row by row.
register_audited(Product, entity_type="product")
register_audited(Loan, entity_type="loan", exclude=("credit",))
