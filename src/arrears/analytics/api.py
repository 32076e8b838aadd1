"""Analytics routes: the dashboard's figures, the loan list with delinquency filters, and one
loan's past-due history. All read-only, all under ``/api/v1/analytics``."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.analytics import service as analytics
from arrears.auth.deps import AnalyticsRead, EodRead, LoansRead
from arrears.auth.scope import apply_scope
from arrears.customers.models import Customer
from arrears.delinquency import eod
from arrears.delinquency.aging import FiveCategory
from arrears.delinquency.models import EodRun, LoanState
from arrears.kit.errors import NotFound
from arrears.kit.http import DbSession, problem_responses
from arrears.kit.money import check_currency, format_minor
from arrears.kit.pagination import Page, PageQuery, SortOrder, paginate, sorting
from arrears.kit.settings import get_settings
from arrears.loans import service as loans
from arrears.loans.models import Loan, LoanStatus, Product

router = APIRouter(prefix="/analytics", tags=["analytics"])

Ratio = Annotated[
    str,
    Field(description="A fraction with six decimals: 0.091200 is 9.12 %.", examples=["0.091200"]),
]
Money = Annotated[str, Field(description="Decimal string, major units.", examples=["3343.58"])]


class FiveCategoryKey(StrEnum):
    """The five-category classification (五级分类) by key."""

    NORMAL = "normal"
    SPECIAL_MENTION = "special_mention"
    SUBSTANDARD = "substandard"
    DOUBTFUL = "doubtful"
    LOSS = "loss"


def _currency(
    currency: Annotated[
        str | None,
        Query(max_length=3, description="Which currency's loans; default: the default currency."),
    ] = None,
) -> str:
    return check_currency(currency or get_settings().default_currency)


Currency = Annotated[str, Depends(_currency)]


# --- schemas ---------------------------------------------------------------------------


class OverdueOut(BaseModel):
    """Loans past a delinquency threshold (M1+ or M3+) and their share of the portfolio."""

    loans: int
    balance: Money = Field(description="Their outstanding principal.")
    overdue_amount: Money = Field(description="What is overdue on them (all components).")
    rate_by_count: Ratio
    rate_by_balance: Ratio


class NplOut(BaseModel):
    """Non-performing loans: 次级 + 可疑 + 损失."""

    loans: int
    balance: Money
    ratio_by_count: Ratio
    ratio_by_balance: Ratio


class PortfolioOut(BaseModel):
    """The active portfolio of one currency as of the current business date."""

    as_of: date
    currency: str
    loans: int
    outstanding_principal: Money
    outstanding_total: Money = Field(description="Principal, interest, fees and penalty owed.")
    m1_plus: OverdueOut = Field(description="At least 1 delinquent day.")
    m3_plus: OverdueOut = Field(description="More than 60 delinquent days.")
    npl: NplOut


class BucketOut(BaseModel):
    bucket: str = Field(examples=["M1"])
    loans: int
    outstanding_principal: Money
    overdue_total: Money
    share_by_count: Ratio
    share_by_balance: Ratio


class BucketsOut(BaseModel):
    as_of: date
    currency: str
    items: list[BucketOut]


class CategoryOut(BaseModel):
    category: FiveCategoryKey
    label: str = Field(examples=["关注"])
    loans: int
    outstanding_principal: Money
    share_by_count: Ratio
    share_by_balance: Ratio


class CategoriesOut(BaseModel):
    as_of: date
    currency: str
    items: list[CategoryOut]


class TrendPointOut(BaseModel):
    """The portfolio on the last snapshot date of a month."""

    month: str = Field(examples=["2025-06"])
    as_of: date
    loans: int
    outstanding_principal: Money
    m1_loans: int
    m1_balance: Money
    m1_rate_by_count: Ratio
    m1_rate_by_balance: Ratio
    m3_loans: int
    m3_balance: Money
    m3_rate_by_count: Ratio
    m3_rate_by_balance: Ratio
    npl_ratio_by_count: Ratio
    npl_ratio_by_balance: Ratio


class TrendOut(BaseModel):
    currency: str
    items: list[TrendPointOut]


class RunProgressOut(BaseModel):
    date: str | None
    stage: str | None
    done: int
    total: int


class EodRunOut(BaseModel):
    """An end-of-day run, as ``GET /eod-runs/{id}`` shows it."""

    id: int
    business_date: date
    from_date: date
    status: str = Field(examples=["completed"], description="running, completed or failed.")
    requested_by: str | None
    started_at: datetime
    finished_at: datetime | None
    completed_through: date | None
    loans_total: int
    loans_evaluated: int
    loans_advanced: int = Field(
        description="Of the loans evaluated, those moved on from their carry (not re-derived)."
    )
    events_written: int
    stage_seconds: dict[str, float]
    bucket_counts: dict[str, int]
    error: str | None
    progress: RunProgressOut


class RunStatusOut(BaseModel):
    """Today's run status: the current business date, the latest run and the last good one."""

    business_date: date
    latest: EodRunOut | None
    last_completed: EodRunOut | None


