"""Installments nothing can reach yet are left out of an evaluation with the same result."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from arrears.delinquency import service as delinquency
from arrears.delinquency.accrual import LOOKAHEAD, Beyond, evaluate, reaches_beyond
from arrears.ledger import service as ledger
from arrears.ledger.allocation import Due, Receipt
from arrears.loans.models import Installment, Loan
from tests.delinquency.test_advance import (
    BUCKETS,
    START,
    fees,
    fees_of,
    money,
    offsets,
    receipts_of,
    schedules,
    terms_strategy,
)
from tests.factories import make_customer, make_loan, make_product


def _left_out(dues, cut):
    kept = [d for d in dues if d.due_on < cut]
    rest = [d for d in dues if d.due_on >= cut]
    owing = [d.due_on for d in rest if d.principal + d.interest + d.fee > 0]
    beyond = Beyond(
        len(rest),
        sum(d.principal for d in rest),
        sum(d.principal + d.interest + d.fee for d in rest),
        min(owing, default=None),
    )
    return kept, beyond


@settings(max_examples=600, deadline=None)
@given(schedules, money, fees, terms_strategy, offsets, st.integers(min_value=0, max_value=60))
def test_leaving_out_what_nothing_reaches_changes_nothing(
    dues, paid, charged, terms, offset, ahead
):
    as_of = START + timedelta(days=offset)
    receipts = receipts_of(paid)  # money dated after the business date too: it is allocated
    manual = fees_of(dues, charged)
    kept, beyond = _left_out(dues, as_of + timedelta(days=ahead))
    charged_numbers = {c.installment_number for c in manual}
    if (
        not beyond.installments
        or reaches_beyond(kept, receipts, beyond)
        or not charged_numbers <= {d.number for d in kept}
    ):
        event("everything needed")
        return
    event("left out")
    whole = evaluate(dues, receipts, as_of, terms=terms, manual_charges=manual, buckets=BUCKETS)
    part = evaluate(
        kept, receipts, as_of, terms=terms, manual_charges=manual, buckets=BUCKETS, beyond=beyond
    )
    assert part.aging == whole.aging
    assert part.charges == whole.charges
    assert part.outstanding_principal == whole.outstanding_principal
    assert part.outstanding_total == whole.outstanding_total
    if ahead >= LOOKAHEAD.days:  # as the run leaves them out: the very same carry
        assert part.carry == whole.carry
    elif whole.carry is None:
        assert part.carry is None
    else:  # a carry that looks less far ahead: it holds less and stops sooner
        assert part.carry is not None and part.carry.open_from == whole.carry.open_from
        cut = as_of + timedelta(days=ahead)
        assert part.carry.rows == tuple(r for r in whole.carry.rows if r.due_on < cut)
        assert part.carry.horizon is not None and part.carry.horizon >= cut
        assert all(r.due_on >= part.carry.horizon for r in whole.carry.rows if r.due_on >= cut)
    assert part.ledger.allocations == whole.ledger.allocations
    assert part.ledger.credit == whole.ledger.credit
    assert part.ledger.charge_paid == whole.ledger.charge_paid
    built = {i.number: i for i in whole.ledger.installments}
    assert all(built[i.number] == i for i in part.ledger.installments)
    # what was left out is exactly as scheduled: nothing paid, nothing charged
    left = [built[d.number] for d in dues if d not in kept]
    assert all(i.outstanding == i.principal + i.interest + i.fee for i in left)


def test_an_evaluation_refuses_to_leave_out_what_would_be_reached():
    schedule = [Due(1, START, 10_000, 0), Due(2, START + timedelta(days=30), 10_000, 0)]
    kept, beyond = _left_out(schedule, START + timedelta(days=30))
    # paid more than the first installment: the second would be reached
    with pytest.raises(ValueError, match="would be reached"):
        evaluate(kept, [Receipt(1, START, 15_000)], START, beyond=beyond)
    # evaluated after the left-out installment falls due: it would be overdue
    with pytest.raises(ValueError, match="would be reached"):
        evaluate(kept, [], START + timedelta(days=40), beyond=beyond)


def _book(db_session):
    make_product(db_session)
    make_customer(db_session)
    for ref in ("L1", "L2"):
        make_loan(db_session, ref, months=24, disbursed_on=date(2024, 1, 1))
    db_session.commit()
    ids = {ref: loan_id for ref, loan_id in db_session.execute(select(Loan.loan_ref, Loan.id))}
    # L1 pays its first installment; L2 pays far ahead of its schedule
    for ref, loan_ref, amount in (("P1", "L1", "60.00"), ("P2", "L2", "900.00")):
        ledger.post_payment(
            db_session=db_session,
            payment=ledger.PaymentIn(ref, loan_ref, date(2024, 2, 1), Decimal(amount)),
        )
    db_session.commit()
    return ids


def test_the_run_loads_only_the_installments_money_and_time_can_reach(db_session):
    ids = _book(db_session)
    on = date(2024, 5, 20)
    inputs = delinquency.load_inputs(db_session, sorted(ids.values()), on)
    near = inputs[ids["L1"]]
    # due before 45 days ahead (Feb … Jul): six of 24; the other 18 summed up
    assert [d.due_on.month for d in near.dues] == [2, 3, 4, 5, 6, 7]
    assert near.beyond is not None and near.beyond.installments == 18
    assert near.beyond.first_due_on == date(2024, 8, 1)
    # paid far ahead: what it paid is loaded, the 8 installments its money did not reach not
    ahead = inputs[ids["L2"]]
    assert len(ahead.dues) == 16 and ahead.beyond is not None
    assert ahead.beyond.installments == 8
    whole = delinquency.load_inputs(db_session, sorted(ids.values()))
    assert not reaches_beyond(ahead.dues, ahead.receipts, ahead.beyond)
    # were the stored paid amounts stale, its money would reach past what is loaded: whole
    db_session.execute(
        update(Installment)
        .where(Installment.loan_id == ids["L2"])
        .values(paid_principal=0, paid_interest=0, paid_fee=0)
    )
    stale = delinquency.load_inputs(db_session, [ids["L2"]], on)[ids["L2"]]
    assert stale.beyond is None and len(stale.dues) == 24
    rules = delinquency.load_rules(db_session, {near.product_id})
    for loan_id in ids.values():
        rule = rules[whole[loan_id].product_id]
        part = delinquency.evaluate_inputs(inputs[loan_id], rule, on)
        full = delinquency.evaluate_inputs(whole[loan_id], rule, on)
        assert delinquency.state_columns(part) == delinquency.state_columns(full)


@pytest.mark.parametrize("on", [date(2025, 1, 15), date(2025, 3, 31), date(2025, 9, 1)])
def test_on_a_demo_book_leaving_installments_out_plans_the_same_writes(
    engine, db_session, tmp_path, on
):
    from arrears.demo.build import build_demo

    build_demo(engine, loans=120, seed=5, as_of=date(2025, 3, 31), directory=tmp_path)
    loan_ids = sorted(db_session.scalars(select(Loan.id)))
    part = delinquency.load_inputs(db_session, loan_ids, on)
    whole = delinquency.load_inputs(db_session, loan_ids)
    assert sum(1 for item in part.values() if item.beyond) > len(loan_ids) // 3
    rules = delinquency.load_rules(db_session, {i.product_id for i in whole.values()})
    evaluated = {
        name: {
            loan_id: delinquency.evaluate_inputs(item, rules[item.product_id], on)
            for loan_id, item in inputs.items()
        }
        for name, inputs in (("part", part), ("whole", whole))
    }
    for loan_id in loan_ids:
        assert delinquency.state_columns(evaluated["part"][loan_id]) == delinquency.state_columns(
            evaluated["whole"][loan_id]
        )
    planned = {
        "part": delinquency.plan_writes(part, evaluated["part"]),
        "whole": delinquency.plan_writes(whole, evaluated["whole"]),
    }
    for name in (
        "charge_deletes",
        "charge_updates",
        "new_charges",
        "installment_updates",
        "paid_updates",
        "allocation_rows",
        "credit_updates",
    ):
        got = sorted(map(repr, getattr(planned["part"], name)))
        assert got == sorted(map(repr, getattr(planned["whole"], name))), name
