"""Repayment schedules: pure maths, no database, no clock.

Amounts inside the engine are integer minor units (exact); rates are ``Decimal`` percent
per year. Every rounding is explicit (``round_ratio``) and the last installment absorbs the
residue, so principal always sums exactly to the amount lent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext
from enum import StrEnum
from functools import lru_cache

from arrears.kit.dates import DayCount, add_months, period_days
from arrears.kit.money import Rounding, round_ratio


class Method(StrEnum):
    """Repayment methods."""

    ANNUITY = "annuity"  # 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金
    INTEREST_ONLY = "interest_only"  # 按月付息到期还本
    BULLET = "bullet"  # 到期一次还本付息


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """What a schedule is generated from."""

    principal: int  # minor units
    annual_rate: Decimal  # percent per year: 4.9 means 4.9 %
    months: int
    method: Method
    first_due_on: date
    disbursed_on: date | None = None
    day_count: DayCount = DayCount.THIRTY_360
    rounding: Rounding = Rounding.HALF_UP
    rounding_unit: int = 1  # minor units: 1 = cent, 100 = whole yuan


@dataclass(frozen=True, slots=True)
class Installment:
    """One scheduled repayment (amounts in minor units)."""

    number: int
    due_on: date
    principal: int
    interest: int
    fee: int = 0
    balance_after: int = 0

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee


@dataclass(frozen=True, slots=True)
class Schedule:
    """A whole schedule with its totals."""

    installments: tuple[Installment, ...]
    principal: int
    total_interest: int = field(init=False)
    total_fee: int = field(init=False)
    total_repayment: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_interest", sum(i.interest for i in self.installments))
        object.__setattr__(self, "total_fee", sum(i.fee for i in self.installments))
        object.__setattr__(self, "total_repayment", sum(i.total for i in self.installments))


class ScheduleError(ValueError):
    """Terms or an imported schedule that cannot make a valid schedule."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def check_terms(terms: LoanTerms) -> None:
    """Raise ``ScheduleError`` when the terms cannot produce a schedule."""
    if terms.principal <= 0:
        raise ScheduleError("principal must be greater than zero", "invalid_principal")
    if terms.months < 1 or terms.months > 600:
        raise ScheduleError("term must be between 1 and 600 months", "invalid_term")
    if terms.annual_rate < 0 or terms.annual_rate > 1000:
        raise ScheduleError("annual rate must be between 0 and 1000 percent", "invalid_rate")
    if terms.rounding_unit < 1:
        raise ScheduleError("rounding unit must be at least one minor unit", "invalid_rounding")
    if terms.disbursed_on is not None and terms.disbursed_on >= terms.first_due_on:
        raise ScheduleError(
            "the first due date must be after the disbursement date", "invalid_first_due"
        )


def due_dates(first_due_on: date, months: int) -> list[date]:
    """Monthly due dates anchored on the first due date's day of month."""
    return [add_months(first_due_on, k) for k in range(months)]


def _rate_ratio(annual_rate: Decimal) -> tuple[int, int]:
    """Annual rate as an exact fraction of one (4.9 % → 49/1000)."""
    num, den = annual_rate.as_integer_ratio()
    return num, den * 100


def annuity_payment(terms: LoanTerms) -> int:
    """Level installment P·r / (1 − (1+r)^−n) with r = annual ÷ 12, rounded to the unit."""
    n = terms.months
    if terms.annual_rate == 0:
        return round_ratio(terms.principal, n, terms.rounding_unit, terms.rounding)
    with localcontext() as ctx:
        ctx.prec = 60
        r = terms.annual_rate / Decimal(1200)
        payment = Decimal(terms.principal) * r / (1 - (1 + r) ** -n)
        num, den = payment.as_integer_ratio()
    return round_ratio(num, den, terms.rounding_unit, terms.rounding)


class _InterestClock:
    """Interest of each period, from its start, end and the day-count convention."""

    def __init__(
        self, terms: LoanTerms, dates: Sequence[date], first_days: int | None = None
    ) -> None:
        self.terms = terms
        self.first_days = first_days  # the first period's length, when given outright
        self.rate_num, self.rate_den = _rate_ratio(terms.annual_rate)
        first_start = terms.disbursed_on or add_months(terms.first_due_on, -1)
        self.starts = [first_start, *dates[:-1]]
        self.ends = list(dates)

    def interest(self, index: int, balance: int) -> int:
        terms = self.terms
        regular = terms.day_count is DayCount.THIRTY_360 and (
            index > 0 or terms.disbursed_on is None
        )
        if regular:
            # a whole month: annual ÷ 12
            numerator, denominator = balance * self.rate_num, self.rate_den * 12
        else:
            if index == 0 and self.first_days is not None:
                days = self.first_days
            else:
                days = period_days(self.starts[index], self.ends[index], terms.day_count)
            numerator = balance * self.rate_num * days
            denominator = self.rate_den * terms.day_count.basis
        return round_ratio(numerator, denominator, terms.rounding_unit, terms.rounding)

    def interest_over(self, start: date, end: date, balance: int) -> int:
        """Interest over an arbitrary span (used by bullet loans)."""
        terms = self.terms
        days = period_days(start, end, terms.day_count)
        return round_ratio(
            balance * self.rate_num * days,
            self.rate_den * terms.day_count.basis,
            terms.rounding_unit,
            terms.rounding,
        )


