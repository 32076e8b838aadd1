"""Updating many rows in one go: the same result on SQLite (executemany) and PostgreSQL (unnest)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from arrears.delinquency.models import LoanState
from arrears.kit.bulk import update_rows
from arrears.loans.models import Installment
from tests.factories import make_customer, make_loan, make_product


def test_update_rows_sets_each_rows_values_by_its_keys(db_session):
    make_product(db_session)
    make_customer(db_session)
    loan = make_loan(db_session, months=3)
    table = Installment.__table__
    matched = update_rows(
        db_session,
        table,
        [
            {"loan_id": loan.id, "number": 1, "paid_principal": 11, "paid_interest": 1},
            {"loan_id": loan.id, "number": 3, "paid_principal": 33, "paid_interest": 3},
            {"loan_id": loan.id, "number": 9, "paid_principal": 99, "paid_interest": 9},
        ],
        keys={"loan_id": "loan_id", "number": "number"},
    )
    assert matched == 2  # there is no installment 9
    paid = db_session.execute(
        select(table.c.number, table.c.paid_principal, table.c.paid_interest)
        .where(table.c.loan_id == loan.id)
        .order_by(table.c.number)
    ).all()
    assert [tuple(r) for r in paid] == [(1, 11, 1), (2, 0, 0), (3, 33, 3)]


def test_update_rows_matches_an_old_value_sets_json_and_null_and_stamps(db_session):
    make_product(db_session)
    make_customer(db_session)
    loan = make_loan(db_session)
    db_session.add(LoanState(loan_id=loan.id, as_of=date(2024, 3, 1), bucket="M0"))
    db_session.flush()
    stamped = db_session.get(LoanState, loan.id).updated_at
    db_session.expire_all()
    table = LoanState.__table__
    row = {
        "loan_id": loan.id,
        "was": date(2024, 3, 1),
        "as_of": date(2024, 3, 2),
        "overdue_by_bucket": {"M1": 1250},
        "carry": None,
        "delinquent_since": None,
    }
    keys = {"loan_id": "loan_id", "as_of": "was"}
    assert update_rows(db_session, table, [row], keys=keys, where={"bucket": "M1"}) == 0
    assert update_rows(db_session, table, [row], keys=keys, where={"bucket": "M0"}) == 1
    # the old value no longer matches
    assert update_rows(db_session, table, [row], keys=keys) == 0
    state = db_session.get(LoanState, loan.id)
    assert state.as_of == date(2024, 3, 2)
    assert state.overdue_by_bucket == {"M1": 1250}
    assert state.carry is None
    assert state.updated_at >= stamped


def test_update_rows_with_nothing_to_do():
    assert update_rows(None, LoanState.__table__, [], keys={"loan_id": "loan_id"}) == 0  # type: ignore[arg-type]


def test_insert_rows_copies_with_defaults_json_and_new_ids(db_session):
    from arrears.kit.bulk import insert_rows
    from arrears.ledger.models import Charge

    make_product(db_session)
    make_customer(db_session)
    loan = make_loan(db_session, months=3)
    db_session.flush()
    rows = [
        {
            "loan_id": loan.id,
            "installment_number": n,
            "kind": "penalty",
            "charged_on": date(2024, 3, n),
            "amount": 100 * n,
            "accrued_from": None,
        }
        for n in (1, 2, 3)
    ]
    ids = insert_rows(db_session, Charge.__table__, rows, ids=True)
    assert len(set(ids)) == 3
    stored = {c.id: c for c in db_session.scalars(select(Charge).where(Charge.loan_id == loan.id))}
    assert sorted(stored) == sorted(ids)
    first = stored[ids[0]]
    # left out, so given the model's defaults, as an INSERT would
    assert (first.paid, first.source, first.version) == (0, "manual", 1)
    assert first.created_at is not None and first.amount == 100
    assert insert_rows(db_session, Charge.__table__, []) == []
    # JSON columns and NULLs
    insert_rows(
        db_session,
        LoanState.__table__,
        [
            {
                "loan_id": loan.id,
                "as_of": date(2024, 3, 9),
                "bucket": "M1",
                "overdue_by_bucket": {"M1": 5},
                "carry": None,
            }
        ],
    )
    state = db_session.get(LoanState, loan.id)
    assert state.overdue_by_bucket == {"M1": 5} and state.carry is None
    assert state.non_performing is False and state.updated_at is not None


def test_among_selects_the_rows_of_the_ids_given(db_session):
    from arrears.kit.bulk import among

    make_product(db_session)
    make_customer(db_session)
    loan = make_loan(db_session, months=6)
    table = Installment.__table__
    picked = db_session.scalars(
        select(table.c.number).where(
            table.c.loan_id == loan.id, among(db_session, table.c.number, [2, 5, 9])
        )
    ).all()
    assert sorted(picked) == [2, 5]  # there is no installment 9
    nothing = select(table.c.number).where(among(db_session, table.c.number, []))
    assert db_session.scalars(nothing).all() == []