class LoanRowOut(BaseModel):
    """A loan in the console's list: terms, borrower and delinquency state."""

    loan_ref: str
    customer_ref: str | None
    customer_name: str | None
    product_code: str
    currency: str
    principal: Money
    annual_rate: str
    term_months: int
    disbursed_on: date
    status: str
    as_of: date | None = Field(description="Date of the state below; null before any run.")
    past_due_days: int | None
    delinquent_days: int | None
    bucket: str | None
    overdue_total: Money | None
    outstanding_total: Money | None
    five_category: FiveCategoryKey | None
    five_category_label: str | None
    ifrs9_stage: int | None
    non_performing: bool | None


class HistoryPointOut(BaseModel):
    as_of: date
    past_due_days: int
    delinquent_days: int
    bucket: str
    overdue_total: Money
    outstanding_principal: Money
    five_category: FiveCategoryKey


class LoanHistoryOut(BaseModel):
    """A loan's daily snapshots: how its past-due days moved."""

    loan_ref: str
    currency: str
    items: list[HistoryPointOut]


# --- presentation ----------------------------------------------------------------------


def _ratio(numerator: int, denominator: int) -> str:
    return str(analytics.ratio(numerator, denominator))


def present_portfolio(figures: analytics.Figures, *, as_of: date, currency: str) -> PortfolioOut:
    money = lambda minor: format_minor(minor, currency)  # noqa: E731
    return PortfolioOut(
        as_of=as_of,
        currency=currency,
        loans=figures.loans,
        outstanding_principal=money(figures.outstanding_principal),
        outstanding_total=money(figures.outstanding_total),
        m1_plus=OverdueOut(
            loans=figures.m1_loans,
            balance=money(figures.m1_balance),
            overdue_amount=money(figures.m1_overdue),
            rate_by_count=str(figures.m1_rate_by_count),
            rate_by_balance=str(figures.m1_rate_by_balance),
        ),
        m3_plus=OverdueOut(
            loans=figures.m3_loans,
            balance=money(figures.m3_balance),
            overdue_amount=money(figures.m3_overdue),
            rate_by_count=str(figures.m3_rate_by_count),
            rate_by_balance=str(figures.m3_rate_by_balance),
        ),
        npl=NplOut(
            loans=figures.npl_loans,
            balance=money(figures.npl_balance),
            ratio_by_count=str(figures.npl_ratio_by_count),
            ratio_by_balance=str(figures.npl_ratio_by_balance),
        ),
    )


def present_trend_point(on: date, figures: analytics.Figures, currency: str) -> TrendPointOut:
    money = lambda minor: format_minor(minor, currency)  # noqa: E731
    return TrendPointOut(
        month=on.strftime("%Y-%m"),
        as_of=on,
        loans=figures.loans,
        outstanding_principal=money(figures.outstanding_principal),
        m1_loans=figures.m1_loans,
        m1_balance=money(figures.m1_balance),
        m1_rate_by_count=str(figures.m1_rate_by_count),
        m1_rate_by_balance=str(figures.m1_rate_by_balance),
        m3_loans=figures.m3_loans,
        m3_balance=money(figures.m3_balance),
        m3_rate_by_count=str(figures.m3_rate_by_count),
        m3_rate_by_balance=str(figures.m3_rate_by_balance),
        npl_ratio_by_count=str(figures.npl_ratio_by_count),
        npl_ratio_by_balance=str(figures.npl_ratio_by_balance),
    )


def present_run(run: EodRun | None) -> EodRunOut | None:
    return None if run is None else EodRunOut.model_validate(eod.run_view(run))


def _category_key(value: int) -> FiveCategoryKey:
    return FiveCategoryKey(FiveCategory(value).key)


