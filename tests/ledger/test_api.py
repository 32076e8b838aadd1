"""Payment, reversal, charge and allocation routes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


@pytest.fixture
def client(auth_client: TestClient) -> TestClient:
    """The app, signed in as an administrator."""
    return auth_client


def assert_problem(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == code
    assert body["type"] == f"https://arrears.dev/problems/{code}"
    assert body["status"] == status
    return body


@pytest.fixture
def loan(client) -> dict[str, Any]:
    """L1: 1,200.00 at 12 % over 12 months, annuity 106.62, first due 2024-02-01."""
    assert (
        client.put("/api/v1/products/CASH", json={"code": "CASH", "name": "现金贷"}).status_code
        == 201
    )
    response = client.post(
        "/api/v1/customers",
        json={"customer_ref": "C1", "name": "张三", "id_number": "11010519491231002X"},
    )
    assert response.status_code == 201, response.text
    response = client.post(
        "/api/v1/loans",
        json={
            "loan_ref": "L1",
            "customer_ref": "C1",
            "product_code": "CASH",
            "principal": "1200.00",
            "annual_rate": "12",
            "term_months": 12,
            "disbursed_on": "2024-01-01",
            "first_due_on": "2024-02-01",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def payment(ref: str = "P1", **fields: Any) -> dict[str, Any]:
    return {
        "payment_ref": ref,
        "loan_ref": "L1",
        "value_date": "2024-02-01",
        "amount": "106.62",
        "channel": "bank_transfer",
        **fields,
    }


def post(client: TestClient, body: dict[str, Any]):
    return client.post("/api/v1/payments", json=body)


# --- posting ---------------------------------------------------------------------------


def test_a_payment_is_posted_allocated_and_shown_on_the_loan(client, loan):
    assert loan["installments"][0]["total"] == "106.62"
    response = post(client, payment())
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/payments/P1"
    body = response.json()
    assert (body["amount"], body["status"], body["currency"]) == ("106.62", "posted", "CNY")
    assert [
        (a["installment_number"], a["component"], a["amount"]) for a in body["allocations"]
    ] == [
        (1, "interest", "12.00"),
        (1, "principal", "94.62"),
    ]
    first = client.get("/api/v1/loans/L1").json()["installments"][0]
    assert (first["paid"]["principal"], first["paid"]["interest"]) == ("94.62", "12.00")
    assert first["outstanding"]["total"] == "0.00"


def test_posting_the_same_payment_again_answers_200_with_the_same_payment(client, loan):
    first = post(client, payment())
    again = post(client, payment())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert client.get("/api/v1/payments?loan_ref=L1").json()["total"] == 1
    assert client.get("/api/v1/loans/L1").json()["outstanding"]["total"] == "1172.80"


@pytest.mark.parametrize(
    "changes", [{"amount": "50.00"}, {"value_date": "2024-02-02"}, {"loan_ref": "L2"}]
)
def test_a_payment_reference_reused_with_other_details_is_a_409_and_changes_nothing(
    client, loan, changes
):
    if "loan_ref" in changes:
        other = {**{k: loan[k] for k in ("customer_ref", "product_code")}, "loan_ref": "L2"}
        response = client.post(
            "/api/v1/loans",
            json={
                **other,
                "principal": "500",
                "annual_rate": "12",
                "term_months": 6,
                "disbursed_on": "2024-01-01",
                "first_due_on": "2024-02-01",
            },
        )
        assert response.status_code == 201, response.text
    post(client, payment())
    before = client.get("/api/v1/loans/L1").json()
    assert_problem(post(client, payment(**changes)), 409, "payment_ref_reused")
    assert client.get("/api/v1/loans/L1").json() == before
    assert client.get("/api/v1/payments/P1").json()["amount"] == "106.62"


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"loan_ref": "NOPE"}, 404, "loan_not_found"),
        ({"value_date": "2023-12-31"}, 422, "value_date_before_disbursement"),
        ({"amount": "10.001"}, 422, "too_many_decimals"),
        ({"amount": "-5"}, 422, "validation_failed"),
        ({"amount": "0"}, 422, "validation_failed"),
        ({"amount": "ten"}, 422, "validation_failed"),
        ({"amount": None}, 422, "validation_failed"),
        ({"value_date": "2024-02-30"}, 422, "validation_failed"),
        ({"value_date": 20240201.5}, 422, "validation_failed"),
        ({"channel": "pigeon"}, 422, "validation_failed"),
        ({"payment_ref": ""}, 422, "validation_failed"),
        ({"payment_ref": "p" * 65}, 422, "validation_failed"),
        ({"extra": 1}, 422, "validation_failed"),
    ],
)
def test_an_invalid_payment_is_refused_and_the_loan_is_unchanged(
    client, loan, changes, status, code
):
    before = client.get("/api/v1/loans/L1").json()
    assert_problem(post(client, payment(**changes)), status, code)
    assert client.get("/api/v1/loans/L1").json() == before
    assert client.get("/api/v1/payments").json()["total"] == 0


def test_a_missing_field_is_named(client, loan):
    body = payment()
    del body["value_date"]
    problem = assert_problem(post(client, body), 422, "validation_failed")
    assert problem["errors"] == [{"field": "body.value_date", "message": "is required"}]


def test_an_overpayment_is_held_as_credit(client, loan):
    post(client, payment(amount="2000.00"))
    allocations = client.get("/api/v1/loans/L1/allocations").json()
    assert allocations["credit"] != "0.00"
    assert allocations["items"][-1]["component"] == "credit"
    assert client.get("/api/v1/loans/L1").json()["outstanding"]["total"] == "0.00"


# --- showing and listing ---------------------------------------------------------------


def test_a_payment_is_shown_with_its_allocations(client, loan):
    post(client, payment(amount="150.00"))
    body = client.get("/api/v1/payments/P1").json()
    assert body["loan_ref"] == "L1"
    assert [a["installment_number"] for a in body["allocations"]] == [1, 1, 2, 2]
    assert sum(Decimal(a["amount"]) for a in body["allocations"]) == Decimal("150")
    assert_problem(client.get("/api/v1/payments/NOPE"), 404, "payment_not_found")


@pytest.fixture
def payments(client, loan) -> None:
    for ref, day, amount in [
        ("P-A", "2024-02-01", "106.62"),
        ("P-B", "2024-03-01", "50.00"),
        ("P-C", "2024-04-01", "200.00"),
        ("P-D", "2024-05-01", "10.00"),
    ]:
        assert post(client, payment(ref, value_date=day, amount=amount)).status_code == 201
    reversed_ = client.post("/api/v1/payments/P-D/reverse", json={"reason": "bounced"})
    assert reversed_.status_code == 200, reversed_.text


def payment_refs(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [p["payment_ref"] for p in response.json()["items"]]


@pytest.mark.usefixtures("payments")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["P-D", "P-C", "P-B", "P-A"]),
        ("sort=value_date", ["P-A", "P-B", "P-C", "P-D"]),
        ("sort=-amount", ["P-C", "P-A", "P-B", "P-D"]),
        ("sort=payment_ref", ["P-A", "P-B", "P-C", "P-D"]),
        ("status=reversed", ["P-D"]),
        ("status=posted&sort=payment_ref", ["P-A", "P-B", "P-C"]),
        ("value_date_from=2024-03-01&value_date_to=2024-04-30", ["P-C", "P-B"]),
        ("loan_ref=L1&page_size=2&page=2", ["P-B", "P-A"]),
        ("loan_ref=OTHER", []),
    ],
)
def test_payments_can_be_filtered_sorted_and_paged(client, query, expected):
    assert payment_refs(client.get(f"/api/v1/payments?{query}")) == expected


@pytest.mark.usefixtures("payments")
def test_payment_lists_refuse_unknown_sort_fields(client):
    assert_problem(client.get("/api/v1/payments?sort=channel"), 422, "invalid_sort")
    assert_problem(client.get("/api/v1/payments?status=lost"), 422, "validation_failed")


# --- reversal --------------------------------------------------------------------------


def test_reversing_a_payment_restores_the_loan_to_its_state_before_it(client, loan):
    before = client.get("/api/v1/loans/L1").json()
    post(client, payment(amount="250.00"))
    assert client.get("/api/v1/loans/L1").json() != before
    response = client.post("/api/v1/payments/P1/reverse", json={"reason": "cheque bounced"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["reversal_reason"], body["allocations"]) == (
        "reversed",
        "cheque bounced",
        [],
    )
    assert body["reversed_at"] is not None
    assert client.get("/api/v1/loans/L1").json() == before
    assert client.get("/api/v1/loans/L1/allocations").json()["items"] == []


def test_reversing_an_earlier_payment_re_allocates_the_later_one(client, loan):
    post(client, payment("P1", value_date="2024-02-01", amount="106.62"))
    post(client, payment("P2", value_date="2024-03-01", amount="106.62"))
    assert client.get("/api/v1/payments/P2").json()["allocations"][0]["installment_number"] == 2
    client.post("/api/v1/payments/P1/reverse", json={"reason": "duplicate"})
    assert client.get("/api/v1/payments/P2").json()["allocations"][0]["installment_number"] == 1


def test_a_payment_cannot_be_reversed_twice(client, loan):
    post(client, payment())
    assert client.post("/api/v1/payments/P1/reverse", json={"reason": "x"}).status_code == 200
    assert_problem(
        client.post("/api/v1/payments/P1/reverse", json={"reason": "x"}), 409, "already_reversed"
    )


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": 5}, {"why": "x"}]
)
def test_a_reversal_needs_a_reason_and_changes_nothing_without_one(client, loan, body):
    post(client, payment())
    before = client.get("/api/v1/loans/L1").json()
    assert_problem(client.post("/api/v1/payments/P1/reverse", json=body), 422, "validation_failed")
    assert client.get("/api/v1/payments/P1").json()["status"] == "posted"
    assert client.get("/api/v1/loans/L1").json() == before


def test_reversing_an_unknown_payment_is_a_404(client, loan):
    assert_problem(
        client.post("/api/v1/payments/NOPE/reverse", json={"reason": "x"}), 404, "payment_not_found"
    )


# --- charges and allocations -----------------------------------------------------------


def charge(**fields: Any) -> dict[str, Any]:
    return {
        "installment_number": 1,
        "kind": "late_fee",
        "charged_on": "2024-02-10",
        "amount": "20.00",
        "description": "late fee for February",
        **fields,
    }


def test_a_charge_is_added_and_paid_before_interest_and_principal(client, loan):
    response = client.post("/api/v1/loans/L1/charges", json=charge())
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["amount"], created["paid"], created["outstanding"]) == (
        "20.00",
        "0.00",
        "20.00",
    )
    assert client.get("/api/v1/loans").json()["items"][0]["outstanding"] == "1299.42"
    post(client, payment(value_date="2024-02-15", amount="30.00"))
    [listed] = client.get("/api/v1/loans/L1/charges").json()["items"]
    assert (listed["paid"], listed["outstanding"]) == ("20.00", "0.00")
    components = [a["component"] for a in client.get("/api/v1/payments/P1").json()["allocations"]]
    assert components == ["fee", "interest"]
    # lists and the loan itself agree on what is owed, charges included
    owed = client.get("/api/v1/loans/L1").json()["outstanding"]["total"]
    assert client.get("/api/v1/loans").json()["items"][0]["outstanding"] == owed
    assert client.get("/api/v1/customers/C1").json()["loans"][0]["outstanding"] == owed


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"installment_number": 99}, 404, "installment_not_found"),
        ({"installment_number": 0}, 422, "validation_failed"),
        ({"kind": "bribe"}, 422, "validation_failed"),
        ({"amount": "-1"}, 422, "validation_failed"),
        ({"amount": "1.001"}, 422, "too_many_decimals"),
        ({"charged_on": "2024-02-31"}, 422, "validation_failed"),
        ({"description": "x" * 501}, 422, "validation_failed"),
    ],
)
def test_an_invalid_charge_is_refused_and_not_stored(client, loan, changes, status, code):
    assert_problem(client.post("/api/v1/loans/L1/charges", json=charge(**changes)), status, code)
    assert client.get("/api/v1/loans/L1/charges").json()["items"] == []


def test_a_charge_on_an_unknown_loan_is_a_404(client, loan):
    assert_problem(client.post("/api/v1/loans/NOPE/charges", json=charge()), 404, "loan_not_found")
    assert_problem(client.get("/api/v1/loans/NOPE/allocations"), 404, "loan_not_found")


def test_a_loans_allocations_are_listed_in_the_order_they_were_applied(client, loan):
    post(client, payment("P2", value_date="2024-03-01", amount="106.62"))
    post(client, payment("P1", value_date="2024-02-01", amount="50.00"))
    items = client.get("/api/v1/loans/L1/allocations").json()["items"]
    assert [(a["payment_ref"], a["installment_number"], a["component"]) for a in items] == [
        ("P1", 1, "interest"),
        ("P1", 1, "principal"),
        ("P2", 1, "principal"),
        ("P2", 2, "interest"),
        ("P2", 2, "principal"),
    ]
