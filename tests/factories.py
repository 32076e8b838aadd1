"""Small builders for tests: a product, a customer, a loan, through the real services, and
signed-in users."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from arrears.auth import service as auth
from arrears.auth.models import SessionKind
from arrears.customers import service as customers
from arrears.customers.schemas import CustomerIn
from arrears.kit.db import unit_of_work
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


# Meets the password policy; the password of every test user unless a test says otherwise.
TEST_PASSWORD = "Quiet-Harbour-Lantern-42"


def bearer_token(engine: Engine, username: str, role: str = "admin", **user: object) -> str:
    """A bearer token of a new user ``username`` with ``role`` (created and committed)."""
    if role == "agency":
        user.setdefault("agency", "Acme Recoveries")
    with unit_of_work(engine) as session:
        account = auth.get_by_username(db_session=session, username=username)
        if account is None:
            account = auth.create_user(
                db_session=session,
                username=username,
                password=TEST_PASSWORD,
                role=role,
                **user,  # type: ignore[arg-type]
            )
        signed_in = auth.start_session(db_session=session, user=account, kind=SessionKind.BEARER)
        return signed_in.issued.token
