"""Small builders for tests: a product, a customer, a loan, through the real services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from arrears.customers import service as customers
from arrears.customers.schemas import CustomerIn
from arrears.loans import products
from arrears.loans import service as loans
from arrears.loans.models import Loan, Product


def make_product(db_session: Session, **overrides: Any) -> Product:
    spec = {"code": "CASH", "name": "现金贷", "method": "annuity", **overrides}
    product, _ = products.upsert(db_session=db_session, spec=products.ProductSpec(**spec))
    return product


def make_customer(db_session: Session, ref: str = "C1", **overrides: Any) -> Any:
    spec = {"customer_ref": ref, "name": "张三", "id_number": "11010519491231002X", **overrides}
    return customers.create(db_session=db_session, spec=CustomerIn(**spec))


def make_loan(
    db_session: Session,
    ref: str = "L1",
    *,
    customer_ref: str = "C1",
    product_code: str = "CASH",
    principal: str = "1200.00",
    annual_rate: str = "12",
    months: int = 12,
    disbursed_on: date = date(2024, 1, 1),
    first_due_on: date = date(2024, 2, 1),
) -> Loan:
    return loans.create(
        db_session=db_session,
        spec=loans.LoanSpec(
            loan_ref=ref,
            customer_ref=customer_ref,
            product_code=product_code,
            principal=Decimal(principal),
            annual_rate=Decimal(annual_rate),
            term_months=months,
            disbursed_on=disbursed_on,
            first_due_on=first_due_on,
        ),
    )
