"""Posting and reversing payments, charging fees, and re-deriving allocations.

Allocation state (installments' paid amounts, charges' paid amounts, allocation rows and
loan credit) is always derived by ``allocation.allocate`` from what is stored; ``rederive``
rebuilds it for a set of loans with a handful of statements, however many loans.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from arrears.kit.db import utcnow
from arrears.kit.errors import Conflict, NotFound, ValidationFailed
from arrears.kit.money import to_minor
from arrears.ledger.allocation import ChargeDue, Due, LedgerState, Receipt, allocate
from arrears.ledger.models import Allocation, Charge, ChargeKind, Payment, PaymentStatus
from arrears.loans import service as loans
from arrears.loans.models import Installment, Loan, Product

CHANNELS = ("bank_transfer", "card", "alipay", "wechat", "counter", "direct_debit", "other")
_CHUNK = 500


@dataclass(frozen=True)
class PaymentIn:
    """A payment to post."""

    payment_ref: str
    loan_ref: str
    value_date: date
    amount: Decimal
    channel: str = "bank_transfer"


def get_payment_by_ref(*, db_session: Session, payment_ref: str) -> Payment | None:
    """The payment with ``payment_ref``, if any."""
    return db_session.scalar(select(Payment).where(Payment.payment_ref == payment_ref))


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


def _chunks(ids: Collection[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def derive(
    *, db_session: Session, loan_ids: Collection[int]
) -> dict[int, tuple[LedgerState, list[tuple[int, int, int, int]]]]:
    """Derive the ledger of each loan from the stored schedule, charges and payments.

    Also returns, per loan, the stored paid amounts ``(number, principal, interest, fee)``
    so callers can write back only what changed.
    """
    out: dict[int, tuple[LedgerState, list[tuple[int, int, int, int]]]] = {}
    for chunk in _chunks(loan_ids):
        orders = dict(
            db_session.execute(
                select(Loan.id, Product.allocation_order)
                .join(Product, Product.id == Loan.product_id)
                .where(Loan.id.in_(chunk))
            ).all()
        )
        dues: dict[int, list[Due]] = defaultdict(list)
        stored: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
        for row in db_session.execute(
            select(
                Installment.loan_id,
                Installment.number,
                Installment.due_on,
                Installment.principal,
                Installment.interest,
                Installment.fee,
                Installment.paid_principal,
                Installment.paid_interest,
                Installment.paid_fee,
            ).where(Installment.loan_id.in_(chunk))
        ):
            dues[row.loan_id].append(
                Due(row.number, row.due_on, row.principal, row.interest, row.fee)
            )
            stored[row.loan_id].append(
                (row.number, row.paid_principal, row.paid_interest, row.paid_fee)
            )
        charges: dict[int, list[ChargeDue]] = defaultdict(list)
        for charge_row in db_session.execute(
            select(
                Charge.id,
                Charge.loan_id,
                Charge.installment_number,
                Charge.kind,
                Charge.charged_on,
                Charge.amount,
            ).where(Charge.loan_id.in_(chunk))
        ):
            c = charge_row
            component = "penalty" if c.kind == ChargeKind.PENALTY.value else "fee"
            charges[c.loan_id].append(
                ChargeDue(c.id, c.installment_number, component, c.charged_on, c.amount)
            )
        receipts: dict[int, list[Receipt]] = defaultdict(list)
        for p in db_session.execute(
            select(Payment.id, Payment.loan_id, Payment.value_date, Payment.amount).where(
                Payment.loan_id.in_(chunk), Payment.status == PaymentStatus.POSTED.value
            )
        ):
            receipts[p.loan_id].append(Receipt(p.id, p.value_date, p.amount, p.id))
        for loan_id in chunk:
            if loan_id not in orders:
                continue
            state = allocate(
                dues.get(loan_id, []),
                charges.get(loan_id, []),
                receipts.get(loan_id, []),
                orders[loan_id],
            )
            out[loan_id] = (state, stored.get(loan_id, []))
    return out


def rederive(*, db_session: Session, loan_ids: Collection[int]) -> int:
    """Rebuild the derived ledger of ``loan_ids`` in bulk; returns installments changed."""
    changed_total = 0
    for chunk in _chunks(loan_ids):
        derived = derive(db_session=db_session, loan_ids=chunk)
        installment_updates: list[dict[str, Any]] = []
        charge_updates: list[dict[str, Any]] = []
        allocation_rows: list[dict[str, Any]] = []
        credit_updates: list[dict[str, Any]] = []
        for loan_id, (state, stored) in derived.items():
            before = {number: (p, i, f) for number, p, i, f in stored}
            for inst in state.installments:
                after = (inst.paid_principal, inst.paid_interest, inst.paid_fee)
                if before.get(inst.number) != after:
                    installment_updates.append(
                        {
                            "loan_id": loan_id,
                            "number": inst.number,
                            "paid_principal": after[0],
                            "paid_interest": after[1],
                            "paid_fee": after[2],
                        }
                    )
            charge_updates.extend(
                {"charge_id": charge_id, "paid": paid}
                for charge_id, paid in state.charge_paid.items()
            )
            allocation_rows.extend(
                {
                    "loan_id": loan_id,
                    "payment_id": a.payment_id,
                    "installment_number": a.installment_number,
                    "component": a.component,
                    "charge_id": a.charge_id,
                    "amount": a.amount,
                    "applied_on": a.applied_on,
                }
                for a in state.allocations
            )
            credit_updates.append({"loan_id": loan_id, "credit": state.credit})
        _write_back(db_session, chunk, installment_updates, charge_updates, allocation_rows)
        _write_credit(db_session, credit_updates)
        changed_total += len(installment_updates)
        _expire_derived(db_session, chunk)
    return changed_total


def _write_back(
    db_session: Session,
    loan_ids: list[int],
    installment_updates: list[dict[str, Any]],
    charge_updates: list[dict[str, Any]],
    allocation_rows: list[dict[str, Any]],
) -> None:
    if installment_updates:
        # ORM bulk UPDATE by primary key: one executemany, no per-row round-trip
        db_session.execute(update(Installment), installment_updates)
    if charge_updates:
        table = cast(Table, Charge.__table__)
        db_session.execute(
            update(table)
            .where(table.c.id == bindparam("charge_id"))
            .values(paid=bindparam("paid")),
            charge_updates,
        )
    db_session.execute(delete(Allocation).where(Allocation.loan_id.in_(loan_ids)))
    if allocation_rows:
        db_session.execute(insert(Allocation), allocation_rows)


def _write_credit(db_session: Session, rows: list[dict[str, Any]]) -> None:
    # A Core update keyed by id leaves the optimistic-lock version alone: derived state
    # is not a user edit.
    if not rows:
        return
    table = cast(Table, Loan.__table__)
    db_session.execute(
        update(table).where(table.c.id == bindparam("loan_id")).values(credit=bindparam("credit")),
        rows,
    )


def _expire_derived(db_session: Session, loan_ids: Collection[int]) -> None:
    """Objects already loaded in the session must not show the old derived state."""
    ids = set(loan_ids)
    for obj in list(db_session.identity_map.values()):
        if isinstance(obj, Loan) and obj.id in ids:
            db_session.expire(obj, ["credit"])
        elif isinstance(obj, Installment | Charge | Allocation) and obj.loan_id in ids:
            db_session.expire(obj)
