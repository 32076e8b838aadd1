"""Payment, charge and allocation tables."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.auth.audit import register_audited
from arrears.kit.db import Audited, Base, BigId, UTCDateTime


class PaymentStatus(StrEnum):
    POSTED = "posted"
    REVERSED = "reversed"


class ChargeKind(StrEnum):
    PENALTY = "penalty"  # 罚息
    LATE_FEE = "late_fee"
    FEE = "fee"


class Payment(Audited, Base):
    """Money received for a loan. Posting the same reference twice is one payment."""

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_loan_value_date", "loan_id", "value_date"),
        Index("ix_payments_value_date", "value_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_ref: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), nullable=False)
    value_date: Mapped[date] = mapped_column(Date, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)  # minor units
    channel: Mapped[str] = mapped_column(String(32), nullable=False, default="bank_transfer")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="posted")
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reversal_reason: Mapped[str | None] = mapped_column(String(500))


class Charge(Audited, Base):
    """A penalty, late fee or other fee charged against one installment."""

    __tablename__ = "charges"
    __table_args__ = (
        Index("ix_charges_loan", "loan_id", "installment_number"),
        # the charges people post, by date: the daily run looks for those charged that day
        # (generated accruals, nearly all the rows, are left out of it)
        Index(
            "ix_charges_posted_on",
            "charged_on",
            postgresql_where=text("source <> 'accrual'"),
            sqlite_where=text("source <> 'accrual'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), nullable=False)
    installment_number: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    charged_on: Mapped[date] = mapped_column(Date, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # first day of accrual, for penalty interest accrued over a span; None for one-off fees
    accrued_from: Mapped[date | None] = mapped_column(Date)
    paid: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # derived
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="manual")
    description: Mapped[str | None] = mapped_column(String(500))


class Allocation(Base):
    """How much of a payment went to which part of which installment (derived, rebuilt)."""

    __tablename__ = "allocations"
    __table_args__ = (Index("ix_allocations_loan", "loan_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), nullable=False)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), nullable=False, index=True)
    installment_number: Mapped[int | None] = mapped_column(Integer)  # None: held as credit
    component: Mapped[str] = mapped_column(String(16), nullable=False)
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # when the money met the debt (the later of value date and charge date); None: credit
    applied_on: Mapped[date | None] = mapped_column(Date)


# Payments posted and reversed, and charges made by hand, are audit entries; what the
# allocation derives (paid amounts, allocations) and the daily run's accruals are not
# user edits and are written set-based, outside the ORM.
register_audited(Payment, entity_type="payment")
register_audited(Charge, entity_type="charge", exclude=("paid",))