def present_loan_row(
    loan: Loan, state: LoanState | None, customer: tuple[str, str] | None
) -> LoanRowOut:
    currency = loan.currency
    category = FiveCategory(state.five_category) if state is not None else None
    return LoanRowOut(
        loan_ref=loan.loan_ref,
        customer_ref=customer[0] if customer else None,
        customer_name=customer[1] if customer else None,
        product_code=loan.product.code,
        currency=currency,
        principal=format_minor(loan.principal, currency),
        annual_rate=str(loan.annual_rate),
        term_months=loan.term_months,
        disbursed_on=loan.disbursed_on,
        status=loan.status,
        as_of=state.as_of if state else None,
        past_due_days=state.past_due_days if state else None,
        delinquent_days=state.delinquent_days if state else None,
        bucket=state.bucket if state else None,
        overdue_total=format_minor(state.overdue_total, currency) if state else None,
        outstanding_total=format_minor(state.outstanding_total, currency) if state else None,
        five_category=FiveCategoryKey(category.key) if category else None,
        five_category_label=category.label if category else None,
        ifrs9_stage=state.ifrs9_stage if state else None,
        non_performing=(
            bool(state.non_performing or state.non_performing_by_contagion) if state else None
        ),
    )


# --- the dashboard ---------------------------------------------------------------------


@router.get("/portfolio", response_model=PortfolioOut, responses=problem_responses(401, 403, 422))
def portfolio(db_session: DbSession, principal: AnalyticsRead, currency: Currency) -> PortfolioOut:
    """Loans, outstanding, overdue (M1+, M3+) by count and balance, and the NPL ratio."""
    figures = analytics.portfolio_figures(db_session=db_session, currency=currency)
    as_of = analytics.states_as_of(db_session=db_session)
    return present_portfolio(figures, as_of=as_of, currency=currency)


@router.get("/buckets", response_model=BucketsOut, responses=problem_responses(401, 403, 422))
def buckets(db_session: DbSession, principal: AnalyticsRead, currency: Currency) -> BucketsOut:
    """Loans, outstanding principal and overdue amount per delinquency bucket."""
    rows = analytics.bucket_distribution(db_session=db_session, currency=currency)
    loans_total = sum(r.loans for r in rows)
    balance_total = sum(r.outstanding_principal for r in rows)
    return BucketsOut(
        as_of=analytics.states_as_of(db_session=db_session),
        currency=currency,
        items=[
            BucketOut(
                bucket=r.bucket,
                loans=r.loans,
                outstanding_principal=format_minor(r.outstanding_principal, currency),
                overdue_total=format_minor(r.overdue_total, currency),
                share_by_count=_ratio(r.loans, loans_total),
                share_by_balance=_ratio(r.outstanding_principal, balance_total),
            )
            for r in rows
        ],
    )


@router.get(
    "/classification", response_model=CategoriesOut, responses=problem_responses(401, 403, 422)
)
def classification(
    db_session: DbSession, principal: AnalyticsRead, currency: Currency
) -> CategoriesOut:
    """Loans and outstanding principal in each of the five categories (五级分类)."""
    rows = analytics.five_category_distribution(db_session=db_session, currency=currency)
    loans_total = sum(r.loans for r in rows)
    balance_total = sum(r.outstanding_principal for r in rows)
    return CategoriesOut(
        as_of=analytics.states_as_of(db_session=db_session),
        currency=currency,
        items=[
            CategoryOut(
                category=FiveCategoryKey(r.category.key),
                label=r.category.label,
                loans=r.loans,
                outstanding_principal=format_minor(r.outstanding_principal, currency),
                share_by_count=_ratio(r.loans, loans_total),
                share_by_balance=_ratio(r.outstanding_principal, balance_total),
            )
            for r in rows
        ],
    )


@router.get("/trend", response_model=TrendOut, responses=problem_responses(401, 403, 422))
def trend(
    db_session: DbSession,
    principal: AnalyticsRead,
    currency: Currency,
    months: Annotated[int, Query(ge=1, le=36, description="How many months back.")] = 12,
) -> TrendOut:
    """The portfolio at each month's last snapshot, for the last ``months`` months."""
    points = analytics.monthly_trend(db_session=db_session, currency=currency, months=months)
    return TrendOut(
        currency=currency,
        items=[present_trend_point(on, figures, currency) for on, figures in points],
    )


@router.get("/run-status", response_model=RunStatusOut, responses=problem_responses(401, 403))
def run_status(db_session: DbSession, principal: EodRead) -> RunStatusOut:
    """The current business date, the latest end-of-day run and the last completed one."""
    return RunStatusOut(
        business_date=analytics.states_as_of(db_session=db_session),
        latest=present_run(analytics.latest_run(db_session=db_session)),
        last_completed=present_run(analytics.last_completed_run(db_session=db_session)),
    )


# --- loans -----------------------------------------------------------------------------

