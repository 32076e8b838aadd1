"""Product, loan and loan-calculator routes, checked against published figures to the cent."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
PREVIEW = "/api/v1/schedule/preview"


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


def preview(client: TestClient, **terms: Any) -> dict[str, Any]:
    body = {"method": "annuity", "first_due": "2024-02-15", **terms}
    response = client.post(PREVIEW, json=body)
    assert response.status_code == 200, response.text
    return response.json()


# --- the loan calculator ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "rate", "months", "installment"),
    [
        ("630000", "4.90", 360, "3343.58"),
        ("100000", "4.90", 120, "1055.77"),
        ("1000000", "4.90", 240, "6544.44"),
        ("162000", "3.875", 360, "761.78"),
        ("563", "12", 5, "116.00"),
    ],
)
def test_annuity_installments_match_the_published_figures(
    client, principal, rate, months, installment
):
    schedule = preview(client, principal=principal, annual_rate=rate, months=months)
    rows = schedule["installments"]
    assert len(rows) == months
    assert {row["total"] for row in rows[:-1]} == {installment}
    assert rows[-1]["balance_after"] == "0.00"


@pytest.mark.parametrize(
    ("principal", "rate", "months", "splits"),
    [
        ("100000", "4.90", 120, [("408.33", "647.44"), ("405.69", "650.08")]),
        ("1000000", "4.90", 240, [("4083.33", "2461.11")]),
        ("162000", "3.875", 360, [("523.13", "238.65")]),
    ],
)
def test_annuity_months_split_into_the_published_interest_and_principal(
    client, principal, rate, months, splits
):
    rows = preview(client, principal=principal, annual_rate=rate, months=months)["installments"]
    assert [(r["interest"], r["principal"]) for r in rows[: len(splits)]] == splits


def test_a_small_annuity_runs_down_to_exactly_zero(client):
    schedule = preview(client, principal="563", annual_rate="12", months=5)
    rows = [(r["interest"], r["principal"], r["balance_after"]) for r in schedule["installments"]]
    assert rows[:3] == [
        ("5.63", "110.37", "452.63"),
        ("4.53", "111.47", "341.16"),
        ("3.41", "112.59", "228.57"),
    ]
    assert rows[-1][2] == "0.00"
    assert sum(float(r[1]) for r in rows) == pytest.approx(563)


def test_equal_principal_first_installments_match_the_published_figures(client):
    schedule = preview(
        client, principal="630000", annual_rate="4.90", months=360, method="equal_principal"
    )
    rows = schedule["installments"]
    assert rows[0]["total"] == "4322.50"
    assert (rows[0]["principal"], rows[0]["interest"]) == ("1750.00", "2572.50")
    assert rows[1]["total"] == "4315.35"


def test_the_preview_answers_exactly_the_documented_shape(client):
    schedule = preview(client, principal="563", annual_rate="12", months=5)
    assert set(schedule) == {"installments", "total_interest", "total_repayment"}
    assert set(schedule["installments"][0]) == {
        "number",
        "due_date",
        "principal",
        "interest",
        "fee",
        "total",
        "balance_after",
    }
    first = schedule["installments"][0]
    assert (first["number"], first["due_date"], first["fee"]) == (1, "2024-02-15", "0.00")
    assert schedule["installments"][1]["due_date"] == "2024-03-15"
    assert schedule["total_repayment"] == "580.01"
    assert schedule["total_interest"] == "17.01"


def test_the_preview_honours_day_count_rounding_and_currency(client):
    daily = preview(
        client,
        principal="100000",
        annual_rate="4.9",
        months=12,
        disbursed="2024-01-01",
        first_due="2024-02-15",
        day_count="act/365",
    )
    # 45 days of interest in the first period: 100000 × 4.9 % × 45 / 365
    assert daily["installments"][0]["interest"] == "604.11"
    whole = preview(client, principal="100000", annual_rate="4.9", months=12, rounding_unit="unit")
    assert whole["installments"][0]["total"].endswith(".00")
    yen = preview(client, principal="1000000", annual_rate="1.5", months=12, currency="JPY")
    assert "." not in yen["installments"][0]["total"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"annual_rate": "4.9", "months": 12}, "body.principal"),
        ({"principal": "-100", "annual_rate": "4.9", "months": 12}, "body.principal"),
        ({"principal": "0", "annual_rate": "4.9", "months": 12}, "body.principal"),
        ({"principal": "abc", "annual_rate": "4.9", "months": 12}, "body.principal"),
        ({"principal": "NaN", "annual_rate": "4.9", "months": 12}, "body.principal"),
        ({"principal": "1e40", "annual_rate": "4.9", "months": 12}, "body.principal"),
        ({"principal": "1000", "annual_rate": "-1", "months": 12}, "body.annual_rate"),
        ({"principal": "1000", "annual_rate": "4.1234567", "months": 12}, "body.annual_rate"),
        ({"principal": "1000", "annual_rate": [4.9], "months": 12}, "body.annual_rate"),
        ({"principal": "1000", "annual_rate": "4.9", "months": 0}, "body.months"),
        ({"principal": "1000", "annual_rate": "4.9", "months": 601}, "body.months"),
        ({"principal": "1000", "annual_rate": "4.9", "months": 1.5}, "body.months"),
        (
            {"principal": "1000", "annual_rate": "4.9", "months": 12, "method": "magic"},
            "body.method",
        ),
        (
            {"principal": "1000", "annual_rate": "4.9", "months": 12, "first_due": "2024-02-30"},
            "body.first_due",
        ),
        (
            {"principal": "1000", "annual_rate": "4.9", "months": 12, "first_due": "soon"},
            "body.first_due",
        ),
        (
            {"principal": "1000", "annual_rate": "4.9", "months": 12, "first_due": "9999-12-31"},
            "body.first_due",
        ),
        (
            {"principal": "1000", "annual_rate": "4.9", "months": 12, "disbursed": "2024-03-01"},
            "body",
        ),
        (
            {"principal": "1000", "annual_rate": "4.9", "months": 12, "currency": "XYZ"},
            "body.currency",
        ),
        (
            {"principal": "1000", "annual_rate": "4.9", "months": 12, "rounding": "bankers"},
            "body.rounding",
        ),
        (
            {"principal": "1000", "annual_rate": "4.9", "months": 12, "day_count": "30/365"},
            "body.day_count",
        ),
        ({"principal": "1000", "annual_rate": "4.9", "months": 12, "colour": "red"}, "body.colour"),
    ],
)
def test_invalid_terms_are_a_422_naming_the_field(client, body, field):
    response = client.post(PREVIEW, json={"method": "annuity", "first_due": "2024-02-15", **body})
    problem = assert_problem(response, 422, "validation_failed")
    assert field in [e["field"] for e in problem["errors"]], problem


def test_a_principal_finer_than_the_currency_allows_is_refused(client):
    body = {"principal": "100.001", "annual_rate": "4.9", "months": 12, "method": "annuity"}
    response = client.post(PREVIEW, json={**body, "first_due": "2024-02-15"})
    assert_problem(response, 422, "too_many_decimals")
    yen = {**body, "principal": "100.5", "currency": "JPY", "first_due": "2024-02-15"}
    assert_problem(client.post(PREVIEW, json=yen), 422, "too_many_decimals")


# --- products --------------------------------------------------------------------------

PRODUCT = {"code": "CASH", "name": "现金贷", "method": "annuity", "late_fee": "20", "grace_days": 3}


def test_a_product_is_created_once_and_then_is_a_409(client):
    response = client.post("/api/v1/products", json=PRODUCT)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/products/CASH"
    body = response.json()
    assert (body["late_fee"], body["tolerance"], body["version"]) == ("20.00", "0.01", 1)
    assert_problem(
        client.post("/api/v1/products", json={**PRODUCT, "name": "Other"}), 409, "product_exists"
    )
    assert client.get("/api/v1/products/CASH").json()["name"] == "现金贷"


def test_put_creates_then_updates_a_product(client):
    assert client.put("/api/v1/products/CASH", json=PRODUCT).status_code == 201
    response = client.put("/api/v1/products/CASH", json={**PRODUCT, "grace_days": 5})
    assert response.status_code == 200, response.text
    assert response.json()["grace_days"] == 5
    assert response.json()["version"] == 2
    assert (
        client.put("/api/v1/products/CASH", json={**PRODUCT, "grace_days": 5}).json()["version"]
        == 2
    )


def test_put_with_another_code_in_the_body_is_refused(client):
    assert_problem(
        client.put("/api/v1/products/CASH", json={**PRODUCT, "code": "OTHER"}), 422, "code_mismatch"
    )
    assert_problem(client.get("/api/v1/products/OTHER"), 404, "product_not_found")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"currency": "XYZ"}, "invalid_currency"),
        ({"late_fee": "1.234"}, "too_many_decimals"),
        ({"late_fee": "-1"}, "validation_failed"),
        ({"method": "magic"}, "validation_failed"),
        ({"buckets": [{"code": "M0", "min_days": 5, "max_days": None}]}, "validation_failed"),
        ({"allocation_order": ["principal"]}, "validation_failed"),
        ({"penalty_rate": "18", "penalty_multiplier": "1.5"}, "validation_failed"),
    ],
)
def test_an_invalid_product_is_a_422_and_is_not_stored(client, changes, code):
    assert_problem(client.post("/api/v1/products", json={**PRODUCT, **changes}), 422, code)
    assert client.get("/api/v1/products").json()["total"] == 0


def test_products_are_listed_by_code(client):
    for code in ("ZED", "ALPHA", "MID"):
        assert client.post("/api/v1/products", json={**PRODUCT, "code": code}).status_code == 201
    body = client.get("/api/v1/products").json()
    assert [p["code"] for p in body["items"]] == ["ALPHA", "MID", "ZED"]
    assert body["total"] == 3
    assert [
        p["code"] for p in client.get("/api/v1/products?sort=-code&page_size=1").json()["items"]
    ] == ["ZED"]


# --- loans -----------------------------------------------------------------------------


def loan_body(ref: str = "L1", **fields: Any) -> dict[str, Any]:
    return {
        "loan_ref": ref,
        "customer_ref": "C1",
        "product_code": "CASH",
        "principal": "100000",
        "annual_rate": "4.90",
        "term_months": 120,
        "disbursed_on": "2024-01-15",
        "first_due_on": "2024-02-15",
        **fields,
    }


@pytest.fixture
def book(client) -> None:
    """A product and two customers, ready for loans."""
    assert (
        client.put("/api/v1/products/CASH", json={"code": "CASH", "name": "现金贷"}).status_code
        == 201
    )
    assert (
        client.put(
            "/api/v1/products/EP",
            json={"code": "EP", "name": "等额本金", "method": "equal_principal"},
        ).status_code
        == 201
    )
    for ref in ("C1", "C2"):
        response = client.post(
            "/api/v1/customers",
            json={"customer_ref": ref, "name": "张三", "id_number": "11010519491231002X"},
        )
        assert response.status_code == 201, response.text


@pytest.mark.usefixtures("book")
def test_a_new_loan_gets_its_schedule_with_the_published_figures(client):
    response = client.post("/api/v1/loans", json=loan_body())
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/loans/L1"
    loan = response.json()
    assert (loan["principal"], loan["annual_rate"], loan["currency"]) == ("100000.00", "4.9", "CNY")
    first, second = loan["installments"][:2]
    assert (first["total"], first["interest"], first["principal"]) == (
        "1055.77",
        "408.33",
        "647.44",
    )
    assert (second["interest"], second["principal"]) == ("405.69", "650.08")
    assert {first["paid"][k] for k in ("principal", "interest", "fee")} == {"0.00"}
    assert first["outstanding"]["total"] == "1055.77"
    assert client.get("/api/v1/loans/L1").json() == loan


@pytest.mark.usefixtures("book")
def test_a_loans_installments_are_listed_in_order(client):
    client.post("/api/v1/loans", json=loan_body(term_months=12))
    body = client.get("/api/v1/loans/L1/installments").json()
    assert (body["loan_ref"], body["currency"]) == ("L1", "CNY")
    assert [i["number"] for i in body["items"]] == list(range(1, 13))
    assert body["items"][11]["due_date"] == "2025-01-15"


@pytest.mark.usefixtures("book")
def test_a_loan_reference_already_in_use_is_a_409_and_the_loan_is_unchanged(client):
    client.post("/api/v1/loans", json=loan_body())
    assert_problem(client.post("/api/v1/loans", json=loan_body(principal="5")), 409, "loan_exists")
    assert client.get("/api/v1/loans/L1").json()["principal"] == "100000.00"


@pytest.mark.usefixtures("book")
@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"customer_ref": "NOPE"}, 404, "customer_not_found"),
        ({"product_code": "NOPE"}, 404, "product_not_found"),
        ({"currency": "USD"}, 422, "currency_mismatch"),
        ({"currency": "XYZ"}, 422, "invalid_currency"),
        ({"principal": "100.001"}, 422, "too_many_decimals"),
        ({"principal": "-1"}, 422, "validation_failed"),
        ({"principal": 10**30}, 422, "validation_failed"),
        ({"annual_rate": "4.1234567"}, 422, "validation_failed"),
        ({"term_months": 0}, 422, "validation_failed"),
        ({"first_due_on": "2024-01-15"}, 422, "validation_failed"),
        ({"disbursed_on": "2024-02-30"}, 422, "validation_failed"),
        ({"loan_ref": "has space"}, 422, "validation_failed"),
        ({"loan_ref": "x" * 65}, 422, "validation_failed"),
        ({"term_months": "many"}, 422, "validation_failed"),
    ],
)
def test_an_invalid_loan_is_refused_and_not_stored(client, changes, status, code):
    assert_problem(client.post("/api/v1/loans", json=loan_body(**changes)), status, code)
    assert client.get("/api/v1/loans").json()["total"] == 0


def test_an_unknown_loan_is_a_404_problem(client):
    assert_problem(client.get("/api/v1/loans/NOPE"), 404, "loan_not_found")
    assert_problem(client.get("/api/v1/loans/NOPE/installments"), 404, "loan_not_found")


@pytest.fixture
def loans(client, book) -> None:
    for ref, customer, product, principal, disbursed in [
        ("L-03", "C1", "CASH", "3000", "2024-03-01"),
        ("L-01", "C1", "EP", "1000", "2024-01-01"),
        ("L-05", "C2", "CASH", "5000", "2024-01-01"),
        ("L-02", "C2", "EP", "2000", "2024-02-01"),
        ("L-04", "C1", "CASH", "4000", "2024-04-01"),
    ]:
        month = int(disbursed[5:7])
        body = loan_body(
            ref,
            customer_ref=customer,
            product_code=product,
            principal=principal,
            term_months=6,
            disbursed_on=disbursed,
            first_due_on=f"2024-{month + 1:02d}-01",
        )
        response = client.post("/api/v1/loans", json=body)
        assert response.status_code == 201, response.text


def loan_refs(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [loan["loan_ref"] for loan in response.json()["items"]]


@pytest.mark.usefixtures("loans")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["L-01", "L-02", "L-03", "L-04", "L-05"]),
        ("customer_ref=C2", ["L-02", "L-05"]),
        ("customer_ref=NOPE", []),
        ("product_code=EP", ["L-01", "L-02"]),
        ("status=active", ["L-01", "L-02", "L-03", "L-04", "L-05"]),
        ("status=closed", []),
        ("disbursed_from=2024-02-01&disbursed_to=2024-03-31", ["L-02", "L-03"]),
        ("customer_ref=C1&product_code=CASH", ["L-03", "L-04"]),
        ("sort=-principal", ["L-05", "L-04", "L-03", "L-02", "L-01"]),
        ("sort=disbursed_on,-loan_ref", ["L-05", "L-01", "L-02", "L-03", "L-04"]),
        ("sort=-disbursed_on,loan_ref", ["L-04", "L-03", "L-02", "L-01", "L-05"]),
    ],
)
def test_loans_can_be_filtered_and_sorted(client, query, expected):
    assert loan_refs(client.get(f"/api/v1/loans?{query}")) == expected


@pytest.mark.usefixtures("loans")
def test_loans_are_paginated_without_overlap(client):
    seen: list[str] = []
    for page in (1, 2, 3):
        body = client.get(f"/api/v1/loans?page_size=2&page={page}&sort=-disbursed_on").json()
        assert (body["total"], body["page"], body["page_size"]) == (5, page, 2)
        seen += [loan["loan_ref"] for loan in body["items"]]
    assert sorted(seen) == ["L-01", "L-02", "L-03", "L-04", "L-05"]
    summary = client.get("/api/v1/loans?customer_ref=C2&product_code=CASH").json()["items"][0]
    assert (summary["customer_ref"], summary["principal"], summary["product_code"]) == (
        "C2",
        "5000.00",
        "CASH",
    )


@pytest.mark.usefixtures("loans")
@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("sort=customer_ref", "invalid_sort"),
        ("sort=-annual_rate", "invalid_sort"),
        ("status=sleeping", "validation_failed"),
        ("disbursed_from=2024-02-30", "validation_failed"),
        ("page_size=1000", "validation_failed"),
    ],
)
def test_bad_list_parameters_are_a_422_problem(client, query, code):
    assert_problem(client.get(f"/api/v1/loans?{query}"), 422, code)


@pytest.mark.usefixtures("book")
@pytest.mark.parametrize(
    ("sent", "shown"), [("10", "10"), ("10.00", "10"), ("4.90", "4.9"), ("0", "0")]
)
def test_a_rate_is_shown_the_same_way_when_created_and_when_read_back(client, sent, shown):
    created = client.post("/api/v1/loans", json=loan_body(annual_rate=sent))
    assert created.status_code == 201, created.text
    assert created.json()["annual_rate"] == shown
    assert client.get("/api/v1/loans/L1").json()["annual_rate"] == shown
    assert client.get("/api/v1/loans").json()["items"][0]["annual_rate"] == shown
