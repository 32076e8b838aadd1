"""Posting and reversing payments, charging fees, and re-deriving allocations.

Allocation state (installments' paid amounts, charges' paid amounts, allocation rows and
loan credit) is always derived by ``allocation.allocate`` from what is stored; ``rederive``
rebuilds it for a set of loans with a handful of statements, however many loans.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.auth.principal import Principal
from arrears.auth.scope import apply_scope
from arrears.kit.db import utcnow
from arrears.kit.errors import Conflict, NotFound, ValidationFailed
from arrears.kit.money import to_minor
from arrears.ledger.models import Charge, ChargeKind, Payment, PaymentStatus
from arrears.loans import service as loans
from arrears.loans.models import Installment, Loan

CHANNELS = ("bank_transfer", "card", "alipay", "wechat", "counter", "direct_debit", "other")


@dataclass(frozen=True)
class PaymentIn:
    """A payment to post."""

    payment_ref: str
    loan_ref: str
    value_date: date
    amount: Decimal
    channel: str = "bank_transfer"


def get_payment_by_ref(
    *, db_session: Session, payment_ref: str, principal: Principal | None = None
) -> Payment | None:
    """The payment with ``payment_ref``, if any (and, given a principal, in their scope)."""
    query = select(Payment).where(Payment.payment_ref == payment_ref)
    if principal is not None:
        query = apply_scope(principal, query, Payment)
    return db_session.scalar(query)


def check_channel(channel: str) -> str:
    """The channel, if it is one arrears knows."""
    if channel not in CHANNELS:
        raise ValidationFailed(
            f"channel '{channel}' is not one of {', '.join(CHANNELS)}", code="invalid_channel"
        )
    return channel


def post_payment(*, db_session: Session, payment: PaymentIn) -> tuple[Payment, bool]:
    """Post a payment and re-derive its loan; the same reference again is the same payment.

    Returns the payment and whether it was new. A reference reused with different details
    is refused, since that is a different payment under a taken name.
    """
    loan = loans.get_by_ref_or_raise(
        db_session=db_session, loan_ref=payment.loan_ref, for_update=True
    )
    amount = to_minor(payment.amount, loan.currency)
    if amount <= 0:
        raise ValidationFailed("a payment amount must be greater than zero", code="invalid_amount")
    if payment.value_date < loan.disbursed_on:
        raise ValidationFailed(
            f"value date {payment.value_date} is before the loan was disbursed "
            f"({loan.disbursed_on})",
            code="value_date_before_disbursement",
        )
    check_channel(payment.channel)
    existing = get_payment_by_ref(db_session=db_session, payment_ref=payment.payment_ref)
    if existing is not None:
        same = (
            existing.loan_id == loan.id
            and existing.amount == amount
            and existing.value_date == payment.value_date
        )
        if not same:
            raise Conflict(
                f"payment '{payment.payment_ref}' was already posted with other details",
                code="payment_ref_reused",
            )
        return existing, False
    row = Payment(
        payment_ref=payment.payment_ref,
        loan_id=loan.id,
        value_date=payment.value_date,
        amount=amount,
        channel=payment.channel,
        status=PaymentStatus.POSTED.value,
    )
    db_session.add(row)
    db_session.flush()
    rederive(db_session=db_session, loan_ids=[loan.id])
    return row, True


def reverse_payment(*, db_session: Session, payment_ref: str, reason: str) -> Payment:
    """Reverse a posted payment and re-derive its loan as if it had never been paid."""
    payment = get_payment_by_ref(db_session=db_session, payment_ref=payment_ref)
    if payment is None:
        raise NotFound(
            f"there is no payment with reference '{payment_ref}'", code="payment_not_found"
        )
    if payment.status == PaymentStatus.REVERSED.value:
        raise Conflict(f"payment '{payment_ref}' is already reversed", code="already_reversed")
    if not reason.strip():
        raise ValidationFailed("a reversal needs a reason", code="reason_required")
    payment.status = PaymentStatus.REVERSED.value
    payment.reversed_at = utcnow()
    payment.reversal_reason = reason.strip()
    db_session.flush()
    rederive(db_session=db_session, loan_ids=[payment.loan_id])
    return payment


def add_charge(
    *,
    db_session: Session,
    loan: Loan,
    installment_number: int,
    kind: ChargeKind,
    charged_on: date,
    amount: Decimal,
    description: str | None = None,
    source: str = "manual",
) -> Charge:
    """Charge a penalty or fee against an installment and re-derive the loan."""
    minor = to_minor(amount, loan.currency)
    if minor <= 0:
        raise ValidationFailed("a charge must be greater than zero", code="invalid_amount")
    exists = db_session.scalar(
        select(Installment.number).where(
            Installment.loan_id == loan.id, Installment.number == installment_number
        )
    )
    if exists is None:
        raise NotFound(
            f"loan '{loan.loan_ref}' has no installment {installment_number}",
            code="installment_not_found",
        )
    charge = Charge(
        loan_id=loan.id,
        installment_number=installment_number,
        kind=kind.value,
        charged_on=charged_on,
        amount=minor,
        paid=0,
        source=source,
        description=description,
    )
    db_session.add(charge)
    db_session.flush()
    rederive(db_session=db_session, loan_ids=[loan.id])
    return charge


def rederive(*, db_session: Session, loan_ids: Collection[int]) -> int:
    """Re-derive the ledger of ``loan_ids`` after a change, as of the current business date.

    The derivation lives with the daily run (penalty interest and late fees depend on what
    was paid when); this is the one path both use. Returns installments changed.
    """
    from arrears.delinquency.service import refresh

    return refresh(db_session, loan_ids).installments_changed
