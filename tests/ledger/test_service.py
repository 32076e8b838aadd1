"""Posting, reversing and charging through the service, on both databases."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from arrears.kit.errors import Conflict, NotFound, ValidationFailed
from arrears.ledger import service as ledger
from arrears.ledger.models import Allocation, ChargeKind, Payment
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


def listed_allocations(db_session, loan_id):
    """A loan's allocations as the API lists them: by payment date, payment, then id."""
    return db_session.execute(
        select(Allocation.payment_id, Allocation.installment_number, Allocation.component)
        .add_columns(Allocation.amount)
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(Allocation.loan_id == loan_id)
        .order_by(Payment.value_date, Payment.id, Allocation.id)
    ).all()


def applied_allocations(db_session, loan_id):
    """The same, as a fresh evaluation applies them."""
    from arrears.delinquency import service as delinquency

    item = delinquency.load_inputs(db_session, [loan_id])[loan_id]
    rules = delinquency.load_rules(db_session, [item.product_id])[item.product_id]
    evaluation = delinquency.evaluate_inputs(item, rules, delinquency.business_date(db_session))
    return [
        (a.payment_id, a.installment_number, a.component, a.amount)
        for a in evaluation.ledger.allocations
    ]


def test_a_later_payment_adds_its_allocations_and_leaves_the_others_stored(book):
    loan = make_loan(book, principal="3000.00", months=6, annual_rate="12")
    pay(book, "P1", "L1", date(2024, 2, 5), "520.00")
    pay(book, "P2", "L1", date(2024, 3, 5), "520.00")
    book.commit()
    kept = set(book.scalars(select(Allocation.id).where(Allocation.loan_id == loan.id)))
    pay(book, "P3", "L1", date(2024, 4, 5), "520.00")
    book.commit()
    after = set(book.scalars(select(Allocation.id).where(Allocation.loan_id == loan.id)))
    assert kept < after  # P1's and P2's rows untouched, P3's added
    assert listed_allocations(book, loan.id) == applied_allocations(book, loan.id)
    # a payment dated before the others changes how they apply: theirs are written again
    first = book.scalar(select(Payment.id).where(Payment.payment_ref == "P1"))
    before = [row for row in listed_allocations(book, loan.id) if row[0] == first]
    pay(book, "P0", "L1", date(2024, 2, 3), "100.00")
    book.commit()
    assert [row for row in listed_allocations(book, loan.id) if row[0] == first] != before
    assert listed_allocations(book, loan.id) == applied_allocations(book, loan.id)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, 200), st.integers(1, 150_000), st.booleans()),
        min_size=1,
        max_size=8,
    )
)
def test_stored_allocations_keep_the_order_they_apply_in(book, postings):
    """Whatever order payments are posted and reversed in, each payment's stored rows are
    its allocation in the order a fresh evaluation applies it."""
    ref = f"H{len(list(book.scalars(select(Allocation.id))))}-{abs(hash(tuple(postings)))}"
    loan = make_loan(book, ref, principal="2000.00", months=6, annual_rate="18")
    for k, (offset, cents, reverse) in enumerate(postings):
        pay(
            book,
            f"{ref}-{k}",
            ref,
            date(2024, 1, 10) + timedelta(days=offset),
            f"{cents / 100:.2f}",
        )
        if reverse:
            ledger.reverse_payment(db_session=book, payment_ref=f"{ref}-{k}", reason="test")
    book.commit()
    assert listed_allocations(book, loan.id) == applied_allocations(book, loan.id)
