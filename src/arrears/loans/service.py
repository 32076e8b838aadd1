"""Loans: creating them with their schedules, finding them, showing their state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from arrears.auth.principal import Principal
from arrears.auth.scope import apply_scope
from arrears.customers import service as customers
from arrears.kit.dates import DayCount
from arrears.kit.errors import Conflict, NotFound, ValidationFailed
from arrears.kit.money import Rounding, check_currency, format_minor, to_minor
from arrears.loans import products
from arrears.loans.models import Installment, Loan, LoanStatus, Product, ScheduleSource
from arrears.loans.schedule import LoanTerms, Method, Schedule, ScheduleError, generate


@dataclass(frozen=True)
class LoanSpec:
    """What a new loan is made of (amounts as decimals, rate in percent per year)."""

    loan_ref: str
    customer_ref: str
    product_code: str
    principal: Decimal
    annual_rate: Decimal
    term_months: int
    disbursed_on: date
    first_due_on: date
    currency: str | None = None


def terms_for(
    product: Product,
    *,
    principal: int,
    annual_rate: Decimal,
    term_months: int,
    first_due_on: date,
    disbursed_on: date | None,
) -> LoanTerms:
    """Schedule terms of a loan under ``product``."""
    return LoanTerms(
        principal=principal,
        annual_rate=annual_rate,
        months=term_months,
        method=Method(product.method),
        first_due_on=first_due_on,
        disbursed_on=disbursed_on,
        day_count=DayCount(product.day_count),
        rounding=Rounding(product.rounding),
        rounding_unit=products.rounding_unit_minor(product.rounding_unit, product.currency),
    )


def loan_terms(loan: Loan) -> LoanTerms:
    """Schedule terms of a stored loan."""
    return terms_for(
        loan.product,
        principal=loan.principal,
        annual_rate=loan.annual_rate,
        term_months=loan.term_months,
        first_due_on=loan.first_due_on,
        disbursed_on=loan.disbursed_on,
    )


def schedule_rows(loan_id: int, schedule: Schedule) -> list[dict[str, Any]]:
    """Installment rows of a schedule, ready for a bulk insert."""
    return [
        {
            "loan_id": loan_id,
            "number": i.number,
            "due_on": i.due_on,
            "principal": i.principal,
            "interest": i.interest,
            "fee": i.fee,
            "paid_principal": 0,
            "paid_interest": 0,
            "paid_fee": 0,
        }
        for i in schedule.installments
    ]


def get(*, db_session: Session, loan_id: int) -> Loan | None:
    """The loan with ``loan_id``, if any."""
    return db_session.get(Loan, loan_id)


def get_by_ref(
    *,
    db_session: Session,
    loan_ref: str,
    for_update: bool = False,
    principal: Principal | None = None,
) -> Loan | None:
    """The loan with ``loan_ref``, if any (and, given a principal, in their scope)."""
    query = select(Loan).where(Loan.loan_ref == loan_ref)
    if principal is not None:
        query = apply_scope(principal, query, Loan)
    if for_update:
        query = query.with_for_update(of=Loan)
    return db_session.scalar(query)


def get_by_ref_or_raise(
    *,
    db_session: Session,
    loan_ref: str,
    for_update: bool = False,
    principal: Principal | None = None,
) -> Loan:
    """The loan with ``loan_ref``; ``NotFound`` otherwise, also when it is outside the scope
    of ``principal`` (so its existence is not given away)."""
    loan = get_by_ref(
        db_session=db_session, loan_ref=loan_ref, for_update=for_update, principal=principal
    )
    if loan is None:
        raise NotFound(f"there is no loan with reference '{loan_ref}'", code="loan_not_found")
    return loan


def create(*, db_session: Session, spec: LoanSpec, principal: Principal | None = None) -> Loan:
    """Create a loan and its generated schedule; refuses a reference already in use.

    Given a principal, the customer must be in their scope.
    """
    if get_by_ref(db_session=db_session, loan_ref=spec.loan_ref) is not None:
        raise Conflict(f"loan '{spec.loan_ref}' already exists", code="loan_exists")
    customer = customers.get_by_ref_or_raise(
        db_session=db_session, customer_ref=spec.customer_ref, principal=principal
    )
    product = products.get_by_code_or_raise(db_session=db_session, code=spec.product_code)
    currency = check_currency(spec.currency or product.currency)
    if currency != product.currency:
        raise ValidationFailed(
            f"loan currency {currency} differs from product {product.code}'s {product.currency}",
            code="currency_mismatch",
        )
    principal_minor = to_minor(spec.principal, currency, field="principal")
    terms = terms_for(
        product,
        principal=principal_minor,
        annual_rate=spec.annual_rate,
        term_months=spec.term_months,
        first_due_on=spec.first_due_on,
        disbursed_on=spec.disbursed_on,
    )
    try:
        schedule = generate(terms)
    except ScheduleError as exc:
        raise ValidationFailed(str(exc), code=exc.code) from None
    loan = Loan(
        loan_ref=spec.loan_ref,
        customer_id=customer.id,
        product_id=product.id,
        currency=currency,
        principal=principal_minor,
        annual_rate=spec.annual_rate,
        term_months=spec.term_months,
        disbursed_on=spec.disbursed_on,
        first_due_on=spec.first_due_on,
        status=LoanStatus.ACTIVE.value,
        schedule_source=ScheduleSource.GENERATED.value,
        credit=0,
    )
    db_session.add(loan)
    db_session.flush()
    db_session.execute(insert(Installment), schedule_rows(loan.id, schedule))
    return loan


def replace_schedule(*, db_session: Session, loan: Loan, schedule: Schedule) -> None:
    """Replace a loan's schedule with one imported from the core banking system."""
    db_session.execute(delete(Installment).where(Installment.loan_id == loan.id))
    db_session.execute(insert(Installment), schedule_rows(loan.id, schedule))
    loan.schedule_source = ScheduleSource.IMPORTED.value


