"""Posting, reversing and charging through the service, on both databases."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from arrears.kit.errors import Conflict, NotFound, ValidationFailed
from arrears.ledger import service as ledger
from arrears.ledger.models import Allocation, ChargeKind
from arrears.loans import service as loans
from tests.factories import make_customer, make_loan, make_product


@pytest.fixture
def book(db_session):
    make_product(db_session)
    make_customer(db_session)
    return db_session


def state_of(db_session, loan_ref):
    """Everything derived about a loan: paid amounts per installment, credit, allocations."""
    db_session.expire_all()
    loan = loans.get_by_ref_or_raise(db_session=db_session, loan_ref=loan_ref)
    rows = loans.installments_of(db_session=db_session, loan_id=loan.id)
    paid = [(r.number, r.paid_principal, r.paid_interest, r.paid_fee) for r in rows]
    allocations = sorted(
        (a.installment_number or 0, a.component, a.amount)
        for a in db_session.scalars(select(Allocation).where(Allocation.loan_id == loan.id))
    )
    return paid, loan.credit, allocations


def pay(db_session, ref, loan_ref, on, amount):
    return ledger.post_payment(
        db_session=db_session,
        payment=ledger.PaymentIn(ref, loan_ref, on, Decimal(amount)),
    )


def test_posting_the_same_reference_twice_is_one_payment(book):
    make_loan(book)
    first, created = pay(book, "P1", "L1", date(2024, 2, 1), "200.00")
    again, created_again = pay(book, "P1", "L1", date(2024, 2, 1), "200.00")
    assert created and not created_again and first.id == again.id


def test_a_reference_reused_with_other_details_is_refused(book):
    make_loan(book)
    pay(book, "P1", "L1", date(2024, 2, 1), "200.00")
    with pytest.raises(Conflict) as info:
        pay(book, "P1", "L1", date(2024, 2, 1), "201.00")
    assert info.value.code == "payment_ref_reused"


def test_payment_is_allocated_to_the_first_installment(book):
    loan = make_loan(book)
    first = loans.installments_of(db_session=book, loan_id=loan.id)[0]
    total = Decimal(first.principal + first.interest) / 100
    pay(book, "P1", "L1", date(2024, 2, 1), str(total))
    paid, credit, _ = state_of(book, "L1")
    assert paid[0][1:3] == (first.principal, first.interest)
    assert all(p[1] == 0 for p in paid[1:]) and credit == 0


def test_overpayment_becomes_credit(book):
    make_loan(book, principal="100.00", months=1, annual_rate="0")
    pay(book, "P1", "L1", date(2024, 2, 1), "150.00")
    _, credit, allocations = state_of(book, "L1")
    assert credit == 5000 and (0, "credit", 5000) in allocations


def test_reversing_restores_the_state_before_the_payment(book):
    make_loan(book)
    pay(book, "P1", "L1", date(2024, 2, 1), "120.00")
    before = state_of(book, "L1")
    pay(book, "P2", "L1", date(2024, 1, 20), "300.00")  # back-dated
    assert state_of(book, "L1") != before
    ledger.reverse_payment(db_session=book, payment_ref="P2", reason="bounced")
    assert state_of(book, "L1") == before


def test_reversing_twice_or_an_unknown_payment_is_refused(book):
    make_loan(book)
    pay(book, "P1", "L1", date(2024, 2, 1), "10.00")
    ledger.reverse_payment(db_session=book, payment_ref="P1", reason="wrong loan")
    with pytest.raises(Conflict):
        ledger.reverse_payment(db_session=book, payment_ref="P1", reason="again")
    with pytest.raises(NotFound):
        ledger.reverse_payment(db_session=book, payment_ref="NOPE", reason="x")


@pytest.mark.parametrize(
    ("amount", "on", "code"),
    [
        ("0", date(2024, 2, 1), "invalid_amount"),
        ("-5", date(2024, 2, 1), "invalid_amount"),
        ("1.001", date(2024, 2, 1), "too_many_decimals"),
        ("10", date(2023, 12, 31), "value_date_before_disbursement"),
    ],
)
def test_invalid_payments_are_refused_and_nothing_is_written(book, amount, on, code):
    make_loan(book)
    before = state_of(book, "L1")
    with pytest.raises(ValidationFailed) as info:
        pay(book, "PX", "L1", on, amount)
    assert info.value.code == code
    assert ledger.get_payment_by_ref(db_session=book, payment_ref="PX") is None
    assert state_of(book, "L1") == before


def test_a_charge_is_paid_before_interest_of_its_installment(book):
    loan = make_loan(book)
    ledger.add_charge(
        db_session=book,
        loan=loan,
        installment_number=1,
        kind=ChargeKind.LATE_FEE,
        charged_on=date(2024, 2, 5),
        amount=Decimal("30.00"),
    )
    pay(book, "P1", "L1", date(2024, 2, 10), "30.00")
    _, _, allocations = state_of(book, "L1")
    assert allocations == [(1, "fee", 3000)]


def test_order_of_posting_back_dated_payments_does_not_change_the_result(book):
    rng = random.Random(7)
    make_loan(book, "LA")
    make_loan(book, "LB")
    payments = [
        (
            date(2024, 1, 15) + timedelta(days=rng.randint(0, 400)),
            f"{rng.randint(1, 30000) / 100:.2f}",
        )
        for _ in range(12)
    ]
    for k, (on, amount) in enumerate(payments):
        pay(book, f"A{k}", "LA", on, amount)
    shuffled = list(enumerate(payments))
    rng.shuffle(shuffled)
    for k, (on, amount) in shuffled:
        pay(book, f"B{k}", "LB", on, amount)
    assert state_of(book, "LA")[:2] == state_of(book, "LB")[:2]


def test_random_post_and_reverse_sequences_always_restore_exactly(book):
    rng = random.Random(2024)
    make_loan(book, principal="5000.00", months=6, annual_rate="18")
    for k in range(15):
        before = state_of(book, "L1")
        on = date(2024, 1, 2) + timedelta(days=rng.randint(0, 250))
        pay(book, f"X{k}", "L1", on, f"{rng.randint(1, 200000) / 100:.2f}")
        if rng.random() < 0.6:
            ledger.reverse_payment(db_session=book, payment_ref=f"X{k}", reason="test")
            assert state_of(book, "L1") == before
