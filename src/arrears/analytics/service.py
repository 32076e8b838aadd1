"""Portfolio figures for the console, computed by the database in a few set-based statements.

Everything reads what the daily run derived: ``loan_states`` (each active loan as of its
latest evaluation), ``loan_snapshots`` (one row per active loan per business date) and
``eod_runs``. Nothing here writes.

Definitions (docs/console.md repeats them):

- the *portfolio* is the active loans of one currency that have a state;
- *M1+* loans are those with at least 1 delinquent day, *M3+* those with more than 60
  (the first day of M3 in the default buckets), whatever a product calls its buckets;
- the *overdue rate by count* is M1+ (or M3+) loans ÷ loans, the *overdue rate by
  balance* is their outstanding principal ÷ the portfolio's outstanding principal;
- the *NPL ratio* is (次级 + 可疑 + 损失) ÷ all loans, by count and by outstanding principal.

Ratios are returned as fractions (``0.0912`` is 9.12 %) rounded to six decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from arrears.delinquency.aging import FiveCategory
from arrears.delinquency.models import EodRun, LoanSnapshot, LoanState
from arrears.delinquency.service import business_date, last_completed_date
from arrears.kit.dates import add_months
from arrears.kit.pagination import AnySelect, Column
from arrears.loans.models import Loan, LoanStatus

M1_OVER = 0  # delinquent days above which a loan counts as M1+
M3_OVER = 60  # delinquent days above which a loan counts as M3+
NPL_CATEGORY = FiveCategory.SUBSTANDARD  # this category and worse are non-performing
RATIO_PLACES = Decimal("0.000001")


def ratio(numerator: int, denominator: int) -> Decimal:
    """``numerator ÷ denominator`` as a fraction with six decimals; 0 for an empty base."""
    if denominator == 0:
        return Decimal("0.000000")
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Figures:
    """Counts and minor-unit sums over a set of loans (a portfolio or one snapshot date)."""

    loans: int
    outstanding_principal: int
    outstanding_total: int
    m1_loans: int
    m1_balance: int
    m1_overdue: int
    m3_loans: int
    m3_balance: int
    m3_overdue: int
    npl_loans: int
    npl_balance: int

    @classmethod
    def of(cls, row: Sequence[Any]) -> Figures:
        return cls(*(int(value or 0) for value in row))

    @property
    def m1_rate_by_count(self) -> Decimal:
        return ratio(self.m1_loans, self.loans)

    @property
    def m1_rate_by_balance(self) -> Decimal:
        return ratio(self.m1_balance, self.outstanding_principal)

    @property
    def m3_rate_by_count(self) -> Decimal:
        return ratio(self.m3_loans, self.loans)

    @property
    def m3_rate_by_balance(self) -> Decimal:
        return ratio(self.m3_balance, self.outstanding_principal)

    @property
    def npl_ratio_by_count(self) -> Decimal:
        return ratio(self.npl_loans, self.loans)

    @property
    def npl_ratio_by_balance(self) -> Decimal:
        return ratio(self.npl_balance, self.outstanding_principal)


def _figure_columns(source: Any) -> list[ColumnElement[Any]]:
    """The aggregate columns of ``Figures`` over ``source`` (LoanState or LoanSnapshot)."""

    def when(condition: ColumnElement[bool], value: Any) -> ColumnElement[Any]:
        return func.sum(case((condition, value), else_=0))

    m1 = source.delinquent_days > M1_OVER
    m3 = source.delinquent_days > M3_OVER
    npl = source.five_category >= int(NPL_CATEGORY)
    one = 1
    return [
        func.count(),
        func.sum(source.outstanding_principal),
        func.sum(source.outstanding_total),
        when(m1, one),
        when(m1, source.outstanding_principal),
        when(m1, source.overdue_principal + source.overdue_interest + source.overdue_fee
             + source.overdue_penalty),
        when(m3, one),
        when(m3, source.outstanding_principal),
        when(m3, source.overdue_principal + source.overdue_interest + source.overdue_fee
             + source.overdue_penalty),
        when(npl, one),
        when(npl, source.outstanding_principal),
    ]  # fmt: skip


def _active_states(currency: str) -> AnySelect:
    """``FROM loan_states JOIN loans``, the active loans of ``currency``, no columns yet."""
    return (
        select()
        .select_from(LoanState)
        .join(Loan, Loan.id == LoanState.loan_id)
        .where(Loan.status == LoanStatus.ACTIVE.value, Loan.currency == currency)
    )


def portfolio_figures(*, db_session: Session, currency: str) -> Figures:
    """The figures of the current portfolio of ``currency``, in one statement."""
    row = db_session.execute(_active_states(currency).add_columns(*_figure_columns(LoanState)))
    return Figures.of(row.one())


def states_as_of(*, db_session: Session) -> date:
    """The business date the figures are as of: the last completed run's, else today."""
    return business_date(db_session)


