"""Product, loan and loan-calculator routes.

Loans outside the caller's data scope answer 404, as if they did not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.auth.deps import LoansRead, LoansWrite, ProductsRead, ProductsWrite, SchedulePreview
from arrears.auth.scope import apply_scope
from arrears.customers.models import Customer
from arrears.kit.dates import DayCount
from arrears.kit.errors import Conflict, ValidationFailed
from arrears.kit.http import (
    AnnualRate,
    BusinessDate,
    DbSession,
    PositiveAmount,
    Reference,
    problem_responses,
)
from arrears.kit.money import Rounding, check_currency, to_minor
from arrears.kit.pagination import (
    AnySelect,
    Page,
    PageQuery,
    SortOrder,
    paginate,
    sorting,
    where_given,
)
from arrears.kit.settings import get_settings
from arrears.loans import products
from arrears.loans import service as loans
from arrears.loans.models import Loan, LoanStatus, Product
from arrears.loans.presenters import LoanSummaryOut, loan_summaries, schedule_json
from arrears.loans.products import ProductSpec
from arrears.loans.schedule import LoanTerms, Method, ScheduleError, generate

router = APIRouter()

MAX_TERM_MONTHS = 600


# --- schemas ---------------------------------------------------------------------------


class ProductOut(ProductSpec):
    """A product as stored, with its edit metadata."""

    version: int
    created_at: datetime
    updated_at: datetime


class LoanIn(BaseModel):
    """A new loan; its schedule is generated from the product's method and rounding."""

    model_config = ConfigDict(extra="forbid")

    loan_ref: Reference
    customer_ref: Reference
    product_code: Reference
    principal: PositiveAmount
    annual_rate: AnnualRate
    term_months: int = Field(ge=1, le=MAX_TERM_MONTHS)
    disbursed_on: BusinessDate
    first_due_on: BusinessDate
    currency: str | None = Field(
        default=None, max_length=3, description="Defaults to the product's currency."
    )

    @model_validator(mode="after")
    def _dates(self) -> LoanIn:
        if self.first_due_on <= self.disbursed_on:
            raise ValueError("first_due_on must be after disbursed_on")
        return self


class SchedulePreviewIn(BaseModel):
    """Terms for the loan calculator; nothing is stored."""

    model_config = ConfigDict(extra="forbid")

    principal: PositiveAmount
    annual_rate: AnnualRate
    months: int = Field(ge=1, le=MAX_TERM_MONTHS)
    method: Method
    first_due: BusinessDate
    disbursed: BusinessDate | None = Field(
        default=None,
        description="Disbursement date; when given, the first period's interest runs from it.",
    )
    day_count: DayCount = DayCount.THIRTY_360
    rounding: Rounding = Rounding.HALF_UP
    rounding_unit: Literal["cent", "unit"] = "cent"
    currency: str = Field(default_factory=lambda: get_settings().default_currency, max_length=3)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        try:
            return check_currency(value)
        except ValidationFailed as exc:
            raise ValueError(exc.message) from None

    @model_validator(mode="after")
    def _dates(self) -> SchedulePreviewIn:
        if self.disbursed is not None and self.first_due <= self.disbursed:
            raise ValueError("first_due must be after disbursed")
        return self


class ScheduleRowOut(BaseModel):
    number: int
    due_date: date
    principal: str = Field(examples=["1763.08"])
    interest: str = Field(examples=["2572.50"])
    fee: str = Field(examples=["0.00"])
    total: str = Field(examples=["3343.58"])
    balance_after: str = Field(examples=["628236.92"])


class SchedulePreviewOut(BaseModel):
    installments: list[ScheduleRowOut]
    total_interest: str = Field(examples=["573688.80"])
    total_repayment: str = Field(examples=["1203688.80"])


class ComponentsOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    principal: str
    interest: str
    fee: str


class OutstandingOut(ComponentsOut):
    total: str


class InstallmentOut(BaseModel):
    """An installment with what has been paid of it and what is still owed."""

    model_config = ConfigDict(extra="allow")

    number: int
    due_date: date
    principal: str
    interest: str
    fee: str
    total: str
    paid: ComponentsOut
    outstanding: OutstandingOut


class LoanDetailOut(BaseModel):
    """A loan with its schedule and allocation state."""

    model_config = ConfigDict(extra="allow")

    loan_ref: str
    customer_ref: str | None
    product_code: str
    currency: str
    principal: str
    annual_rate: str = Field(description="Percent per year.")
    term_months: int
    method: str
    disbursed_on: date
    first_due_on: date
    status: str
    schedule_source: str
    credit: str
    outstanding: OutstandingOut
    installments: list[InstallmentOut]


