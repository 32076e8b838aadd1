"""Data scope: portfolio-wide roles see everything, case-scoped roles only their customers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from arrears.auth import scope
from arrears.auth.principal import Principal
from arrears.auth.roles import Role, permissions_of
from arrears.customers.models import ContactPoint, Customer
from arrears.kit.errors import NotFound
from arrears.loans.models import Loan, Product
from tests.factories import make_customer, make_loan, make_product


def principal(role: Role, user_id: int = 7) -> Principal:
    return Principal(
        user_id=user_id, username=f"user{user_id}", role=role, permissions=permissions_of(role)
    )


@pytest.fixture
def book(db_session):
    """Three customers with a loan each; C2 has a phone."""
    make_product(db_session)
    customers = {}
    for ref, id_number in (("C1", "11010519491231002X"), ("C2", None), ("C3", None)):
        extra = {"id_number": id_number} if id_number else {"id_number": None}
        if ref == "C2":
            extra["contact_points"] = [{"kind": "phone", "value": "+8613800138000"}]
        customers[ref] = make_customer(db_session, ref, **extra)
        make_loan(db_session, f"L-{ref}", customer_ref=ref)
    db_session.flush()
    return customers


@pytest.fixture
def assigned() -> Iterator[dict[str, object]]:
    """Lets a test say which customers case-scoped principals work (restored afterwards)."""
    holder: dict[str, object] = {"source": None}
    previous = scope.set_allowed_customers(lambda p: holder["source"])  # type: ignore[arg-type, return-value]
    try:
        yield holder
    finally:
        scope.set_allowed_customers(previous)


def visible_customers(db_session, who):
    query = scope.apply_scope(who, select(Customer.customer_ref), Customer)
    return sorted(db_session.scalars(query))


def visible_loans(db_session, who):
    query = scope.apply_scope(who, select(Loan.loan_ref), Loan)
    return sorted(db_session.scalars(query))


@pytest.mark.parametrize("role", sorted(scope.PORTFOLIO_WIDE_ROLES))
def test_portfolio_wide_roles_see_every_customer_and_loan(db_session, book, role):
    assert visible_customers(db_session, principal(role)) == ["C1", "C2", "C3"]
    assert visible_loans(db_session, principal(role)) == ["L-C1", "L-C2", "L-C3"]


@pytest.mark.parametrize("role", sorted(scope.CASE_SCOPED_ROLES))
def test_case_scoped_roles_see_nothing_until_cases_are_assigned(db_session, book, role):
    assert visible_customers(db_session, principal(role)) == []
    assert visible_loans(db_session, principal(role)) == []


def test_every_role_is_either_portfolio_wide_or_case_scoped():
    assert set(Role) == scope.PORTFOLIO_WIDE_ROLES | scope.CASE_SCOPED_ROLES
    assert not scope.PORTFOLIO_WIDE_ROLES & scope.CASE_SCOPED_ROLES


def test_a_collector_sees_the_customers_and_loans_of_their_cases(db_session, book, assigned):
    assigned["source"] = [book["C1"].id, book["C3"].id]
    collector = principal(Role.COLLECTOR)
    assert visible_customers(db_session, collector) == ["C1", "C3"]
    assert visible_loans(db_session, collector) == ["L-C1", "L-C3"]


def test_the_assignment_can_be_a_query_run_by_the_database(db_session, book, assigned):
    assigned["source"] = select(Customer.id).where(Customer.customer_ref == "C2")
    agency = principal(Role.AGENCY)
    assert visible_customers(db_session, agency) == ["C2"]
    assert visible_loans(db_session, agency) == ["L-C2"]
    phones = scope.apply_scope(agency, select(ContactPoint.value), ContactPoint)
    assert list(db_session.scalars(phones)) == ["+8613800138000"]


def test_an_empty_assignment_shows_nothing(db_session, book, assigned):
    assigned["source"] = []
    assert visible_customers(db_session, principal(Role.FIELD_AGENT)) == []


def test_scope_composes_with_the_routes_own_filters(db_session, book, assigned):
    assigned["source"] = [book["C1"].id, book["C2"].id]
    query = select(Customer.customer_ref).where(Customer.customer_ref != "C1")
    scoped = scope.apply_scope(principal(Role.COLLECTOR), query, Customer)
    assert list(db_session.scalars(scoped)) == ["C2"]


def test_a_detail_outside_the_scope_is_not_found(db_session, book, assigned):
    assigned["source"] = [book["C1"].id]
    collector = principal(Role.COLLECTOR)
    scope.check_in_scope(collector, db_session, Customer, book["C1"].id)
    with pytest.raises(NotFound) as caught:
        scope.check_in_scope(
            collector, db_session, Customer, book["C2"].id, code="customer_not_found"
        )
    assert caught.value.code == "customer_not_found"
    assert caught.value.message == f"there is no customer with id {book['C2'].id}"


def test_a_detail_that_does_not_exist_is_not_found_for_everyone(db_session, book):
    with pytest.raises(NotFound):
        scope.check_in_scope(principal(Role.ADMIN), db_session, Customer, 999_999)


def test_scoped_get_returns_the_row_in_scope(db_session, book):
    loan = db_session.scalars(select(Loan).where(Loan.loan_ref == "L-C2")).one()
    found = scope.scoped_get(principal(Role.MANAGER), db_session, Loan, loan.id)
    assert found is loan


def test_a_table_without_a_rule_is_refused_not_shown():
    with pytest.raises(LookupError, match="register_scope"):
        scope.apply_scope(principal(Role.ADMIN), select(Product), Product)
