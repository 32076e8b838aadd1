"""Advancing a delinquent loan from its carry gives exactly what evaluating it again gives."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from arrears.delinquency.accrual import AccrualTerms, Carry, advance, evaluate
from arrears.delinquency.aging import BucketRule, HoldSpan
from arrears.ledger.allocation import ChargeDue, Due, Receipt

START = date(2024, 1, 31)
BUCKETS = (
    BucketRule("C", 0, 0),
    BucketRule("B1", 1, 10),
    BucketRule("B2", 11, 45),
    BucketRule("B3", 46, None),
)


def _schedule(gaps: list[int], principal: int) -> list[Due]:
    dues, on = [], START
    for k, gap in enumerate(gaps):
        dues.append(Due(k + 1, on, principal, principal // 20, 300 if k % 3 == 0 else 0))
        on += timedelta(days=gap)
    return dues


def _charged(evaluation_charges):
    return {
        (c.installment_number, c.kind, c.accrued_from, c.charged_on, c.amount)
        for c in evaluation_charges
    }


schedules = st.builds(
    _schedule,
    st.lists(st.integers(min_value=1, max_value=45), min_size=1, max_size=8),
    st.integers(min_value=1, max_value=300_000),
)
terms_strategy = st.builds(
    AccrualTerms,
    penalty_rate=st.sampled_from(
        [None, Decimal("0"), Decimal("18.25"), Decimal("24.5"), Decimal("0.3")]
    ),
    basis=st.sampled_from([360, 365]),
    compound=st.booleans(),
    grace_days=st.integers(min_value=0, max_value=10),
    late_fee=st.sampled_from([0, 1500]),
    tolerance=st.sampled_from([0, 1, 100]),
)
money = st.lists(
    st.tuples(st.integers(min_value=0, max_value=200), st.integers(min_value=1, max_value=150_000)),
    max_size=6,
)


fees = st.lists(
    st.tuples(st.integers(min_value=0, max_value=200), st.integers(1, 5000)), max_size=2
)
offsets = st.integers(min_value=0, max_value=260)  # days from START to the business date


def receipts_of(paid, until=date.max):
    """The drawn payments (days after START, amount) dated up to ``until``."""
    return [
        Receipt(k + 1, START + timedelta(days=d), amount, k + 1)
        for k, (d, amount) in enumerate(paid)
        if START + timedelta(days=d) <= until
    ]


def fees_of(dues, charged, until=date.max):
    """The drawn fees (days after START, amount), charged in turn to each installment."""
    return [
        ChargeDue(100 + k, dues[k % len(dues)].number, "fee", START + timedelta(days=d), amount)
        for k, (d, amount) in enumerate(charged)
        if START + timedelta(days=d) <= until
    ]


@settings(max_examples=400, deadline=None)
@given(schedules, money, fees, terms_strategy, offsets, st.integers(min_value=1, max_value=100))
def test_advancing_equals_evaluating_again(dues, paid, charged, terms, offset, days):
    since = START + timedelta(days=offset)
    receipts = receipts_of(paid, since)
    manual = fees_of(dues, charged, since)
    before = evaluate(dues, receipts, since, terms=terms, manual_charges=manual, buckets=BUCKETS)
    event("no carry" if before.carry is None else "carried")
    if before.carry is None:
        # only delinquent loans without anything pending carry; those with it age past zero
        assert (
            before.aging.past_due_days == 0
            or before.ledger.credit
            or any(c.kind == "penalty" for c in before.charges)
        )
        return
    assert Carry.from_json(before.carry.to_json()) == before.carry
    on = since + timedelta(days=days)
    moved = advance(
        before.carry,
        since,
        on,
        outstanding_principal=before.outstanding_principal,
        outstanding_total=before.outstanding_total,
        terms=terms,
        buckets=BUCKETS,
    )
    # what advance must refuse: an owing installment it does not carry falls due, or a
    # late fee is charged (which cuts the accrual span)
    grace = timedelta(days=terms.grace_days)
    owing = {p.number: p for p in before.positions if p.total > 0}
    carried = {r.number for r in before.carry.rows}
    uncarried_due = [n for n, p in owing.items() if n not in carried and p.due_on < on]
    fee_charged = [
        n
        for n, p in owing.items()
        if terms.late_fee
        and since < p.due_on + grace + timedelta(days=1) <= on
        and p.principal + p.interest + p.fee > terms.tolerance
    ]
    event("refused: falls due" if uncarried_due else "refused: fee" if fee_charged else "free")
    event("refused" if moved is None else "advanced")
    if moved is None:
        assert uncarried_due or fee_charged, "advance refused although nothing happens"
        return
    assert not uncarried_due and not fee_charged
    after = evaluate(dues, receipts, on, terms=terms, manual_charges=manual, buckets=BUCKETS)
    assert moved.aging == after.aging
    assert moved.outstanding_total == after.outstanding_total
    assert moved.outstanding_principal == after.outstanding_principal
    # the advanced carry still looks only as far ahead as the first one did: what it holds is
    # what a fresh evaluation holds, and anything else fresh falls due after its horizon
    assert after.carry is not None and moved.carry.open_from == after.carry.open_from
    fresh = {r.number: r for r in after.carry.rows}
    assert all(fresh[r.number] == r for r in moved.carry.rows)
    beyond = [r for r in after.carry.rows if r not in moved.carry.rows]
    assert all(moved.carry.horizon is not None and r.due_on >= moved.carry.horizon for r in beyond)
    # the charges: those the table holds do not move (the open span is the carry's), and
    # the carry's open span is exactly what a fresh evaluation charges beyond them
    assert _charged(after.stored_charges()) == _charged(before.stored_charges())
    carried = {
        (r.number, "penalty", moved.carry.open_span_begins(r, terms.grace_days), on, amount)
        for r in moved.carry.rows
        if (amount := r.open_charge)
    }
    assert _charged(after.stored_charges()) | carried == _charged(after.charges)
    # the derived ledger itself does not move: nothing was paid
    assert after.ledger.allocations == before.ledger.allocations


def test_a_defaulted_loan_advances_day_by_day_like_a_fresh_evaluation():
    dues = _schedule([30, 30, 31, 30], 100_000)
    terms = AccrualTerms(penalty_rate=Decimal("18.25"), basis=365, grace_days=3, late_fee=1500)
    receipts = [Receipt(1, START, 105_300, 1)]
    since = START + timedelta(days=130)
    carry = evaluate(dues, receipts, since, terms=terms).carry
    assert carry is not None and [r.number for r in carry.rows] == [2, 3, 4]
    evaluation = evaluate(dues, receipts, since, terms=terms)
    principal, total = evaluation.outstanding_principal, evaluation.outstanding_total
    for day in range(1, 8):
        on = since + timedelta(days=day)
        moved = advance(
            carry,
            on - timedelta(days=1),
            on,
            outstanding_principal=principal,
            outstanding_total=total,
            terms=terms,
        )
        assert moved is not None
        fresh = evaluate(dues, receipts, on, terms=terms)
        assert moved.aging == fresh.aging and moved.outstanding_total == fresh.outstanding_total
        carry, total = moved.carry, moved.outstanding_total
    assert fresh.aging.past_due_days == 137 - 30  # from the second due date


def test_no_carry_with_a_hold_or_money_dated_later():
    dues = _schedule([30, 30], 50_000)
    terms = AccrualTerms(penalty_rate=Decimal("18"))
    since = START + timedelta(days=70)
    assert evaluate(dues, [], since, terms=terms).carry is not None
    held = [HoldSpan(START + timedelta(days=10), START + timedelta(days=20))]
    assert evaluate(dues, [], since, terms=terms, holds=held).carry is None
    later = [Receipt(1, since + timedelta(days=1), 1_000, 1)]
    assert evaluate(dues, later, since, terms=terms).carry is None
    # current loans need none
    assert evaluate(dues, [], START - timedelta(days=1), terms=terms).carry is None


def test_advance_refuses_when_an_uncarried_installment_falls_due_or_a_fee_is_charged():
    dues = _schedule([30, 30, 30], 50_000)  # due START, +30, +60
    since = START + timedelta(days=10)
    for terms in (
        AccrualTerms(penalty_rate=Decimal("18")),
        AccrualTerms(penalty_rate=Decimal("18"), late_fee=1500, grace_days=2),
    ):
        evaluation = evaluate(dues, [], since, terms=terms)
        carry = evaluation.carry
        assert carry is not None
        # the second installment falls due within the look-ahead: carried; the third not
        assert [r.number for r in carry.rows] == [1, 2]
        assert carry.horizon == START + timedelta(days=60)
        kwargs = dict(
            outstanding_principal=evaluation.outstanding_principal,
            outstanding_total=evaluation.outstanding_total,
            terms=terms,
        )
        assert advance(carry, since, since, **kwargs) is None
        assert advance(carry, since, START + timedelta(days=61), **kwargs) is None
        crossing = advance(carry, since, START + timedelta(days=31), **kwargs)
        assert (crossing is None) == bool(terms.late_fee) is False or terms.grace_days > 0
        # the late fee of the second installment is charged on its due date + grace + 1
        fee_day = START + timedelta(days=30 + terms.grace_days + 1)
        assert (advance(carry, since, fee_day, **kwargs) is None) == bool(terms.late_fee)
        assert advance(carry, since, fee_day - timedelta(days=1), **kwargs) is not None