class InstallmentsOut(BaseModel):
    loan_ref: str
    currency: str
    items: list[InstallmentOut]


# --- presentation ----------------------------------------------------------------------


def present_product(product: Product) -> ProductOut:
    """A stored product as the API shows it."""
    return ProductOut(
        **products.product_to_spec(product).model_dump(),
        version=product.version,
        created_at=product.created_at,
        updated_at=product.updated_at,
    )


# --- queries ---------------------------------------------------------------------------

PRODUCT_SORT = sorting(
    {"code": Product.code, "name": Product.name, "created_at": Product.created_at},
    default="code",
    tiebreaker=Product.id,
)
LOAN_SORT = sorting(
    {"loan_ref": Loan.loan_ref, "disbursed_on": Loan.disbursed_on, "principal": Loan.principal},
    default="loan_ref",
    tiebreaker=Loan.id,
)


def loan_search(
    *,
    customer_ref: str | None,
    product_code: str | None,
    status: LoanStatus | None,
    disbursed_from: date | None,
    disbursed_to: date | None,
) -> AnySelect:
    """Loans matching every given filter.

    Customers and products are matched by subquery rather than joined, so counting a
    million loans stays a scan of one table.
    """
    query: AnySelect = select(Loan)
    query = where_given(query, {Loan.status: status.value if status else None})
    if customer_ref is not None:
        query = query.where(
            Loan.customer_id.in_(select(Customer.id).where(Customer.customer_ref == customer_ref))
        )
    if product_code is not None:
        query = query.where(
            Loan.product_id.in_(select(Product.id).where(Product.code == product_code))
        )
    if disbursed_from is not None:
        query = query.where(Loan.disbursed_on >= disbursed_from)
    if disbursed_to is not None:
        query = query.where(Loan.disbursed_on <= disbursed_to)
    return query


def customer_refs_of(db_session: Session, loans: Sequence[Loan]) -> dict[int, str]:
    """Customer id → reference for the customers of ``loans`` (one query for a page)."""
    ids = {loan.customer_id for loan in loans}
    if not ids:
        return {}
    rows = db_session.execute(
        select(Customer.id, Customer.customer_ref).where(Customer.id.in_(ids))
    ).all()
    return {customer_id: ref for customer_id, ref in rows}


# --- products --------------------------------------------------------------------------


@router.get(
    "/products",
    tags=["products"],
    response_model=Page[ProductOut],
    responses=problem_responses(401, 403, 422),
)
def list_products(
    db_session: DbSession,
    principal: ProductsRead,
    page: PageQuery,
    order: Annotated[SortOrder, Depends(PRODUCT_SORT)],
) -> Page[ProductOut]:
    """Every product; paginated and sortable."""
    rows, total = paginate(db_session, select(Product), page, order)
    return Page[ProductOut](
        items=[present_product(p) for p in rows],
        total=total,
        page=page.page,
        page_size=page.page_size,
    )


@router.get(
    "/products/{code}",
    tags=["products"],
    response_model=ProductOut,
    responses=problem_responses(401, 403, 404),
)
def get_product(code: str, db_session: DbSession, principal: ProductsRead) -> ProductOut:
    """One product."""
    return present_product(products.get_by_code_or_raise(db_session=db_session, code=code))


@router.post(
    "/products",
    tags=["products"],
    status_code=201,
    response_model=ProductOut,
    responses=problem_responses(401, 403, 409, 422),
)
def create_product(
    body: ProductSpec, db_session: DbSession, principal: ProductsWrite, response: Response
) -> ProductOut:
    """Create a product; a code already in use is a 409 (use PUT to change a product)."""
    if products.get_by_code(db_session=db_session, code=body.code) is not None:
        raise Conflict(f"product '{body.code}' already exists", code="product_exists")
    product, _ = products.upsert(db_session=db_session, spec=body)
    response.headers["Location"] = f"/api/v1/products/{product.code}"
    return present_product(product)


@router.put(
    "/products/{code}",
    tags=["products"],
    response_model=ProductOut,
    responses={
        201: {"description": "Created.", "model": ProductOut},
        **problem_responses(401, 403, 422),
    },
)
def put_product(
    code: str,
    body: ProductSpec,
    db_session: DbSession,
    principal: ProductsWrite,
    response: Response,
) -> ProductOut:
    """Create the product or replace it with the body: 201 when created, 200 otherwise."""
    if body.code != code:
        raise ValidationFailed(
            f"the code in the path ('{code[:64]}') differs from the body's ('{body.code}')",
            code="code_mismatch",
        )
    product, outcome = products.upsert(db_session=db_session, spec=body)
    if outcome == "created":
        response.status_code = 201
        response.headers["Location"] = f"/api/v1/products/{product.code}"
    return present_product(product)


