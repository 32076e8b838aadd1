"""The daily run on a real database: the worked example, catch-up, re-runs, holds, events."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from arrears.delinquency import eod, holds
from arrears.delinquency import service as delinquency
from arrears.delinquency.models import (
    BucketHistory,
    Cure,
    EodRun,
    LoanSnapshot,
    LoanState,
    OutboxEvent,
)
from arrears.kit.errors import Conflict
from arrears.ledger import service as ledger
from arrears.ledger.models import Allocation, Charge, ChargeKind
from arrears.loans import exports
from arrears.loans import service as loans
from arrears.loans.schedule import from_rows
from tests.factories import make_customer, make_loan, make_product

WORKED_BUCKETS = [
    {"code": "B1-10", "min_days": 0, "max_days": 10},
    {"code": "B11-30", "min_days": 11, "max_days": 30},
    {"code": "B31-60", "min_days": 31, "max_days": 60},
    {"code": "B61+", "min_days": 61, "max_days": None},
]


def worked_loan(db_session, **product):
    make_product(db_session, code="ZERO", buckets=WORKED_BUCKETS, **product)
    make_customer(db_session)
    loan = make_loan(
        db_session,
        "W1",
        product_code="ZERO",
        principal="1250.00",
        annual_rate="0",
        months=4,
        disbursed_on=date(2023, 1, 1),
        first_due_on=date(2023, 1, 31),
    )
    schedule = from_rows(
        125000,
        [
            (1, date(2023, 1, 31), 31200, 0, 0),
            (2, date(2023, 3, 2), 31200, 0, 0),
            (3, date(2023, 4, 1), 31200, 0, 0),
            (4, date(2023, 5, 1), 31400, 0, 0),
        ],
    )
    loans.replace_schedule(db_session=db_session, loan=loan, schedule=schedule)
    db_session.commit()
    return loan


def show(db_session, ref="W1"):
    db_session.expire_all()
    return loans.loan_view(
        db_session=db_session, loan=loans.get_by_ref_or_raise(db_session=db_session, loan_ref=ref)
    )


def pay(db_session, ref, amount, on=date(2023, 5, 31), loan_ref="W1"):
    ledger.post_payment(
        db_session=db_session, payment=ledger.PaymentIn(ref, loan_ref, on, Decimal(amount))
    )
    db_session.commit()


def test_worked_example_ages_and_cures_exactly(engine, db_session):
    worked_loan(db_session)
    eod.run_eod(engine, date(2023, 5, 31))
    view = show(db_session)
    assert view["past_due_days"] == 120
    assert view["overdue"]["total"] == "1250.00"
    assert view["overdue_by_bucket"] == {"B11-30": "314.00", "B31-60": "312.00", "B61+": "624.00"}
    assert view["bucket"] == "B61+"

    pay(db_session, "P1", "626.00")
    view = show(db_session)
    assert view["past_due_days"] == 60
    assert view["overdue"]["total"] == "624.00"
    assert view["overdue_by_bucket"] == {"B11-30": "314.00", "B31-60": "310.00"}

    pay(db_session, "P2", "100.00")
    view = show(db_session)
    assert (view["past_due_days"], view["overdue"]["total"]) == (60, "524.00")

    pay(db_session, "P3", "524.00")
    view = show(db_session)
    assert (view["past_due_days"], view["overdue"]["total"]) == (0, "0.00")
    assert view["classification"]["five_category"] == "normal"
    cure = db_session.scalar(select(Cure))
    assert cure.cured_on == date(2023, 5, 31) and cure.from_bucket == "B31-60"


def test_classification_follows_delinquent_days(engine, db_session):
    worked_loan(db_session)
    eod.run_eod(engine, date(2023, 5, 31))
    view = show(db_session)
    assert view["classification"] == {
        "five_category": "substandard",
        "five_category_label": "次级",
        "ifrs9_stage": 3,
        "non_performing": True,
        "non_performing_by_contagion": False,
    }


def test_catch_up_processes_every_missed_date_in_order(engine, db_session):
    worked_loan(db_session)
    eod.run_eod(engine, date(2023, 5, 26))
    run = eod.run_eod(engine, date(2023, 5, 31))
    assert run.from_date == date(2023, 5, 27) and run.completed_through == date(2023, 5, 31)
    dates = db_session.scalars(select(LoanSnapshot.as_of).order_by(LoanSnapshot.as_of)).all()
    assert dates == [date(2023, 5, 26) + timedelta(days=k) for k in range(6)]
    days = db_session.scalars(select(LoanSnapshot.past_due_days).order_by(LoanSnapshot.as_of)).all()
    assert days == [115, 116, 117, 118, 119, 120]


def _fingerprint(db_session):
    db_session.expire_all()
    state = db_session.scalars(select(LoanState).order_by(LoanState.loan_id)).all()
    return (
        [(s.loan_id, s.past_due_days, s.bucket, s.overdue_total, s.overdue_penalty) for s in state],
        sorted(
            (c.installment_number, c.kind, c.charged_on, c.amount, c.paid)
            for c in db_session.scalars(select(Charge))
        ),
        sorted(
            (a.payment_id, a.installment_number or 0, a.component, a.amount)
            for a in db_session.scalars(select(Allocation))
        ),
        db_session.scalar(select(func.count()).select_from(OutboxEvent)),
        db_session.scalar(select(func.count()).select_from(BucketHistory)),
        sorted(
            tuple(r)
            for r in db_session.execute(
                select(
                    LoanSnapshot.as_of,
                    LoanSnapshot.loan_id,
                    LoanSnapshot.overdue_principal,
                    LoanSnapshot.overdue_fee,
                    LoanSnapshot.overdue_penalty,
                )
            )
        ),
    )


def test_re_running_a_completed_date_is_a_no_op(engine, db_session):
    worked_loan(db_session, penalty_rate="18", late_fee="10.00")
    eod.run_eod(engine, date(2023, 5, 20))
    eod.run_eod(engine, date(2023, 5, 31))
    first = _fingerprint(db_session)
    eod.run_eod(engine, date(2023, 5, 31))
    assert _fingerprint(db_session) == first


def test_penalty_accrues_daily_and_is_re_derived_after_a_back_dated_payment(engine, db_session):
    worked_loan(db_session, penalty_rate="18")
    eod.run_eod(engine, date(2023, 2, 10))
    # 312.00 overdue for 10 days at 18 % on 30/360: 312 × 0.18 × 10 / 360 = 1.56
    assert show(db_session)["overdue"]["penalty"] == "1.56"
    eod.run_eod(engine, date(2023, 2, 11))
    assert show(db_session)["overdue"]["penalty"] == "1.72"
    # paying the installment on its due date, posted late, removes all penalty
    pay(db_session, "B1", "312.00", on=date(2023, 1, 31))
    view = show(db_session)
    assert view["overdue"]["total"] == "0.00" and view["past_due_days"] == 0


def test_hold_pauses_ageing_and_penalty(engine, db_session):
    worked_loan(db_session, penalty_rate="18")
    eod.run_eod(engine, date(2023, 2, 5))
    holds.place(
        db_session=db_session,
        loan_ref="W1",
        start_on=date(2023, 2, 1),
        end_on=date(2023, 2, 11),
        reason="disaster_relief",
    )
    db_session.commit()
    eod.run_eod(engine, date(2023, 2, 15))
    view = show(db_session)
    assert view["past_due_days"] == 15
    assert view["paused_days"] == 10 and view["delinquent_days"] == 5
    # penalty only for the 5 unheld days: 312 × 0.18 × 5 / 360 = 0.78
    assert view["overdue"]["penalty"] == "0.78"
    assert view["holds"][0]["reason"] == "disaster_relief"


def test_postings_between_runs_update_the_state_at_once(engine, db_session):
    """A hold, a charge, a payment and its reversal posted after the last run: the stored
    state is re-derived as of the current business date when each is posted."""
    worked_loan(db_session, penalty_rate="18")
    eod.run_eod(engine, date(2023, 2, 10))

    def state():
        db_session.expire_all()
        row = db_session.get(LoanState, 1)
        return row.as_of, row.past_due_days, row.paused_days, row.overdue_total

    assert state() == (date(2023, 2, 10), 10, 0, 31356)  # 312.00 and 1.56 penalty
    holds.place(
        db_session=db_session,
        loan_ref="W1",
        start_on=date(2023, 2, 5),
        end_on=None,  # open: held until ended
        reason="payment_holiday",
    )
    db_session.commit()
    # five days held, penalty suspended for them: 312 × 0.18 × 5 / 360 = 0.78
    assert state() == (date(2023, 2, 10), 10, 5, 31278)
    ledger.add_charge(
        db_session=db_session,
        loan=loans.get_by_ref_or_raise(db_session=db_session, loan_ref="W1"),
        installment_number=1,
        kind=ChargeKind.FEE,
        charged_on=date(2023, 2, 9),
        amount=Decimal("20.00"),
    )
    db_session.commit()
    assert state()[3] == 31278 + 2000
    pay(db_session, "P1", "400.00", on=date(2023, 2, 10))
    assert state()[1:] == (0, 0, 0)
    ledger.reverse_payment(db_session=db_session, payment_ref="P1", reason="bounced")
    db_session.commit()
    assert state() == (date(2023, 2, 10), 10, 5, 31278 + 2000)
    assert eod.run_eod(engine, date(2023, 2, 10)).status == "completed"
    assert state() == (date(2023, 2, 10), 10, 5, 31278 + 2000)  # the run agrees


def test_ending_a_hold_early_resumes_ageing(engine, db_session):
    worked_loan(db_session)
    eod.run_eod(engine, date(2023, 2, 5))
    holds.place(
        db_session=db_session,
        loan_ref="W1",
        start_on=date(2023, 2, 1),
        end_on=None,
        reason="dispute",
    )
    db_session.commit()
    eod.run_eod(engine, date(2023, 2, 10))
    assert show(db_session)["delinquent_days"] == 1
    holds.end(db_session=db_session, loan_ref="W1", on=date(2023, 2, 6))
    db_session.commit()
    eod.run_eod(engine, date(2023, 2, 12))
    view = show(db_session)
    assert view["paused_days"] == 5 and view["delinquent_days"] == 12 - 5


def test_bucket_moves_are_history_and_events_once(engine, db_session):
    worked_loan(db_session)
    eod.run_eod(engine, date(2023, 2, 1))
    eod.run_eod(engine, date(2023, 2, 20))
    eod.run_eod(engine, date(2023, 2, 20))
    history = db_session.execute(
        select(BucketHistory.bucket, BucketHistory.entered_on, BucketHistory.left_on).order_by(
            BucketHistory.entered_on
        )
    ).all()
    assert [h.bucket for h in history] == ["B1-10", "B11-30"]
    assert history[0].left_on == history[1].entered_on == date(2023, 2, 11)  # 11 days past due
    kinds = db_session.scalars(select(OutboxEvent.kind).order_by(OutboxEvent.id)).all()
    assert kinds == ["loan.became_delinquent", "loan.bucket_changed"]


def test_a_second_run_while_one_holds_the_lock_is_refused(engine):
    with eod.eod_lock(engine), pytest.raises(Conflict) as info:
        eod.run_eod(engine, date(2023, 5, 31))
    assert info.value.code == "eod_running"


def test_every_run_records_stages_and_bucket_counts(engine, db_session):
    worked_loan(db_session)
    eod.run_eod(engine, date(2023, 5, 31))
    run = db_session.scalar(select(EodRun))
    assert run.status == "completed"
    assert {"select", "evaluate", "initialise", "snapshot"} <= set(run.stage_seconds)
    assert run.bucket_counts == {"B61+": 1}


def test_a_current_loan_gets_a_state_without_evaluation(engine, db_session):
    make_product(db_session)
    make_customer(db_session)
    make_loan(db_session, "L1", disbursed_on=date(2024, 1, 1), first_due_on=date(2024, 2, 1))
    db_session.commit()
    eod.run_eod(engine, date(2024, 1, 15))
    state = db_session.get(LoanState, 1)
    assert state.bucket == "M0" and state.past_due_days == 0
    assert state.outstanding_principal == 120000
    assert delinquency.business_date(db_session) == date(2024, 1, 15)


def test_a_current_loan_paid_between_runs_shows_its_new_outstanding(engine, db_session):
    worked_loan(db_session)
    pay(db_session, "P1", "312.00", on=date(2023, 1, 31))
    pay(db_session, "P2", "312.00", on=date(2023, 3, 2))
    eod.run_eod(engine, date(2023, 2, 15))
    assert db_session.get(LoanState, 1).outstanding_total == 93800
    eod.run_eod(engine, date(2023, 3, 31), catch_up=False)
    db_session.expire_all()
    state = db_session.get(LoanState, 1)
    assert (state.past_due_days, state.outstanding_total) == (0, 62600)
    snapshot = db_session.get(LoanSnapshot, (date(2023, 3, 31), 1))
    assert snapshot.outstanding_total == 62600


def test_current_loans_paid_between_runs_are_summed_as_an_evaluation_would(engine, db_session):
    """The paid-current shortcut (one grouped statement per chunk) against evaluating each
    loan: charges outstanding count, and each loan gets its own sums."""
    make_product(db_session)
    make_customer(db_session)
    for ref in ("L1", "L2", "L3"):
        make_loan(db_session, ref, disbursed_on=date(2024, 1, 1), first_due_on=date(2024, 2, 1))
    db_session.commit()
    eod.run_eod(engine, date(2024, 1, 20))
    l1, l2, l3 = (
        loans.get_by_ref_or_raise(db_session=db_session, loan_ref=r) for r in ("L1", "L2", "L3")
    )
    ledger.add_charge(
        db_session=db_session,
        loan=l2,
        installment_number=3,
        kind=ChargeKind.FEE,
        charged_on=date(2024, 1, 20),
        amount=Decimal("25.00"),
    )
    db_session.commit()
    # dated after the business date: the stored states do not count them yet
    pay(db_session, "P1", "300.00", on=date(2024, 2, 1), loan_ref="L1")  # part held as credit
    pay(db_session, "P2", "50.00", on=date(2024, 2, 1), loan_ref="L2")
    eod.run_eod(engine, date(2024, 2, 1))
    db_session.expire_all()
    shortcut = {
        s.loan_id: (s.past_due_days, s.outstanding_principal, s.outstanding_total)
        for s in db_session.scalars(select(LoanState))
    }
    assert shortcut[l1.id][1] < shortcut[l3.id][1]  # L1's payment counted, L3 has none
    assert {s.loan_id: s.as_of for s in db_session.scalars(select(LoanState))} == {
        l1.id: date(2024, 2, 1),
        l2.id: date(2024, 2, 1),
        l3.id: date(2024, 1, 20),  # nothing happened to it
    }
    delinquency.refresh(db_session, [l1.id, l2.id, l3.id])
    db_session.commit()
    db_session.expire_all()
    evaluated = {
        s.loan_id: (s.past_due_days, s.outstanding_principal, s.outstanding_total)
        for s in db_session.scalars(select(LoanState))
    }
    assert shortcut == evaluated


def test_borrower_contagion_marks_the_borrowers_other_loans_until_none_is_non_performing(
    engine, db_session, monkeypatch
):
    from arrears.kit.settings import get_settings

    monkeypatch.setenv("ARREARS_NPL_CONTAGION", "true")
    get_settings.cache_clear()
    try:
        make_product(db_session)
        make_customer(db_session)
        make_customer(db_session, "C2", id_number="110105198001010016")
        make_loan(db_session, "L1", disbursed_on=date(2024, 1, 1), first_due_on=date(2024, 2, 1))
        for ref, customer in (("L2", "C1"), ("L3", "C2")):
            make_loan(
                db_session,
                ref,
                customer_ref=customer,
                disbursed_on=date(2024, 6, 1),
                first_due_on=date(2024, 7, 1),
            )
        db_session.commit()
        eod.run_eod(engine, date(2024, 6, 15))

        def flags():
            db_session.expire_all()
            return {
                ref: (view["classification"]["non_performing"],
                      view["classification"]["non_performing_by_contagion"])
                for ref in ("L1", "L2", "L3")
                for view in [show(db_session, ref)]
            }  # fmt: skip

        # L1 is 135 days past due: its borrower's other loan is non-performing by contagion
        assert flags() == {"L1": (True, False), "L2": (True, True), "L3": (False, False)}
        # paying L1's arrears ends it at the next run
        owed = show(db_session, "L1")["overdue"]["total"]
        pay(db_session, "P1", owed, on=date(2024, 6, 15), loan_ref="L1")
        eod.run_eod(engine, date(2024, 6, 16))
        assert flags() == {"L1": (False, False), "L2": (False, False), "L3": (False, False)}
    finally:
        get_settings.cache_clear()


def test_contagion_flags_are_what_the_definition_gives_on_a_demo_book(
    engine, db_session, tmp_path, monkeypatch
):
    """On a demo book, day after day, with payments and cures between: each state's flag
    is exactly "not itself non-performing, and its borrower has an active one"."""
    from arrears.demo.build import build_demo
    from arrears.kit.settings import get_settings
    from arrears.loans.models import Loan

    build_demo(engine, loans=400, seed=5, as_of=date(2025, 3, 31), directory=tmp_path)
    monkeypatch.setenv("ARREARS_NPL_CONTAGION", "true")
    get_settings.cache_clear()
    try:
        flagged_days = 0
        for day in range(1, 5):
            on = date(2025, 4, day)
            if day == 3:  # the arrears of some non-performing loans paid in between
                sick = db_session.execute(
                    select(Loan.loan_ref, LoanState.overdue_total)
                    .join(LoanState, LoanState.loan_id == Loan.id)
                    .where(LoanState.non_performing.is_(True))
                    .order_by(Loan.id)
                    .limit(5)
                ).all()
                for k, (ref, owed) in enumerate(sick):
                    pay(db_session, f"CURE{k}", f"{owed / 100:.2f}", on=on, loan_ref=ref)
            eod.run_eod(engine, on)
            db_session.expire_all()
            rows = db_session.execute(
                select(
                    LoanState.loan_id,
                    Loan.customer_id,
                    Loan.status,
                    LoanState.non_performing,
                    LoanState.non_performing_by_contagion,
                ).join(Loan, Loan.id == LoanState.loan_id)
            ).all()
            infected = {r.customer_id for r in rows if r.non_performing and r.status == "active"}
            expected = {
                r.loan_id: (not r.non_performing) and r.customer_id in infected for r in rows
            }
            assert {r.loan_id: r.non_performing_by_contagion for r in rows} == expected, on
            flagged_days += any(expected.values())
        assert flagged_days  # the book has borrowers with several loans, one of them sick
    finally:
        get_settings.cache_clear()


def test_helpers_and_the_carry_store_what_evaluating_here_would(
    engine, db_session, tmp_path, monkeypatch
):
    """On each database: days run with helper processes and the carry shortcut leave the
    ledger and states exactly as evaluating every delinquent loan again here leaves them."""
    from arrears.demo.build import build_demo

    build_demo(engine, loans=150, seed=3, as_of=date(2025, 3, 31), directory=tmp_path)
    monkeypatch.setattr(delinquency, "CHUNK", 2)
    monkeypatch.setattr(eod, "PARALLEL_FROM", 1)
    runs = [eod.run_eod(engine, date(2025, 4, day)) for day in range(1, 6)]
    assert sum(r.loans_advanced for r in runs) > 0
    # several chunks evaluated in full, so the helper had its share
    assert sum(r.loans_evaluated - r.loans_advanced for r in runs) > 3 * 2
    delinquent = list(
        db_session.scalars(select(LoanState.loan_id).where(LoanState.past_due_days > 0))
    )
    assert len(delinquent) > 2
    # the carry of a loan advanced looks less far ahead than a fresh one: not compared
    columns = [c for c in LoanState.__table__.c if c.name not in ("updated_at", "carry")]
    before = db_session.execute(select(*columns).order_by(LoanState.loan_id)).all()
    again = delinquency.evaluate_and_store(db_session, delinquent, date(2025, 4, 5))
    assert again.charges_written == again.installments_changed == 0
    assert again.allocations_rewritten == 0 and again.events == 0
    db_session.flush()
    assert db_session.execute(select(*columns).order_by(LoanState.loan_id)).all() == before


def _stored_penalties(db_session):
    return db_session.execute(
        select(Charge.installment_number, Charge.accrued_from, Charge.charged_on, Charge.amount)
        .where(Charge.kind == "penalty")
        .order_by(Charge.installment_number, Charge.accrued_from)
    ).all()


def test_the_open_span_lives_in_the_carry_and_is_counted_once(engine, db_session):
    """While a loan is carried, its growing penalty is not a charges row: every reader adds
    it once, and it becomes a row when something closes the span."""
    from arrears.loans.presenters import outstanding_by_loan

    worked_loan(db_session, penalty_rate="18")
    eod.run_eod(engine, date(2023, 2, 10))
    run = eod.run_eod(engine, date(2023, 2, 11))
    assert run.loans_advanced == 1  # moved on from its carry: only its state was written
    assert _stored_penalties(db_session) == []
    db_session.expire_all()
    state = db_session.get(LoanState, 1)
    assert state.open_penalty == 172  # 312.00 × 18 % × 11 / 360, rounded once
    view = show(db_session)
    assert view["overdue"]["penalty"] == "1.72"
    assert view["installments"][0]["charged"]["penalty"] == "1.72"
    assert view["outstanding"]["penalty"] == "1.72"
    assert view["outstanding"]["total"] == "1251.72"
    assert outstanding_by_loan(db_session=db_session, loan_ids=[1]) == {1: 125172}
    assert state.outstanding_total == 125172
    exported = io.StringIO()
    exports.write_csv("loans", exported, db_session=db_session, bom=False)
    (line,) = csv.DictReader(io.StringIO(exported.getvalue()))
    assert (line["outstanding_charges"], line["outstanding_total"]) == ("1.72", "1251.72")
    (accruing,) = delinquency.open_span_charges(db_session, [1])[1]
    assert (accruing.installment_number, accruing.accrued_from, accruing.charged_on) == (
        1,
        date(2023, 1, 31),
        date(2023, 2, 11),
    )
    # evaluating it in full again finds nothing to write: the carry and the table agree
    again = delinquency.evaluate_and_store(db_session, [1], date(2023, 2, 11))
    assert again.charges_written == 0
    # a payment closes the span: it becomes a charge of the ledger
    pay(db_session, "P1", "100.00", on=date(2023, 2, 11))
    assert _stored_penalties(db_session) == [(1, date(2023, 1, 31), date(2023, 2, 11), 172)]
    db_session.expire_all()
    assert db_session.get(LoanState, 1).open_penalty == 0
    assert delinquency.open_span_charges(db_session, [1]) == {}
    assert show(db_session)["outstanding"]["total"] == "1151.72"


def test_carries_cleared_by_an_upgrade_are_rebuilt_by_the_next_run(engine, db_session):
    """Migration 0007 clears carries: the next run evaluates those loans in full and leaves
    what carrying them every day would have."""
    worked_loan(db_session, penalty_rate="18")
    eod.run_eod(engine, date(2023, 2, 10))
    db_session.execute(LoanState.__table__.update().values(carry=None))
    # an open span stored as a charge, as the daily run stored it before
    ledger_row = Charge(
        loan_id=1,
        installment_number=1,
        kind="penalty",
        accrued_from=date(2023, 1, 31),
        charged_on=date(2023, 2, 10),
        amount=156,
        paid=0,
        source=delinquency.ACCRUAL_SOURCE,
    )
    db_session.add(ledger_row)
    db_session.commit()
    run = eod.run_eod(engine, date(2023, 2, 11))
    assert run.loans_advanced == 0
    assert _stored_penalties(db_session) == []
    db_session.expire_all()
    state = db_session.get(LoanState, 1)
    assert state.carry is not None and state.open_penalty == 172
    assert show(db_session)["outstanding"]["total"] == "1251.72"


def test_helpers_already_running_share_anything_past_one_chunk(engine, monkeypatch):
    helpers = eod.EvaluationHelpers(engine)
    started: list[bool] = []
    monkeypatch.setattr(helpers, "get", lambda: started.append(True) or ["helper"])
    # not running yet: worth starting only for a long list
    assert helpers.for_work(delinquency.CHUNK + 1) == [] and not started
    assert helpers.for_work(eod.PARALLEL_FROM) == ["helper"]
    helpers.ready = ["helper"]  # running (for the advance, say): a second chunk is shared
    assert helpers.for_work(delinquency.CHUNK + 1) == ["helper"]
    assert helpers.for_work(delinquency.CHUNK) == []  # one chunk: done here