@dataclass(frozen=True, slots=True)
class BucketFigures:
    bucket: str
    min_delinquent_days: int
    loans: int
    outstanding_principal: int
    overdue_total: int


def bucket_distribution(*, db_session: Session, currency: str) -> list[BucketFigures]:
    """Loans, outstanding principal and overdue amount per bucket, in bucket order."""
    query = (
        _active_states(currency)
        .add_columns(
            LoanState.bucket,
            func.min(LoanState.delinquent_days),
            func.count(),
            func.sum(LoanState.outstanding_principal),
            func.sum(LoanState.overdue_total),
        )
        .group_by(LoanState.bucket)
    )
    rows = [
        BucketFigures(str(b), int(d or 0), int(n or 0), int(p or 0), int(o or 0))
        for b, d, n, p, o in db_session.execute(query)
    ]
    return sorted(rows, key=lambda r: (r.min_delinquent_days, r.bucket))


@dataclass(frozen=True, slots=True)
class CategoryFigures:
    category: FiveCategory
    loans: int
    outstanding_principal: int


def five_category_distribution(*, db_session: Session, currency: str) -> list[CategoryFigures]:
    """Loans and outstanding principal in each of the five categories (all five, zeros too)."""
    query = (
        _active_states(currency)
        .add_columns(
            LoanState.five_category, func.count(), func.sum(LoanState.outstanding_principal)
        )
        .group_by(LoanState.five_category)
    )
    found = {int(c): (int(n or 0), int(p or 0)) for c, n, p in db_session.execute(query)}
    return [CategoryFigures(c, *found.get(int(c), (0, 0))) for c in FiveCategory]


def month_end_dates(*, db_session: Session, through: date, months: int = 12) -> list[date]:
    """The latest snapshot date of each of the ``months`` months ending with ``through``'s.

    One ``max(as_of)`` per month: the snapshot key starts with ``as_of``, so each is an
    index lookup however many loans there are. Months without a snapshot are left out.
    """
    first = date(through.year, through.month, 1)
    found: list[date] = []
    for back in range(months - 1, -1, -1):
        start = add_months(first, -back)
        end = min(add_months(start, 1), date.fromordinal(through.toordinal() + 1))
        latest = db_session.scalar(
            select(func.max(LoanSnapshot.as_of)).where(
                LoanSnapshot.as_of >= start, LoanSnapshot.as_of < end
            )
        )
        if latest is not None:
            found.append(latest)
    return found


def snapshot_figures(
    *, db_session: Session, currency: str, dates: Sequence[date]
) -> dict[date, Figures]:
    """The figures of the snapshots taken on ``dates``, one grouped statement."""
    if not dates:
        return {}
    query = (
        select(LoanSnapshot.as_of, *_figure_columns(LoanSnapshot))
        .join(Loan, Loan.id == LoanSnapshot.loan_id)
        .where(LoanSnapshot.as_of.in_(list(dates)), Loan.currency == currency)
        .group_by(LoanSnapshot.as_of)
    )
    return {row[0]: Figures.of(row[1:]) for row in db_session.execute(query)}


def monthly_trend(
    *, db_session: Session, currency: str, months: int = 12
) -> list[tuple[date, Figures]]:
    """The portfolio at the end of each of the last ``months`` months, oldest first."""
    through = last_completed_date(db_session)
    if through is None:
        latest = db_session.scalar(select(func.max(LoanSnapshot.as_of)))
        if latest is None:
            return []
        through = latest
    dates = month_end_dates(db_session=db_session, through=through, months=months)
    figures = snapshot_figures(db_session=db_session, currency=currency, dates=dates)
    return [(on, figures[on]) for on in dates if on in figures]


def latest_run(*, db_session: Session) -> EodRun | None:
    """The most recent end-of-day run (running, completed or failed)."""
    return db_session.scalar(select(EodRun).order_by(EodRun.id.desc()).limit(1))


def last_completed_run(*, db_session: Session) -> EodRun | None:
    """The most recent run that completed."""
    return db_session.scalar(
        select(EodRun).where(EodRun.status == "completed").order_by(EodRun.id.desc()).limit(1)
    )


