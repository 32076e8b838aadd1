"""Payment, reversal, charge and allocation routes.

Payments and charges are visible when their loan is: outside the caller's data scope they
answer 404, as if they did not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.auth.deps import PaymentsRead, PaymentsReverse, PaymentsWrite
from arrears.auth.principal import Principal
from arrears.auth.scope import apply_scope
from arrears.delinquency import service as delinquency
from arrears.kit.errors import NotFound, ValidationFailed
from arrears.kit.http import BusinessDate, DbSession, PositiveAmount, Reference, problem_responses
from arrears.kit.money import format_minor
from arrears.kit.pagination import (
    AnySelect,
    Page,
    PageQuery,
    SortOrder,
    paginate,
    sorting,
    where_given,
)
from arrears.ledger import service as ledger
from arrears.ledger.models import Allocation, Charge, ChargeKind, Payment, PaymentStatus
from arrears.loans import service as loans
from arrears.loans.models import Loan

router = APIRouter()


# --- schemas ---------------------------------------------------------------------------


class PaymentBody(BaseModel):
    """A payment received for a loan. Posting the same ``payment_ref`` again is a no-op."""

    model_config = ConfigDict(extra="forbid")

    payment_ref: Reference
    loan_ref: Reference
    value_date: BusinessDate
    amount: PositiveAmount
    channel: str = Field(
        default="bank_transfer", max_length=32, json_schema_extra={"enum": list(ledger.CHANNELS)}
    )

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        try:
            return ledger.check_channel(value)
        except ValidationFailed as exc:
            raise ValueError(exc.message) from None


class ReversalBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, examples=["cheque bounced"])

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a reversal needs a reason")
        return value.strip()


class ChargeBody(BaseModel):
    """A penalty or fee charged against one installment."""

    model_config = ConfigDict(extra="forbid")

    installment_number: int = Field(ge=1, le=10_000)
    kind: ChargeKind
    charged_on: BusinessDate
    amount: PositiveAmount
    description: str | None = Field(default=None, max_length=500)


class AllocationOut(BaseModel):
    """Part of a payment applied to one component; ``credit`` is money held for later."""

    installment_number: int | None
    component: str = Field(examples=["interest"])
    charge_id: int | None
    amount: str = Field(examples=["408.33"])


class LoanAllocationOut(AllocationOut):
    payment_ref: str
    value_date: date


class PaymentOut(BaseModel):
    payment_ref: str
    loan_ref: str
    currency: str
    value_date: date
    amount: str = Field(examples=["1055.77"])
    channel: str
    status: PaymentStatus
    reversed_at: datetime | None
    reversal_reason: str | None
    created_at: datetime


class PaymentDetailOut(PaymentOut):
    allocations: list[AllocationOut]


class ChargeOut(BaseModel):
    id: int | None = Field(
        description="None for a penalty still accruing: the loan's open accrual span, "
        "held with its state until the span closes (then it becomes a charge with an id)."
    )
    loan_ref: str
    installment_number: int
    kind: ChargeKind
    charged_on: date
    amount: str
    paid: str
    outstanding: str
    source: str
    description: str | None
    created_at: datetime
    accruing: bool = Field(
        default=False, description="The open accrual span's penalty, accrued up to charged_on."
    )


class LoanAllocationsOut(BaseModel):
    loan_ref: str
    currency: str
    credit: str = Field(description="Overpayment held for the borrower.")
    items: list[LoanAllocationOut]


class LoanChargesOut(BaseModel):
    loan_ref: str
    currency: str
    items: list[ChargeOut]


# --- presentation ----------------------------------------------------------------------


def present_payment(payment: Payment, loan: Loan) -> PaymentOut:
    """A payment as the API shows it."""
    return PaymentOut(
        payment_ref=payment.payment_ref,
        loan_ref=loan.loan_ref,
        currency=loan.currency,
        value_date=payment.value_date,
        amount=format_minor(payment.amount, loan.currency),
        channel=payment.channel,
        status=PaymentStatus(payment.status),
        reversed_at=payment.reversed_at,
        reversal_reason=payment.reversal_reason,
        created_at=payment.created_at,
    )


def present_payment_detail(db_session: Session, payment: Payment) -> PaymentDetailOut:
    """A payment with how it was allocated."""
    loan = db_session.get(Loan, payment.loan_id)
    assert loan is not None  # a foreign key guarantees it
    rows = db_session.scalars(
        select(Allocation).where(Allocation.payment_id == payment.id).order_by(Allocation.id)
    ).all()
    return PaymentDetailOut(
        **present_payment(payment, loan).model_dump(),
        allocations=[
            AllocationOut(
                installment_number=row.installment_number,
                component=row.component,
                charge_id=row.charge_id,
                amount=format_minor(row.amount, loan.currency),
            )
            for row in rows
        ],
    )


def present_charge(charge: Charge, loan: Loan) -> ChargeOut:
    """A charge as the API shows it."""
    currency = loan.currency
    return ChargeOut(
        id=charge.id,
        loan_ref=loan.loan_ref,
        installment_number=charge.installment_number,
        kind=ChargeKind(charge.kind),
        charged_on=charge.charged_on,
        amount=format_minor(charge.amount, currency),
        paid=format_minor(charge.paid, currency),
        outstanding=format_minor(charge.amount - charge.paid, currency),
        source=charge.source,
        description=charge.description,
        created_at=charge.created_at,
    )


def present_open_charge(charge: delinquency.OpenSpanCharge, loan: Loan) -> ChargeOut:
    """A penalty of the loan's open accrual span as the API shows it (no id yet)."""
    amount = format_minor(charge.amount, loan.currency)
    return ChargeOut(
        id=None,
        loan_ref=loan.loan_ref,
        installment_number=charge.installment_number,
        kind=ChargeKind.PENALTY,
        charged_on=charge.charged_on,
        amount=amount,
        paid=format_minor(0, loan.currency),
        outstanding=amount,
        source="accrual",
        description=f"penalty accruing since {charge.accrued_from.isoformat()}",
        created_at=charge.updated_at,
        accruing=True,
    )


