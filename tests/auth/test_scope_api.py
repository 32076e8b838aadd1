"""Data scope over HTTP: case-scoped roles see only their customers, others answer 404;
personal data leaves masked and is revealed, with a reason, only to those who may."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from arrears.app import create_app
from arrears.auth import scope
from arrears.auth.models import AuditEntry
from arrears.customers.models import Customer
from arrears.kit.db import unit_of_work

API = "/api/v1"
RESIDENT_ID = "11010519491231002X"


@pytest.fixture
def book(auth_client: TestClient) -> TestClient:
    """C1 and C2, each with a loan (L1, L2) and a phone; L1 has a payment P1 and a hold."""
    admin = auth_client
    product = {"code": "CASH", "name": "现金贷"}
    assert admin.put(f"{API}/products/CASH", json=product).status_code == 201
    for n, phone in ((1, "13800138000"), (2, "13900139000")):
        customer = {
            "customer_ref": f"C{n}",
            "name": "张三" if n == 1 else "李四",
            "id_number": RESIDENT_ID if n == 1 else "110105198001010016",
            "contact_points": [{"kind": "phone", "value": phone}],
        }
        assert admin.post(f"{API}/customers", json=customer).status_code == 201
        loan = {
            "loan_ref": f"L{n}",
            "customer_ref": f"C{n}",
            "product_code": "CASH",
            "principal": "1200.00",
            "annual_rate": "12",
            "term_months": 12,
            "disbursed_on": "2024-01-01",
            "first_due_on": "2024-02-01",
        }
        assert admin.post(f"{API}/loans", json=loan).status_code == 201
    payment = {"payment_ref": "P1", "loan_ref": "L1", "value_date": "2024-02-01", "amount": "50"}
    assert admin.post(f"{API}/payments", json=payment).status_code == 201
    hold = {"start_on": "2024-02-01", "reason": "dispute"}
    assert admin.post(f"{API}/loans/L1/holds", json=hold).status_code == 201
    return admin


@pytest.fixture
def as_role(
    book: TestClient, sign_in: Callable[..., dict[str, str]]
) -> Iterator[Callable[[str], TestClient]]:
    """A client of the app signed in with a role of one's choice."""
    clients: list[TestClient] = []

    def client(role: str) -> TestClient:
        http = TestClient(create_app(), headers=sign_in(f"test.{role}", role))
        clients.append(http.__enter__())
        return http

    yield client
    for http in clients:
        http.__exit__(None, None, None)


@pytest.fixture
def assigned(engine: Engine) -> Iterator[Callable[..., None]]:
    """``assigned("C1")``: the case-scoped roles work customer C1 (as the cases domain will
    tell); restored afterwards."""
    chosen: list[str] = []

    def allowed(principal: Any) -> Any:
        return select(Customer.id).where(Customer.customer_ref.in_(chosen))

    previous = scope.set_allowed_customers(allowed)

    def assign(*refs: str) -> None:
        chosen.extend(refs)

    try:
        yield assign
    finally:
        scope.set_allowed_customers(previous)


DETAILS = [
    "/customers/C1",
    "/loans/L1",
    "/loans/L1/installments",
    "/loans/L1/charges",
    "/loans/L1/allocations",
    "/loans/L1/holds",
    "/payments/P1",
    "/analytics/loans/L1/history",
]
LISTS = ["/customers", "/loans", "/payments", "/analytics/loans"]


@pytest.mark.parametrize("role", ["collector", "field_agent", "legal", "agency"])
def test_a_case_scoped_role_without_cases_sees_nothing(as_role, role):
    http = as_role(role)
    for path in LISTS:
        body = http.get(API + path).json()
        assert (body["items"], body["total"]) == ([], 0), path
    for path in DETAILS:
        response = http.get(API + path)
        assert response.status_code == 404, (path, response.text)


def test_outside_the_scope_is_the_same_404_as_a_record_that_does_not_exist(as_role):
    collector = as_role("collector")
    hidden = collector.get(f"{API}/loans/L1").json()
    missing = collector.get(f"{API}/loans/NOPE").json()
    assert hidden["code"] == missing["code"] == "loan_not_found"
    assert hidden["detail"] == missing["detail"].replace("NOPE", "L1")


