"""Evaluation as of a date, pure: penalty interest, late fees, holds, and its properties."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.delinquency.accrual import AccrualTerms, evaluate, resolve_penalty_rate
from arrears.delinquency.aging import HoldSpan
from arrears.ledger.allocation import Due, Receipt

START = date(2024, 1, 31)
DUES = [Due(k + 1, START + timedelta(days=30 * k), 100_000, 5_000) for k in range(6)]
PENALTY = AccrualTerms(penalty_rate=Decimal("18"), basis=360, late_fee=2000)


def test_penalty_is_simple_interest_on_overdue_principal():
    result = evaluate(
        DUES[:1], [], START + timedelta(days=10), terms=AccrualTerms(penalty_rate=Decimal("18"))
    )
    # 1,000.00 × 18 % × 10 / 360 = 5.00
    assert result.aging.overdue.penalty == 500
    assert result.aging.overdue.interest == 5000


def test_compound_penalty_also_accrues_on_overdue_interest():
    terms = AccrualTerms(penalty_rate=Decimal("18"), compound=True)
    result = evaluate(DUES[:1], [], START + timedelta(days=10), terms=terms)
    assert result.aging.overdue.penalty == 525  # 1,050.00 × 18 % × 10 / 360


def test_multiplier_is_applied_to_the_contract_rate():
    assert resolve_penalty_rate(None, Decimal("1.5"), Decimal("12")) == Decimal("18.0")
    assert resolve_penalty_rate(Decimal("24"), None, Decimal("12")) == Decimal("24")
    assert resolve_penalty_rate(None, None, Decimal("12")) is None


def test_late_fee_is_charged_once_when_grace_passes():
    terms = AccrualTerms(late_fee=2000, grace_days=3)
    early = evaluate(DUES[:1], [], START + timedelta(days=3), terms=terms)
    late = evaluate(DUES[:1], [], START + timedelta(days=40), terms=terms)
    assert early.aging.overdue.fee == 0
    assert late.aging.overdue.fee == 2000
    assert [c.kind for c in late.charges] == ["late_fee"]


def test_no_late_fee_when_paid_within_grace():
    terms = AccrualTerms(late_fee=2000, grace_days=3)
    paid = [Receipt(1, START + timedelta(days=2), 105_000)]
    assert evaluate(DUES[:1], paid, START + timedelta(days=40), terms=terms).charges == ()


def test_payment_pays_the_penalty_accrued_up_to_its_date_first():
    paid = [Receipt(1, START + timedelta(days=10), 500)]
    result = evaluate(
        DUES[:1], paid, START + timedelta(days=10), terms=AccrualTerms(penalty_rate=Decimal("18"))
    )
    assert result.aging.overdue.penalty == 0
    assert result.aging.overdue.principal == 100_000


def test_suspending_hold_stops_penalty_but_legal_hold_does_not():
    on = START + timedelta(days=20)
    suspended = [HoldSpan(START, START + timedelta(days=10), suspends_penalty=True)]
    kept = [HoldSpan(START, START + timedelta(days=10), suspends_penalty=False)]
    terms = AccrualTerms(penalty_rate=Decimal("36"))
    assert evaluate(DUES[:1], [], on, terms=terms, holds=suspended).aging.overdue.penalty == 1000
    assert evaluate(DUES[:1], [], on, terms=terms, holds=kept).aging.overdue.penalty == 2000
    # both pause ageing
    assert evaluate(DUES[:1], [], on, terms=terms, holds=kept).aging.delinquent_days == 10


# ---- properties -------------------------------------------------------------------------

receipts_strategy = st.lists(
    st.tuples(st.integers(min_value=0, max_value=260), st.integers(min_value=1, max_value=200_000)),
    max_size=8,
)
terms_strategy = st.builds(
    AccrualTerms,
    penalty_rate=st.sampled_from([None, Decimal("0"), Decimal("18"), Decimal("24.5")]),
    basis=st.sampled_from([360, 365]),
    compound=st.booleans(),
    grace_days=st.integers(min_value=0, max_value=10),
    late_fee=st.sampled_from([0, 1500]),
    tolerance=st.sampled_from([0, 1, 100]),
)


def _receipts(rows):
    return [
        Receipt(k + 1, START + timedelta(days=d), amount, k + 1)
        for k, (d, amount) in enumerate(rows)
    ]


@settings(max_examples=250, deadline=None)
@given(receipts_strategy, terms_strategy, st.integers(min_value=0, max_value=300))
def test_paying_everything_overdue_always_cures(rows, terms, offset):
    on = START + timedelta(days=offset)
    receipts = _receipts(rows)
    before = evaluate(DUES, receipts, on, terms=terms)
    if before.aging.overdue.total == 0:
        return
    payoff = Receipt(999, on, before.aging.overdue.total, 999)
    after = evaluate(DUES, [*receipts, payoff], on, terms=terms)
    assert after.aging.past_due_days == 0 and after.aging.overdue.total == 0
    assert after.aging.bucket == "M0"


@settings(max_examples=250, deadline=None)
@given(
    receipts_strategy,
    terms_strategy,
    st.integers(min_value=0, max_value=300),
    st.randoms(use_true_random=False),
)
def test_order_of_posting_back_dated_payments_does_not_change_the_result(rows, terms, offset, rnd):
    on = START + timedelta(days=offset)
    receipts = _receipts(rows)
    shuffled = list(receipts)
    rnd.shuffle(shuffled)
    assert evaluate(DUES, shuffled, on, terms=terms) == evaluate(DUES, receipts, on, terms=terms)


@settings(max_examples=200, deadline=None)
@given(receipts_strategy, terms_strategy, st.integers(min_value=0, max_value=300))
def test_evaluating_again_is_a_no_op(rows, terms, offset):
    on = START + timedelta(days=offset)
    receipts = _receipts(rows)
    assert evaluate(DUES, receipts, on, terms=terms) == evaluate(DUES, receipts, on, terms=terms)


@settings(max_examples=200, deadline=None)
@given(receipts_strategy, terms_strategy, st.integers(min_value=1, max_value=300))
def test_penalty_never_decreases_from_one_day_to_the_next_without_payments(rows, terms, offset):
    receipts = [r for r in _receipts(rows) if r.value_date <= START]
    today = evaluate(DUES, receipts, START + timedelta(days=offset), terms=terms)
    tomorrow = evaluate(DUES, receipts, START + timedelta(days=offset + 1), terms=terms)
    charged = lambda e: sum(c.amount for c in e.charges if c.kind == "penalty")  # noqa: E731
    assert charged(tomorrow) >= charged(today)
    assert tomorrow.aging.past_due_days >= today.aging.past_due_days


@settings(max_examples=200, deadline=None)
@given(receipts_strategy, terms_strategy, st.integers(min_value=0, max_value=300))
def test_money_in_equals_money_applied_plus_credit(rows, terms, offset):
    on = START + timedelta(days=offset)
    receipts = _receipts(rows)
    result = evaluate(DUES, receipts, on, terms=terms)
    applied = sum(a.amount for a in result.ledger.allocations if a.component != "credit")
    assert applied + result.ledger.credit == sum(r.amount for r in receipts)


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.integers(min_value=0, max_value=4000),
    st.decimals(min_value=0, max_value=1000, places=4),
    st.sampled_from([360, 365]),
)
def test_penalty_is_the_exact_interest_rounded_half_up_once(base, days, rate, basis):
    from arrears.delinquency.accrual import _penalty
    from arrears.kit.money import Rounding, round_ratio

    ratio = rate.as_integer_ratio()
    exact = Decimal(base) * rate * days / (100 * basis)
    expected = round_ratio(base * ratio[0] * days, ratio[1] * 100 * basis, 1, Rounding.HALF_UP)
    assert _penalty(base, days, ratio, basis) == expected
    assert abs(Decimal(expected) - exact) <= Decimal("0.5")