def get_payment_or_raise(db_session: Session, payment_ref: str, principal: Principal) -> Payment:
    """The payment with ``payment_ref`` if the principal may see it; ``NotFound`` otherwise."""
    payment = ledger.get_payment_by_ref(
        db_session=db_session, payment_ref=payment_ref, principal=principal
    )
    if payment is None:
        raise NotFound(
            f"there is no payment with reference '{payment_ref}'", code="payment_not_found"
        )
    return payment


# --- queries ---------------------------------------------------------------------------

PAYMENT_SORT = sorting(
    {
        "value_date": Payment.value_date,
        "payment_ref": Payment.payment_ref,
        "amount": Payment.amount,
        "created_at": Payment.created_at,
    },
    default="-value_date",
    tiebreaker=Payment.id,
)


def payment_search(
    *,
    loan_ref: str | None,
    status: PaymentStatus | None,
    value_date_from: date | None,
    value_date_to: date | None,
) -> AnySelect:
    """Payments matching every given filter (the loan matched by subquery, not joined)."""
    query: AnySelect = select(Payment)
    query = where_given(query, {Payment.status: status.value if status else None})
    if loan_ref is not None:
        query = query.where(Payment.loan_id.in_(select(Loan.id).where(Loan.loan_ref == loan_ref)))
    if value_date_from is not None:
        query = query.where(Payment.value_date >= value_date_from)
    if value_date_to is not None:
        query = query.where(Payment.value_date <= value_date_to)
    return query


def loans_of(db_session: Session, payments: Sequence[Payment]) -> dict[int, Loan]:
    """The loans of ``payments`` by id (one query for a page)."""
    ids = {payment.loan_id for payment in payments}
    if not ids:
        return {}
    return {loan.id: loan for loan in db_session.scalars(select(Loan).where(Loan.id.in_(ids)))}


# --- payments --------------------------------------------------------------------------


