"""The schedule engine: published figures to the cent, and properties for any terms."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.kit.dates import DayCount, add_months
from arrears.kit.money import Rounding
from arrears.loans.schedule import (
    LoanTerms,
    Method,
    ScheduleError,
    annuity_payment,
    from_rows,
    generate,
)

FIRST_DUE = date(2024, 2, 15)


def terms(principal: str, rate: str, months: int, method: Method = Method.ANNUITY, **kw):
    return LoanTerms(
        principal=int(Decimal(principal) * 100),
        annual_rate=Decimal(rate),
        months=months,
        method=method,
        first_due_on=kw.pop("first_due_on", FIRST_DUE),
        **kw,
    )


def cents(row) -> tuple[int, int]:
    return row.interest, row.principal


@pytest.mark.parametrize(
    ("principal", "rate", "months", "installment"),
    [
        ("630000", "4.90", 360, 334358),
        ("100000", "4.90", 120, 105577),
        ("1000000", "4.90", 240, 654444),
        ("162000", "3.875", 360, 76178),
        ("563", "12", 5, 11600),
    ],
)
def test_annuity_installment_matches_published_figures(principal, rate, months, installment):
    schedule = generate(terms(principal, rate, months))
    assert annuity_payment(terms(principal, rate, months)) == installment
    assert all(row.total == installment for row in schedule.installments[:-1])


def test_annuity_first_months_split_interest_and_principal():
    rows = generate(terms("100000", "4.90", 120)).installments
    assert cents(rows[0]) == (40833, 64744)
    assert cents(rows[1]) == (40569, 65008)
    assert cents(generate(terms("1000000", "4.90", 240)).installments[0]) == (408333, 246111)
    assert cents(generate(terms("162000", "3.875", 360)).installments[0]) == (52313, 23865)


def test_small_annuity_last_row_absorbs_the_rounding_residue():
    rows = generate(terms("563", "12", 5)).installments
    assert [(r.interest, r.principal, r.balance_after) for r in rows[:3]] == [
        (563, 11037, 45263),
        (453, 11147, 34116),
        (341, 11259, 22857),
    ]
    assert rows[-1].balance_after == 0
    assert rows[-1].principal == rows[-2].balance_after


def test_equal_principal_first_installment_and_monthly_decrement():
    rows = generate(terms("630000", "4.90", 360, Method.EQUAL_PRINCIPAL)).installments
    assert rows[0].total == 432250
    assert rows[0].total - rows[1].total == 715
    assert all(r.principal == 175000 for r in rows)


def test_interest_only_pays_principal_at_maturity():
    rows = generate(terms("120000", "6", 12, Method.INTEREST_ONLY)).installments
    assert [r.principal for r in rows[:-1]] == [0] * 11
    assert rows[-1].principal == 12000000
    assert all(r.interest == 60000 for r in rows)


def test_bullet_is_one_installment_at_the_last_due_date():
    rows = generate(terms("10000", "12", 12, Method.BULLET)).installments
    assert len(rows) == 1
    assert rows[0].due_on == add_months(FIRST_DUE, 11)
    assert (rows[0].principal, rows[0].interest) == (1000000, 120000)


def test_zero_rate_annuity_splits_principal_evenly():
    rows = generate(terms("1250", "0", 4)).installments
    assert [r.principal for r in rows] == [31250] * 4
    assert all(r.interest == 0 for r in rows)


def test_broken_first_period_uses_the_day_count_from_disbursement():
    # 45 actual days on act/365: 10,000 × 12 % × 45 / 365 = 147.95
    t = terms(
        "10000",
        "12",
        6,
        disbursed_on=date(2024, 1, 1),
        first_due_on=date(2024, 2, 15),
        day_count=DayCount.ACT_365,
    )
    assert generate(t).installments[0].interest == 14795
    # the same on 30/360: 44 days → 146.67
    t360 = terms("10000", "12", 6, disbursed_on=date(2024, 1, 1), first_due_on=date(2024, 2, 15))
    assert generate(t360).installments[0].interest == 14667


def test_whole_unit_rounding_rounds_installments_to_yuan():
    t = terms("10000", "7.2", 12, rounding_unit=100)
    rows = generate(t).installments
    assert all(r.total % 100 == 0 for r in rows[:-1])
    assert sum(r.principal for r in rows) == 1000000


def test_rounding_up_never_gives_a_smaller_installment_than_half_up():
    half = annuity_payment(terms("10000", "7.3", 12))
    up = annuity_payment(terms("10000", "7.3", 12, rounding=Rounding.UP))
    down = annuity_payment(terms("10000", "7.3", 12, rounding=Rounding.DOWN))
    assert down <= half <= up and up - down == 1


def test_due_dates_clamp_to_month_end_and_return_to_the_anchor_day():
    rows = generate(terms("1200", "0", 3, first_due_on=date(2024, 1, 31))).installments
    assert [r.due_on for r in rows] == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"principal": "0"}, "invalid_principal"),
        ({"months": 0}, "invalid_term"),
        ({"rate": "-1"}, "invalid_rate"),
    ],
)
def test_impossible_terms_are_refused_with_a_code(kw, code):
    args = {"principal": "1000", "rate": "5", "months": 12, **kw}
    with pytest.raises(ScheduleError) as info:
        generate(terms(args["principal"], args["rate"], args["months"]))
    assert info.value.code == code


def test_first_due_must_follow_disbursement():
    with pytest.raises(ScheduleError):
        generate(terms("1000", "5", 3, disbursed_on=FIRST_DUE))


def test_imported_schedule_keeps_the_core_systems_amounts_and_dates():
    rows = [
        (1, date(2023, 1, 31), 31200, 0, 0),
        (2, date(2023, 3, 2), 31200, 0, 0),
        (3, date(2023, 4, 1), 31200, 0, 0),
        (4, date(2023, 5, 1), 31400, 0, 0),
    ]
    schedule = from_rows(125000, rows)
    assert [i.due_on for i in schedule.installments] == [r[1] for r in rows]
    assert schedule.installments[-1].balance_after == 0


@pytest.mark.parametrize(
    ("rows", "code"),
    [
        (
            [(1, date(2023, 1, 31), 100, 0, 0), (3, date(2023, 2, 28), 100, 0, 0)],
            "installment_numbering",
        ),
        (
            [(1, date(2023, 1, 31), 100, 0, 0), (2, date(2023, 1, 31), 100, 0, 0)],
            "due_dates_not_increasing",
        ),
        (
            [(1, date(2023, 1, 31), 150, 0, 0), (2, date(2023, 2, 28), 100, 0, 0)],
            "principal_mismatch",
        ),
        ([(1, date(2023, 1, 31), 300, -100, 0)], "negative_amount"),
        ([], "empty_schedule"),
    ],
)
def test_imported_schedule_that_is_not_a_schedule_is_refused(rows, code):
    with pytest.raises(ScheduleError) as info:
        from_rows(200, rows)
    assert info.value.code == code


any_terms = st.builds(
    LoanTerms,
    principal=st.integers(min_value=1, max_value=10**11),
    annual_rate=st.decimals(min_value=0, max_value=60, places=3),
    months=st.integers(min_value=1, max_value=480),
    method=st.sampled_from(list(Method)),
    first_due_on=st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)),
    disbursed_on=st.none(),
    day_count=st.sampled_from(list(DayCount)),
    rounding=st.sampled_from(list(Rounding)),
    rounding_unit=st.sampled_from([1, 100]),
)


@settings(max_examples=300, deadline=None)
@given(any_terms)
def test_principal_always_sums_exactly_to_the_amount_lent(t):
    schedule = generate(t)
    assert sum(i.principal for i in schedule.installments) == t.principal
    assert schedule.installments[-1].balance_after == 0


@settings(max_examples=300, deadline=None)
@given(any_terms)
def test_no_negative_amount_or_balance_and_dates_increase(t):
    rows = generate(t).installments
    assert all(r.principal >= 0 and r.interest >= 0 and r.balance_after >= 0 for r in rows)
    assert all(a.due_on < b.due_on for a, b in itertools.pairwise(rows))
    assert all(a.balance_after >= b.balance_after for a, b in itertools.pairwise(rows))


@settings(max_examples=200, deadline=None)
@given(any_terms)
def test_totals_are_the_sum_of_the_rows(t):
    schedule = generate(t)
    assert schedule.total_interest == sum(r.interest for r in schedule.installments)
    assert schedule.total_repayment == sum(r.total for r in schedule.installments)


@settings(max_examples=200, deadline=None)
@given(
    any_terms.filter(lambda t: t.method is Method.ANNUITY and t.rounding_unit == 1 and t.months > 1)
)
def test_annuity_installments_are_level_except_the_last(t):
    rows = generate(t).installments
    payment = annuity_payment(t)
    balance = t.principal
    for row in rows[:-1]:
        if row.interest <= payment and balance >= payment - row.interest:
            assert row.total == payment
        else:  # the balance ran out early, or interest alone exceeds the installment
            assert row.principal == min(balance, max(payment - row.interest, 0))
        balance = row.balance_after


@settings(max_examples=300, deadline=None)
@given(
    any_terms.filter(lambda t: t.day_count is DayCount.THIRTY_360),
    st.integers(min_value=1, max_value=120),
)
def test_reused_30_360_amounts_equal_a_fresh_computation(t, days_before):
    from datetime import timedelta

    from arrears.loans.schedule import _generate

    for terms_ in (t, replace(t, disbursed_on=t.first_due_on - timedelta(days=days_before))):
        assert generate(terms_) == _generate(terms_)