# --- loans -----------------------------------------------------------------------------


@router.get(
    "/loans",
    tags=["loans"],
    response_model=Page[LoanSummaryOut],
    responses=problem_responses(401, 403, 422),
)
def list_loans(
    db_session: DbSession,
    principal: LoansRead,
    page: PageQuery,
    order: Annotated[SortOrder, Depends(LOAN_SORT)],
    customer_ref: Annotated[str | None, Query(max_length=64)] = None,
    product_code: Annotated[str | None, Query(max_length=64)] = None,
    status: LoanStatus | None = None,
    disbursed_from: Annotated[date | None, Query(description="Disbursed on or after.")] = None,
    disbursed_to: Annotated[date | None, Query(description="Disbursed on or before.")] = None,
) -> Page[LoanSummaryOut]:
    """Search loans; paginated and sortable."""
    query = loan_search(
        customer_ref=customer_ref,
        product_code=product_code,
        status=status,
        disbursed_from=disbursed_from,
        disbursed_to=disbursed_to,
    )
    rows, total = paginate(db_session, apply_scope(principal, query, Loan), page, order)
    summaries = loan_summaries(
        db_session=db_session, loans=rows, customer_refs=customer_refs_of(db_session, rows)
    )
    return Page[LoanSummaryOut](
        items=[LoanSummaryOut.model_validate(s) for s in summaries],
        total=total,
        page=page.page,
        page_size=page.page_size,
    )


@router.post(
    "/loans",
    tags=["loans"],
    status_code=201,
    response_model=LoanDetailOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def create_loan(
    body: LoanIn, db_session: DbSession, principal: LoansWrite, response: Response
) -> Any:
    """Create a loan with the schedule its product generates."""
    loan = loans.create(
        db_session=db_session,
        spec=loans.LoanSpec(
            loan_ref=body.loan_ref,
            customer_ref=body.customer_ref,
            product_code=body.product_code,
            principal=body.principal,
            annual_rate=body.annual_rate,
            term_months=body.term_months,
            disbursed_on=body.disbursed_on,
            first_due_on=body.first_due_on,
            currency=body.currency,
        ),
        principal=principal,
    )
    response.headers["Location"] = f"/api/v1/loans/{loan.loan_ref}"
    return loans.loan_view(db_session=db_session, loan=loan)


@router.get(
    "/loans/{loan_ref}",
    tags=["loans"],
    response_model=LoanDetailOut,
    responses=problem_responses(401, 403, 404),
)
def get_loan(loan_ref: str, db_session: DbSession, principal: LoansRead) -> Any:
    """A loan with its schedule: paid and outstanding per installment, credit held."""
    loan = loans.get_by_ref_or_raise(db_session=db_session, loan_ref=loan_ref, principal=principal)
    return loans.loan_view(db_session=db_session, loan=loan)


@router.get(
    "/loans/{loan_ref}/installments",
    tags=["loans"],
    response_model=InstallmentsOut,
    responses=problem_responses(401, 403, 404),
)
def list_installments(
    loan_ref: str, db_session: DbSession, principal: LoansRead
) -> InstallmentsOut:
    """A loan's installments in order, with paid and outstanding amounts."""
    loan = loans.get_by_ref_or_raise(db_session=db_session, loan_ref=loan_ref, principal=principal)
    rows = loans.installments_of(db_session=db_session, loan_id=loan.id)
    return InstallmentsOut(
        loan_ref=loan.loan_ref,
        currency=loan.currency,
        items=[
            InstallmentOut.model_validate(loans.installment_view(row, loan.currency))
            for row in rows
        ],
    )


# --- loan calculator -------------------------------------------------------------------


@router.post(
    "/schedule/preview",
    tags=["schedule"],
    response_model=SchedulePreviewOut,
    responses=problem_responses(401, 403, 422),
)
def preview_schedule(body: SchedulePreviewIn, principal: SchedulePreview) -> Any:
    """The repayment schedule of the given terms, computed and not stored."""
    principal_minor = to_minor(body.principal, body.currency, field="principal")
    terms = LoanTerms(
        principal=principal_minor,
        annual_rate=body.annual_rate,
        months=body.months,
        method=body.method,
        first_due_on=body.first_due,
        disbursed_on=body.disbursed,
        day_count=body.day_count,
        rounding=body.rounding,
        rounding_unit=products.rounding_unit_minor(body.rounding_unit, body.currency),
    )
    try:
        schedule = generate(terms)
    except ScheduleError as exc:
        raise ValidationFailed(str(exc), code=exc.code) from None
    return schedule_json(schedule, body.currency)