def generate(terms: LoanTerms) -> Schedule:
    """Generate the schedule of ``terms``; principal sums exactly to ``terms.principal``.

    Under 30/360 every period after the first is a whole month, so an annuity's,
    equal-principal or interest-only schedule's amounts depend only on the principal, rate,
    term, rounding and the first period's length: those are computed once and reused (a
    memo of a pure function, which bulk imports of similar loans hit constantly).
    """
    check_terms(terms)
    if terms.day_count is not DayCount.THIRTY_360 or terms.method is Method.BULLET:
        return _generate(terms)
    first_days = (
        None
        if terms.disbursed_on is None
        else period_days(terms.disbursed_on, terms.first_due_on, DayCount.THIRTY_360)
    )
    amounts = _amounts_30_360(
        terms.principal,
        terms.annual_rate,
        terms.months,
        terms.method,
        terms.rounding,
        terms.rounding_unit,
        first_days,
    )
    dates = due_dates(terms.first_due_on, terms.months)
    return Schedule(
        tuple(Installment(k + 1, dates[k], p, i, 0, b) for k, (p, i, b) in enumerate(amounts)),
        terms.principal,
    )


@lru_cache(maxsize=50_000)
def _amounts_30_360(
    principal: int,
    annual_rate: Decimal,
    months: int,
    method: Method,
    rounding: Rounding,
    rounding_unit: int,
    first_days: int | None,
) -> tuple[tuple[int, int, int], ...]:
    anchor = date(2001, 1, 1)
    terms = LoanTerms(
        principal, annual_rate, months, method, anchor,
        None if first_days is None else date(2000, 12, 1),
        DayCount.THIRTY_360, rounding, rounding_unit,
    )  # fmt: skip
    schedule = _generate(terms, first_days=first_days)
    return tuple((i.principal, i.interest, i.balance_after) for i in schedule.installments)


def _generate(terms: LoanTerms, first_days: int | None = None) -> Schedule:
    dates = due_dates(terms.first_due_on, terms.months)
    clock = _InterestClock(terms, dates, first_days)
    n = terms.months
    rows: list[Installment] = []
    balance = terms.principal

    if terms.method is Method.BULLET:
        start = clock.starts[0]
        if terms.day_count is DayCount.THIRTY_360 and terms.disbursed_on is None:
            interest = round_ratio(
                balance * clock.rate_num * n,
                clock.rate_den * 12,
                terms.rounding_unit,
                terms.rounding,
            )
        else:
            interest = clock.interest_over(start, dates[-1], balance)
        rows.append(Installment(1, dates[-1], balance, interest, 0, 0))
        return Schedule(tuple(rows), terms.principal)

    payment = annuity_payment(terms) if terms.method is Method.ANNUITY else 0
    level_principal = (
        round_ratio(terms.principal, n, terms.rounding_unit, terms.rounding)
        if terms.method is Method.EQUAL_PRINCIPAL
        else 0
    )
    for index, due_on in enumerate(dates):
        interest = clock.interest(index, balance)
        last = index == n - 1
        if last:
            principal = balance
        elif terms.method is Method.ANNUITY:
            principal = min(max(payment - interest, 0), balance)
        elif terms.method is Method.EQUAL_PRINCIPAL:
            principal = min(level_principal, balance)
        else:  # interest only
            principal = 0
        balance -= principal
        rows.append(Installment(index + 1, due_on, principal, interest, 0, balance))
    return Schedule(tuple(rows), terms.principal)


def from_rows(principal: int, rows: Sequence[tuple[int, date, int, int, int]]) -> Schedule:
    """Build a schedule imported as given: ``(number, due_on, principal, interest, fee)`` rows.

    The core banking system's amounts and dates are kept; they must still be a schedule:
    numbered 1..n, due dates strictly increasing, no negative amount, principal summing to
    the amount lent.
    """
    ordered = sorted(rows, key=lambda row: row[0])
    if not ordered:
        raise ScheduleError("the schedule has no installments", "empty_schedule")
    balance = principal
    out: list[Installment] = []
    previous: date | None = None
    for expected, (number, due_on, p, i, f) in enumerate(ordered, start=1):
        if number != expected:
            raise ScheduleError(
                f"installments must be numbered 1 to {len(ordered)} without gaps; "
                f"found {number} where {expected} was expected",
                "installment_numbering",
            )
        if previous is not None and due_on <= previous:
            raise ScheduleError(
                f"installment {number} is due {due_on}, not after installment "
                f"{number - 1} ({previous})",
                "due_dates_not_increasing",
            )
        if min(p, i, f) < 0:
            raise ScheduleError(f"installment {number} has a negative amount", "negative_amount")
        balance -= p
        out.append(Installment(number, due_on, p, i, f, balance))
        previous = due_on
    if balance != 0:
        raise ScheduleError(
            "the installments' principal does not add up to the loan's principal "
            f"(difference {balance} minor units)",
            "principal_mismatch",
        )
    return Schedule(tuple(out), principal)