@router.post(
    "/payments",
    tags=["payments"],
    status_code=201,
    response_model=PaymentDetailOut,
    responses={
        200: {"description": "Already posted with these details.", "model": PaymentDetailOut},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
def post_payment(
    body: PaymentBody, db_session: DbSession, principal: PaymentsWrite, response: Response
) -> Any:
    """Post a payment and allocate it: 201 when new, 200 with the same payment when repeated.

    A ``payment_ref`` already used for another loan, amount or value date is a 409.
    """
    loans.get_by_ref_or_raise(db_session=db_session, loan_ref=body.loan_ref, principal=principal)
    payment, created = ledger.post_payment(
        db_session=db_session,
        payment=ledger.PaymentIn(
            payment_ref=body.payment_ref,
            loan_ref=body.loan_ref,
            value_date=body.value_date,
            amount=body.amount,
            channel=body.channel,
        ),
    )
    response.headers["Location"] = f"/api/v1/payments/{payment.payment_ref}"
    if not created:
        response.status_code = 200
    return present_payment_detail(db_session, payment)


@router.get(
    "/payments",
    tags=["payments"],
    response_model=Page[PaymentOut],
    responses=problem_responses(401, 403, 422),
)
def list_payments(
    db_session: DbSession,
    principal: PaymentsRead,
    page: PageQuery,
    order: Annotated[SortOrder, Depends(PAYMENT_SORT)],
    loan_ref: Annotated[str | None, Query(max_length=64)] = None,
    status: PaymentStatus | None = None,
    value_date_from: Annotated[date | None, Query(description="On or after.")] = None,
    value_date_to: Annotated[date | None, Query(description="On or before.")] = None,
) -> Page[PaymentOut]:
    """Search payments; paginated and sortable (newest value date first by default)."""
    query = payment_search(
        loan_ref=loan_ref,
        status=status,
        value_date_from=value_date_from,
        value_date_to=value_date_to,
    )
    rows, total = paginate(db_session, apply_scope(principal, query, Payment), page, order)
    loans_by_id = loans_of(db_session, rows)
    return Page[PaymentOut](
        items=[present_payment(payment, loans_by_id[payment.loan_id]) for payment in rows],
        total=total,
        page=page.page,
        page_size=page.page_size,
    )


@router.get(
    "/payments/{payment_ref}",
    tags=["payments"],
    response_model=PaymentDetailOut,
    responses=problem_responses(401, 403, 404),
)
def get_payment(payment_ref: str, db_session: DbSession, principal: PaymentsRead) -> Any:
    """A payment with its allocations."""
    payment = get_payment_or_raise(db_session, payment_ref, principal)
    return present_payment_detail(db_session, payment)


@router.post(
    "/payments/{payment_ref}/reverse",
    tags=["payments"],
    response_model=PaymentDetailOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def reverse_payment(
    payment_ref: str, body: ReversalBody, db_session: DbSession, principal: PaymentsReverse
) -> Any:
    """Reverse a payment; its loan is re-allocated as if it had never been paid."""
    get_payment_or_raise(db_session, payment_ref, principal)
    payment = ledger.reverse_payment(
        db_session=db_session, payment_ref=payment_ref, reason=body.reason
    )
    return present_payment_detail(db_session, payment)


# --- loans' ledger ---------------------------------------------------------------------


@router.post(
    "/loans/{loan_ref}/charges",
    tags=["loans"],
    status_code=201,
    response_model=ChargeOut,
    responses=problem_responses(401, 403, 404, 422),
)
def add_charge(
    loan_ref: str, body: ChargeBody, db_session: DbSession, principal: PaymentsWrite
) -> Any:
    """Charge a penalty, late fee or fee against one installment; the loan is re-allocated."""
    loan = loans.get_by_ref_or_raise(
        db_session=db_session, loan_ref=loan_ref, for_update=True, principal=principal
    )
    charge = ledger.add_charge(
        db_session=db_session,
        loan=loan,
        installment_number=body.installment_number,
        kind=body.kind,
        charged_on=body.charged_on,
        amount=body.amount,
        description=body.description,
    )
    return present_charge(charge, loan)


@router.get(
    "/loans/{loan_ref}/charges",
    tags=["loans"],
    response_model=LoanChargesOut,
    responses=problem_responses(401, 403, 404),
)
def list_charges(loan_ref: str, db_session: DbSession, principal: PaymentsRead) -> Any:
    """A loan's penalties and fees, with what has been paid of each."""
    loan = loans.get_by_ref_or_raise(db_session=db_session, loan_ref=loan_ref, principal=principal)
    rows = db_session.scalars(
        select(Charge)
        .where(Charge.loan_id == loan.id)
        .order_by(Charge.installment_number, Charge.charged_on, Charge.id)
    ).all()
    items = [present_charge(row, loan) for row in rows]
    accruing = delinquency.open_span_charges(db_session, [loan.id]).get(loan.id, [])
    items.extend(present_open_charge(charge, loan) for charge in accruing)
    # the open span's penalty is the latest charge of its installment
    items.sort(key=lambda c: (c.installment_number, c.charged_on, c.accruing, c.id or 0))
    return LoanChargesOut(loan_ref=loan.loan_ref, currency=loan.currency, items=items)


@router.get(
    "/loans/{loan_ref}/allocations",
    tags=["loans"],
    response_model=LoanAllocationsOut,
    responses=problem_responses(401, 403, 404),
)
def list_allocations(loan_ref: str, db_session: DbSession, principal: PaymentsRead) -> Any:
    """How each posted payment of a loan was applied, in the order it was applied."""
    loan = loans.get_by_ref_or_raise(db_session=db_session, loan_ref=loan_ref, principal=principal)
    rows = db_session.execute(
        select(Allocation, Payment.payment_ref, Payment.value_date)
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(Allocation.loan_id == loan.id)
        .order_by(Payment.value_date, Payment.id, Allocation.id)
    ).all()
    currency = loan.currency
    return LoanAllocationsOut(
        loan_ref=loan.loan_ref,
        currency=currency,
        credit=format_minor(loan.credit, currency),
        items=[
            LoanAllocationOut(
                payment_ref=payment_ref,
                value_date=value_date,
                installment_number=row.installment_number,
                component=row.component,
                charge_id=row.charge_id,
                amount=format_minor(row.amount, currency),
            )
            for row, payment_ref, value_date in rows
        ],
    )