def installments_of(*, db_session: Session, loan_id: int) -> Sequence[Installment]:
    """A loan's installments in order."""
    return db_session.scalars(
        select(Installment).where(Installment.loan_id == loan_id).order_by(Installment.number)
    ).all()


def installment_view(
    row: Installment, currency: str, charged: dict[str, int] | None = None
) -> dict[str, Any]:
    """An installment as shown to people and tools (decimal strings).

    ``charged`` adds the fees and penalty interest charged on it (from the daily run).
    """
    extra = charged or {"fee": 0, "penalty": 0, "fee_outstanding": 0, "penalty_outstanding": 0}
    outstanding = {
        "principal": row.principal - row.paid_principal,
        "interest": row.interest - row.paid_interest,
        "fee": row.fee - row.paid_fee + extra["fee_outstanding"],
        "penalty": extra["penalty_outstanding"],
    }
    paid = {
        "principal": row.paid_principal,
        "interest": row.paid_interest,
        "fee": row.paid_fee + extra["fee"] - extra["fee_outstanding"],
        "penalty": extra["penalty"] - extra["penalty_outstanding"],
    }
    return {
        "number": row.number,
        "due_date": row.due_on.isoformat(),
        "principal": format_minor(row.principal, currency),
        "interest": format_minor(row.interest, currency),
        "fee": format_minor(row.fee, currency),
        "total": format_minor(row.principal + row.interest + row.fee, currency),
        "charged": {
            "fee": format_minor(extra["fee"], currency),
            "penalty": format_minor(extra["penalty"], currency),
        },
        "paid": {k: format_minor(v, currency) for k, v in paid.items()},
        "outstanding": {
            **{k: format_minor(v, currency) for k, v in outstanding.items()},
            "total": format_minor(sum(outstanding.values()), currency),
        },
    }


def loan_view(*, db_session: Session, loan: Loan) -> dict[str, Any]:
    """A loan with its schedule, allocation and delinquency state (``loan show --json``, API)."""
    from arrears.customers.models import Customer
    from arrears.delinquency import service as delinquency

    currency = loan.currency
    rows = installments_of(db_session=db_session, loan_id=loan.id)
    charged = delinquency.charges_by_installment(db_session, loan.id)
    views = [installment_view(row, currency, charged.get(row.number)) for row in rows]
    customer = db_session.get(Customer, loan.customer_id)
    outstanding = {
        "principal": sum(r.principal - r.paid_principal for r in rows),
        "interest": sum(r.interest - r.paid_interest for r in rows),
        "fee": sum(r.fee - r.paid_fee for r in rows)
        + sum(c["fee_outstanding"] for c in charged.values()),
        "penalty": sum(c["penalty_outstanding"] for c in charged.values()),
    }
    return {
        "loan_ref": loan.loan_ref,
        "customer_ref": customer.customer_ref if customer else None,
        "product_code": loan.product.code,
        "currency": currency,
        "principal": format_minor(loan.principal, currency),
        "annual_rate": str(loan.annual_rate),
        "term_months": loan.term_months,
        "method": loan.product.method,
        "disbursed_on": loan.disbursed_on.isoformat(),
        "first_due_on": loan.first_due_on.isoformat(),
        "status": loan.status,
        "schedule_source": loan.schedule_source,
        "credit": format_minor(loan.credit, currency),
        "outstanding": {
            **{k: format_minor(v, currency) for k, v in outstanding.items()},
            "total": format_minor(sum(outstanding.values()), currency),
        },
        **delinquency.state_view(db_session, loan),
        "installments": views,
    }