LOAN_LIST_SORT = sorting(analytics.LOAN_LIST_SORT_FIELDS, default="loan_ref", tiebreaker=Loan.id)


@router.get("/loans", response_model=Page[LoanRowOut], responses=problem_responses(401, 403, 422))
def list_loans(
    db_session: DbSession,
    principal: LoansRead,
    page: PageQuery,
    order: Annotated[SortOrder, Depends(LOAN_LIST_SORT)],
    product_code: Annotated[str | None, Query(max_length=64)] = None,
    customer_ref: Annotated[str | None, Query(max_length=64)] = None,
    status: LoanStatus | None = None,
    bucket: Annotated[
        list[str] | None, Query(max_length=16, description="Bucket codes; repeat for several.")
    ] = None,
    dpd_min: Annotated[int | None, Query(ge=0, le=100_000, description="Past-due days ≥.")] = None,
    dpd_max: Annotated[int | None, Query(ge=0, le=100_000, description="Past-due days ≤.")] = None,
    classification: Annotated[
        list[FiveCategoryKey] | None, Query(description="Five-category keys; repeat for several.")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=64, description="Loan reference starts with.")
    ] = None,
) -> Page[LoanRowOut]:
    """Loans with their delinquency state; filter by product, bucket, DPD range,
    classification and status; sort by any listed field; paged by the database."""
    filters = analytics.LoanFilters(
        product_ids=(
            select(Product.id).where(Product.code == product_code) if product_code else None
        ),
        customer_ids=(
            select(Customer.id).where(Customer.customer_ref == customer_ref)
            if customer_ref
            else None
        ),
        status=status.value if status else None,
        buckets=tuple(bucket or ()),
        dpd_min=dpd_min,
        dpd_max=dpd_max,
        five_categories=tuple(int(FiveCategory[c.name]) for c in classification or ()),
        loan_ref_prefix=q or None,
    )
    join_state = any(name in analytics.STATE_SORTS for name, _ in order.fields)
    query = apply_scope(principal, analytics.loan_list_query(filters, join_state=join_state), Loan)
    rows, total = paginate(db_session, query, page, order)
    page_loans: list[Loan] = [row if isinstance(row, Loan) else row[0] for row in rows]
    states = analytics.states_of(db_session=db_session, loan_ids=[loan.id for loan in page_loans])
    customers = _customers_of(db_session, page_loans)
    return Page[LoanRowOut](
        items=[
            present_loan_row(loan, states.get(loan.id), customers.get(loan.customer_id))
            for loan in page_loans
        ],
        total=total,
        page=page.page,
        page_size=page.page_size,
    )


def _customers_of(db_session: Session, page_loans: list[Loan]) -> dict[int, tuple[str, str]]:
    ids = {loan.customer_id for loan in page_loans}
    if not ids:
        return {}
    rows = db_session.execute(
        select(Customer.id, Customer.customer_ref, Customer.name).where(Customer.id.in_(ids))
    )
    return {customer_id: (ref, name) for customer_id, ref, name in rows}


@router.get(
    "/loans/{loan_ref}/history",
    response_model=LoanHistoryOut,
    responses=problem_responses(401, 403, 404, 422),
)
def loan_history(
    loan_ref: str,
    db_session: DbSession,
    principal: LoansRead,
    since: Annotated[date | None, Query(description="From this business date on.")] = None,
) -> LoanHistoryOut:
    """A loan's past-due and delinquent days, bucket and amounts on each snapshot date."""
    loan = loans.get_by_ref_or_raise(db_session=db_session, loan_ref=loan_ref)
    visible = apply_scope(principal, select(Loan.id).where(Loan.id == loan.id), Loan)
    if db_session.execute(visible).first() is None:
        raise NotFound(f"there is no loan with reference '{loan_ref[:64]}'", code="loan_not_found")
    currency = loan.currency
    snapshots = analytics.loan_history(db_session=db_session, loan_id=loan.id, since=since)
    return LoanHistoryOut(
        loan_ref=loan.loan_ref,
        currency=currency,
        items=[
            HistoryPointOut(
                as_of=s.as_of,
                past_due_days=s.past_due_days,
                delinquent_days=s.delinquent_days,
                bucket=s.bucket,
                overdue_total=format_minor(
                    s.overdue_principal + s.overdue_interest + s.overdue_fee + s.overdue_penalty,
                    currency,
                ),
                outstanding_principal=format_minor(s.outstanding_principal, currency),
                five_category=_category_key(s.five_category),
            )
            for s in snapshots
        ],
    )
