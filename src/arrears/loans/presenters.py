"""How schedules and loans are shown to tools and people: the API and the CLI share these."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arrears.kit.money import format_minor
from arrears.ledger.models import Charge
from arrears.loans.models import Installment, Loan
from arrears.loans.schedule import Schedule


class LoanSummaryOut(BaseModel):
    """A loan in a list: its terms and what is still owed, without the schedule."""

    loan_ref: str
    customer_ref: str | None
    product_code: str
    currency: str
    principal: str = Field(examples=["630000.00"])
    annual_rate: str = Field(description="Percent per year.", examples=["4.9"])
    term_months: int
    disbursed_on: date
    first_due_on: date
    status: str
    schedule_source: str
    credit: str = Field(description="Overpayment held for the borrower.", examples=["0.00"])
    outstanding: str = Field(
        description="Installments and charges still unpaid.", examples=["0.00"]
    )
    version: int


def schedule_json(schedule: Schedule, currency: str) -> dict[str, Any]:
    """A generated schedule as JSON: decimal-string amounts, ISO dates (API and CLI ``--json``)."""
    return {
        "installments": [
            {
                "number": row.number,
                "due_date": row.due_on.isoformat(),
                "principal": format_minor(row.principal, currency),
                "interest": format_minor(row.interest, currency),
                "fee": format_minor(row.fee, currency),
                "total": format_minor(row.total, currency),
                "balance_after": format_minor(row.balance_after, currency),
            }
            for row in schedule.installments
        ],
        "total_interest": format_minor(schedule.total_interest, currency),
        "total_repayment": format_minor(schedule.total_repayment, currency),
    }


def outstanding_by_loan(*, db_session: Session, loan_ids: Collection[int]) -> dict[int, int]:
    """What is still owed per loan, minor units: unpaid installments plus unpaid charges.

    Three queries however many loans, and the same total as ``loan_view``'s.
    """
    if not loan_ids:
        return {}
    ids = list(loan_ids)
    unpaid = func.sum(Installment.owed)
    owed: dict[int, int] = {}
    for loan_id, total in db_session.execute(
        select(Installment.loan_id, unpaid)
        .where(Installment.loan_id.in_(ids))
        .group_by(Installment.loan_id)
    ):
        owed[loan_id] = int(total or 0)
    for loan_id, total in db_session.execute(
        select(Charge.loan_id, func.sum(Charge.amount - Charge.paid))
        .where(Charge.loan_id.in_(ids))
        .group_by(Charge.loan_id)
    ):
        owed[loan_id] = owed.get(loan_id, 0) + int(total or 0)
    from arrears.delinquency.models import LoanState

    # the open accrual span's penalty, held with the loan's state (not yet in charges)
    for loan_id, total in db_session.execute(
        select(LoanState.loan_id, LoanState.open_penalty).where(
            LoanState.loan_id.in_(ids), LoanState.open_penalty != 0
        )
    ):
        owed[loan_id] = owed.get(loan_id, 0) + int(total)
    return owed


def loan_summary(loan: Loan, *, customer_ref: str | None, outstanding: int) -> dict[str, Any]:
    """One line of a loan list: its terms and what is still owed, without the schedule."""
    currency = loan.currency
    return {
        "loan_ref": loan.loan_ref,
        "customer_ref": customer_ref,
        "product_code": loan.product.code,
        "currency": currency,
        "principal": format_minor(loan.principal, currency),
        "annual_rate": str(loan.annual_rate),
        "term_months": loan.term_months,
        "disbursed_on": loan.disbursed_on.isoformat(),
        "first_due_on": loan.first_due_on.isoformat(),
        "status": loan.status,
        "schedule_source": loan.schedule_source,
        "credit": format_minor(loan.credit, currency),
        "outstanding": format_minor(outstanding, currency),
        "version": loan.version,
    }


def loan_summaries(
    *, db_session: Session, loans: Sequence[Loan], customer_refs: dict[int, str]
) -> list[dict[str, Any]]:
    """Summaries of ``loans`` (a page of them); ``customer_refs`` maps customer id to ref."""
    owed = outstanding_by_loan(db_session=db_session, loan_ids=[loan.id for loan in loans])
    return [
        loan_summary(
            loan,
            customer_ref=customer_refs.get(loan.customer_id),
            outstanding=owed.get(loan.id, 0),
        )
        for loan in loans
    ]


def customer_loan_summaries(
    *, db_session: Session, customer_id: int, customer_ref: str
) -> list[dict[str, Any]]:
    """Every loan of one customer, summarised, oldest disbursement first."""
    loans = db_session.scalars(
        select(Loan).where(Loan.customer_id == customer_id).order_by(Loan.disbursed_on, Loan.id)
    ).all()
    return loan_summaries(
        db_session=db_session, loans=loans, customer_refs={customer_id: customer_ref}
    )