@pytest.mark.parametrize("role", ["manager", "analyst", "auditor"])
def test_portfolio_wide_roles_see_everything(as_role, role):
    http = as_role(role)
    assert http.get(f"{API}/customers").json()["total"] == 2
    assert http.get(f"{API}/loans").json()["total"] == 2
    assert http.get(f"{API}/payments").json()["total"] == 1
    for path in DETAILS:
        assert http.get(API + path).status_code == 200, path


def test_a_collector_sees_the_customers_of_their_cases_and_nothing_else(as_role, assigned):
    assigned("C1")
    collector = as_role("collector")
    assert [c["customer_ref"] for c in collector.get(f"{API}/customers").json()["items"]] == ["C1"]
    assert [loan["loan_ref"] for loan in collector.get(f"{API}/loans").json()["items"]] == ["L1"]
    assert collector.get(f"{API}/payments").json()["total"] == 1
    for path in DETAILS:
        assert collector.get(API + path).status_code == 200, path
    for path in ("/customers/C2", "/loans/L2", "/loans/L2/holds", "/loans/L2/charges"):
        assert collector.get(API + path).status_code == 404, path
    assert collector.get(f"{API}/customers?id_number=110105198001010016").json()["total"] == 0


def test_writes_outside_the_scope_answer_404(as_role, assigned):
    assigned("C1")
    collector = as_role("collector")
    hold = {"start_on": "2024-03-01", "reason": "dispute", "note": "disputes the fee"}
    assert collector.post(f"{API}/loans/L2/holds", json=hold).status_code == 404
    created = collector.post(f"{API}/loans/L1/holds", json=hold)
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "test.collector"
    reason = {"reason": "calling about the dispute"}
    assert collector.post(f"{API}/customers/C2/reveal", json=reason).status_code == 404


# --- masking and reveal -----------------------------------------------------------------


def test_customers_are_masked_in_lists_and_details_for_every_role(as_role):
    for role in ("admin", "manager", "analyst"):
        http = as_role(role)
        listed = http.get(f"{API}/customers?id_number={RESIDENT_ID}").json()["items"]
        assert [c["id_number"] for c in listed] == ["110105********002X"]
        shown = http.get(f"{API}/customers/C1").json()
        assert shown["id_number"] == "110105********002X"
        assert [p["value"] for p in shown["contact_points"]] == ["138****8000"]
        assert RESIDENT_ID not in http.get(f"{API}/customers/C1").text


def test_revealing_shows_the_values_in_full_and_is_audited(as_role, assigned, engine):
    assigned("C1")
    collector = as_role("collector")
    response = collector.post(
        f"{API}/customers/C1/reveal", json={"reason": "calling about the promise"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer_ref"] == "C1" and body["id_number"] == RESIDENT_ID
    assert [(p["kind"], p["value"]) for p in body["contact_points"]] == [
        ("phone", "+8613800138000")
    ]
    assert response.headers["cache-control"] == "no-store"
    with unit_of_work(engine) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.reveal")
        ).one()
        customer_id = session.scalar(select(Customer.id).where(Customer.customer_ref == "C1"))
    assert (entry.actor, entry.actor_role) == ("test.collector", "collector")
    assert entry.reason == "calling about the promise"
    assert entry.entity_type == "customer" and entry.entity_id == str(customer_id)
    point_id = body["contact_points"][0]["id"]
    assert entry.after == {"fields": sorted(["id_number", f"contact_points.{point_id}"])}


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_a_reveal_needs_a_reason(book, body):
    response = book.post(f"{API}/customers/C1/reveal", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.reason"


@pytest.mark.parametrize("role", ["analyst", "auditor", "agency"])
def test_roles_without_customers_reveal_cannot_reveal(as_role, role, engine):
    response = as_role(role).post(f"{API}/customers/C1/reveal", json={"reason": "curious"})
    assert response.status_code == 403
    assert response.json()["required"] == "customers:reveal"
    with unit_of_work(engine) as session:
        assert not session.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.reveal")
        ).all()
