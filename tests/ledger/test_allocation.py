"""Payment allocation: examples of the rules, and properties for any ledger."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.ledger.allocation import DEFAULT_ORDER, ChargeDue, Due, Receipt, allocate

D = date(2023, 1, 31)
WORKED = [
    Due(1, date(2023, 1, 31), 31200, 0),
    Due(2, date(2023, 3, 2), 31200, 0),
    Due(3, date(2023, 4, 1), 31200, 0),
    Due(4, date(2023, 5, 1), 31400, 0),
]


def test_payment_goes_to_the_oldest_installment_first():
    state = allocate(WORKED, [], [Receipt(1, date(2023, 5, 31), 62600)])
    assert [i.outstanding for i in state.installments] == [0, 0, 31000, 31400]


def test_within_an_installment_penalty_then_fee_then_interest_then_principal():
    dues = [Due(1, D, 10000, 500)]
    charges = [ChargeDue(1, 1, "fee", D, 300), ChargeDue(2, 1, "penalty", D, 200)]
    state = allocate(dues, charges, [Receipt(1, D + timedelta(days=5), 900)])
    components = [(a.component, a.amount) for a in state.allocations]
    assert components == [("penalty", 200), ("fee", 300), ("interest", 400)]
    assert state.installments[0].outstanding_interest == 100
    assert state.installments[0].outstanding_principal == 10000


def test_a_configured_order_is_followed():
    dues = [Due(1, D, 10000, 500)]
    charges = [ChargeDue(1, 1, "penalty", D, 200)]
    state = allocate(
        dues, charges, [Receipt(1, D, 600)], ("principal", "interest", "fee", "penalty")
    )
    assert [(a.component, a.amount) for a in state.allocations] == [("principal", 600)]


def test_a_charge_is_not_paid_by_a_payment_made_before_it_was_charged():
    dues = [Due(1, D, 1000, 0), Due(2, D + timedelta(days=30), 1000, 0)]
    charges = [ChargeDue(7, 1, "penalty", D + timedelta(days=10), 50)]
    state = allocate(dues, charges, [Receipt(1, D + timedelta(days=5), 1000)])
    assert state.installments[0].outstanding_penalty == 50
    assert state.installments[0].outstanding_principal == 0


def test_overpayment_is_kept_as_credit_and_pays_later_charges():
    dues = [Due(1, D, 1000, 0)]
    charges = [ChargeDue(7, 1, "fee", D + timedelta(days=10), 30)]
    state = allocate(dues, charges, [Receipt(1, D, 1100)])
    assert state.credit == 70
    assert state.installments[0].outstanding == 0
    assert state.charge_paid == {7: 30}


def test_back_dated_payment_is_applied_in_value_date_order():
    late = Receipt(2, date(2023, 6, 1), 100)
    early = Receipt(1, date(2023, 2, 1), 31200)
    assert allocate(WORKED, [], [late, early]) == allocate(WORKED, [], [early, late])
    first = allocate(WORKED, [], [late, early]).allocations[0]
    assert first.payment_id == 1


def test_unknown_installment_in_a_charge_is_an_error():
    with pytest.raises(ValueError):
        allocate(WORKED, [ChargeDue(1, 9, "fee", D, 1)], [])


# ---- properties -------------------------------------------------------------------------


@st.composite
def ledgers(draw):
    n = draw(st.integers(min_value=1, max_value=12))
    start = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)))
    dues = [
        Due(
            k + 1,
            start + timedelta(days=30 * k),
            draw(st.integers(min_value=0, max_value=100_000)),
            draw(st.integers(min_value=0, max_value=5_000)),
            draw(st.integers(min_value=0, max_value=500)),
        )
        for k in range(n)
    ]
    charges = [
        ChargeDue(
            c + 1,
            draw(st.integers(min_value=1, max_value=n)),
            draw(st.sampled_from(["penalty", "fee"])),
            start + timedelta(days=draw(st.integers(min_value=0, max_value=400))),
            draw(st.integers(min_value=1, max_value=3_000)),
        )
        for c in range(draw(st.integers(min_value=0, max_value=5)))
    ]
    receipts = [
        Receipt(
            p + 1,
            start + timedelta(days=draw(st.integers(min_value=0, max_value=400))),
            draw(st.integers(min_value=1, max_value=150_000)),
            p + 1,
        )
        for p in range(draw(st.integers(min_value=0, max_value=8)))
    ]
    order = tuple(draw(st.permutations(DEFAULT_ORDER)))
    return dues, charges, receipts, order


def _owed(dues, charges):
    return sum(d.principal + d.interest + d.fee for d in dues) + sum(c.amount for c in charges)


@settings(max_examples=400, deadline=None)
@given(ledgers())
def test_allocated_parts_sum_to_each_payment(ledger):
    dues, charges, receipts, order = ledger
    state = allocate(dues, charges, receipts, order)
    for receipt in receipts:
        parts = sum(a.amount for a in state.allocations if a.payment_id == receipt.payment_id)
        assert parts == receipt.amount


@settings(max_examples=400, deadline=None)
@given(ledgers())
def test_no_cent_is_lost_and_nothing_is_negative(ledger):
    dues, charges, receipts, order = ledger
    state = allocate(dues, charges, receipts, order)
    paid_in = sum(r.amount for r in receipts)
    assert all(
        min(
            i.outstanding_principal,
            i.outstanding_interest,
            i.outstanding_fee,
            i.outstanding_penalty,
        )
        >= 0
        for i in state.installments
    )
    assert state.credit >= 0
    # money in = money applied + money held
    assert _owed(dues, charges) - state.outstanding + state.credit == paid_in
    # credit only exists when nothing payable is left
    if state.credit:
        assert state.outstanding == 0


@settings(max_examples=300, deadline=None)
@given(ledgers(), st.data())
def test_an_extra_payment_never_increases_what_is_owed(ledger, data):
    dues, charges, receipts, order = ledger
    before = allocate(dues, charges, receipts, order)
    extra = Receipt(
        999,
        data.draw(st.dates(min_value=date(2019, 1, 1), max_value=date(2032, 1, 1))),
        data.draw(st.integers(min_value=1, max_value=200_000)),
        999,
    )
    after = allocate(dues, charges, [*receipts, extra], order)
    assert after.outstanding <= before.outstanding
    assert after.outstanding + extra.amount + before.credit == before.outstanding + after.credit


@settings(max_examples=300, deadline=None)
@given(ledgers(), st.randoms(use_true_random=False))
def test_posting_order_does_not_change_the_result(ledger, rnd):
    dues, charges, receipts, order = ledger
    shuffled = list(receipts)
    rnd.shuffle(shuffled)
    reordered_dues = list(dues)
    rnd.shuffle(reordered_dues)
    assert allocate(reordered_dues, charges, shuffled, order) == allocate(
        dues, charges, receipts, order
    )


@settings(max_examples=200, deadline=None)
@given(ledgers())
def test_paying_everything_leaves_nothing_outstanding(ledger):
    dues, charges, _receipts, order = ledger
    last = max([d.due_on for d in dues] + [c.charged_on for c in charges])
    owed = _owed(dues, charges)
    state = allocate(dues, charges, [Receipt(10_000, last, owed, 10_000)] if owed else [], order)
    assert state.outstanding == 0 and state.credit == 0