# --- one loan's history ----------------------------------------------------------------


def loan_history(
    *, db_session: Session, loan_id: int, since: date | None = None
) -> list[LoanSnapshot]:
    """A loan's daily snapshots, oldest first (from ``since`` when given).

    The snapshot's only index is its key ``(as_of, loan_id)``, so the snapshot dates are
    walked first (each the next ``as_of`` after the last: one index probe) and the loan's
    row of each is then one more probe, however many loans each date holds.
    """
    first = select(func.min(LoanSnapshot.as_of).label("as_of"))
    if since is not None:
        first = first.where(LoanSnapshot.as_of >= since)
    dates = first.cte("snapshot_dates", recursive=True)
    following = (
        select(func.min(LoanSnapshot.as_of)).where(LoanSnapshot.as_of > dates.c.as_of)
    ).scalar_subquery()
    dates = dates.union_all(select(following).where(dates.c.as_of.is_not(None)))
    query = (
        select(LoanSnapshot)
        .join(dates, LoanSnapshot.as_of == dates.c.as_of)
        .where(LoanSnapshot.loan_id == loan_id)
        .order_by(LoanSnapshot.as_of)
    )
    return list(db_session.scalars(query))


# --- the loan list with delinquency filters --------------------------------------------

# sort fields of the loan list; those on loan_states need the join
LOAN_LIST_SORT_FIELDS: dict[str, Column] = {
    "loan_ref": Loan.loan_ref,
    "disbursed_on": Loan.disbursed_on,
    "principal": Loan.principal,
    "past_due_days": LoanState.past_due_days,
    "delinquent_days": LoanState.delinquent_days,
    "bucket": LoanState.bucket,
    "outstanding": LoanState.outstanding_total,
    "overdue": LoanState.overdue_total,
    "five_category": LoanState.five_category,
}
STATE_SORTS = frozenset(
    {"past_due_days", "delinquent_days", "bucket", "outstanding", "overdue", "five_category"}
)


@dataclass(frozen=True, slots=True)
class LoanFilters:
    """What the loan list is narrowed to; ``None`` (or empty) means no narrowing."""

    product_ids: AnySelect | None = None
    customer_ids: AnySelect | None = None
    status: str | None = None
    buckets: tuple[str, ...] = ()
    dpd_min: int | None = None
    dpd_max: int | None = None
    five_categories: tuple[int, ...] = ()
    loan_ref_prefix: str | None = None

    @property
    def on_state(self) -> bool:
        return bool(
            self.buckets
            or self.dpd_min is not None
            or self.dpd_max is not None
            or self.five_categories
        )


def loan_list_query(filters: LoanFilters, *, join_state: bool) -> AnySelect:
    """``SELECT loans, loan_states`` narrowed by ``filters``.

    The state is joined only when a filter or the sort needs it, so the plain list of a
    million loans counts one table. It is an inner join — such a list holds the loans
    that have a state, which is every loan once imported or run — so that the database
    can walk an index on the sorted state column instead of sorting the whole book.
    """
    if join_state or filters.on_state:
        query: AnySelect = select(Loan, LoanState).join(LoanState, LoanState.loan_id == Loan.id)
    else:
        query = select(Loan)
    if filters.status is not None:
        query = query.where(Loan.status == filters.status)
    if filters.product_ids is not None:
        query = query.where(Loan.product_id.in_(filters.product_ids))
    if filters.customer_ids is not None:
        query = query.where(Loan.customer_id.in_(filters.customer_ids))
    if filters.loan_ref_prefix:
        query = query.where(Loan.loan_ref.startswith(filters.loan_ref_prefix, autoescape=True))
    if filters.buckets:
        query = query.where(LoanState.bucket.in_(filters.buckets))
    if filters.dpd_min is not None:
        query = query.where(LoanState.past_due_days >= filters.dpd_min)
    if filters.dpd_max is not None:
        query = query.where(LoanState.past_due_days <= filters.dpd_max)
    if filters.five_categories:
        query = query.where(LoanState.five_category.in_(filters.five_categories))
    return query


def states_of(*, db_session: Session, loan_ids: Sequence[int]) -> dict[int, LoanState]:
    """The stored states of a page of loans."""
    if not loan_ids:
        return {}
    rows = db_session.scalars(select(LoanState).where(LoanState.loan_id.in_(list(loan_ids))))
    return {state.loan_id: state for state in rows}
