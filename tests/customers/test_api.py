"""Customer routes: create, search, show with loans, edit with optimistic locking, contacts.

ID numbers and contact values come back masked; ``revealed`` reads them in full through
the reveal route, as a user allowed to would.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
RESIDENT_ID = "11010519491231002X"
USCC = "91110000600037341L"


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


def revealed(client: TestClient, ref: str = "C1") -> dict[str, Any]:
    """The customer's ID number and contact values in full."""
    response = client.post(f"/api/v1/customers/{ref}/reveal", json={"reason": "checking"})
    assert response.status_code == 200, response.text
    return response.json()


def create_customer(client: TestClient, ref: str = "C1", **fields: Any) -> dict[str, Any]:
    body = {"customer_ref": ref, "name": "张三", "id_number": RESIDENT_ID, **fields}
    response = client.post("/api/v1/customers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


# --- create and show -------------------------------------------------------------------


def test_creating_a_customer_answers_201_with_normalised_contact_points(client):
    response = client.post(
        "/api/v1/customers",
        json={
            "customer_ref": "C1",
            "name": "  张三  ",
            "id_number": "11010519491231002x",
            "monthly_income": "12000.5",
            "city": "北京",
            "contact_points": [
                {"kind": "phone", "value": "138-0013-8000", "is_primary": True},
                {"kind": "email", "value": " Zhang@Example.COM "},
            ],
        },
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/customers/C1"
    body = response.json()
    assert body["name"] == "张三"
    assert body["id_number"] == "110105********002X"
    assert body["monthly_income"] == "12000.50"
    assert body["income_currency"] == "CNY"
    assert body["version"] == 1
    assert [(p["kind"], p["value"]) for p in body["contact_points"]] == [
        ("phone", "138****8000"),
        ("email", "z***g@example.com"),
    ]
    assert body["loans"] == []
    full = revealed(client)
    assert full["id_number"] == RESIDENT_ID
    assert [(p["kind"], p["value"]) for p in full["contact_points"]] == [
        ("phone", "+8613800138000"),
        ("email", "zhang@example.com"),
    ]


def test_a_business_customer_keeps_its_credit_code_as_id_number(client):
    body = create_customer(client, "B1", type="business", name="某某有限公司", id_number=USCC)
    assert body["type"] == "business"
    assert body["id_number"] == "911100********341L"
    assert revealed(client, "B1")["id_number"] == USCC


def test_showing_a_customer_includes_contact_points_and_a_summary_of_loans(client):
    create_customer(client, contact_points=[{"kind": "phone", "value": "13800138000"}])
    assert (
        client.put("/api/v1/products/CASH", json={"code": "CASH", "name": "现金贷"}).status_code
        == 201
    )
    loan = {
        "loan_ref": "L1",
        "customer_ref": "C1",
        "product_code": "CASH",
        "principal": "1200.00",
        "annual_rate": "12",
        "term_months": 12,
        "disbursed_on": "2024-01-01",
        "first_due_on": "2024-02-01",
    }
    assert client.post("/api/v1/loans", json=loan).status_code == 201
    body = client.get("/api/v1/customers/C1").json()
    assert len(body["contact_points"]) == 1
    [summary] = body["loans"]
    assert summary["loan_ref"] == "L1"
    assert summary["principal"] == "1200.00"
    assert summary["outstanding"] == "1279.42"  # 1200.00 principal + 79.42 interest
    assert summary["status"] == "active"


def test_an_unknown_customer_is_a_404_problem(client):
    body = assert_problem(client.get("/api/v1/customers/NOPE"), 404, "customer_not_found")
    assert "NOPE" in body["detail"]


def test_a_reference_already_in_use_is_a_409_and_the_first_customer_is_untouched(client):
    create_customer(client)
    response = client.post(
        "/api/v1/customers", json={"customer_ref": "C1", "name": "李四", "id_number": RESIDENT_ID}
    )
    assert_problem(response, 409, "customer_exists")
    assert client.get("/api/v1/customers/C1").json()["name"] == "张三"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "张三"}, "body.customer_ref"),
        ({"customer_ref": "C 1", "name": "张三"}, "body.customer_ref"),
        ({"customer_ref": "C1", "name": ""}, "body.name"),
        ({"customer_ref": "C1", "name": 42}, "body.name"),
        ({"customer_ref": "C1", "name": "张三", "id_number": "110105194912310021"}, "body"),
        ({"customer_ref": "C1", "name": "张三", "monthly_income": "-5"}, "body.monthly_income"),
        ({"customer_ref": "C1", "name": "张三", "monthly_income": "lots"}, "body.monthly_income"),
        ({"customer_ref": "C1", "name": "张三", "time_zone": "Mars/Olympus"}, "body.time_zone"),
        ({"customer_ref": "C1", "name": "张三", "type": "robot"}, "body.type"),
        ({"customer_ref": "C1", "name": "张三", "nickname": "三儿"}, "body.nickname"),
        (
            {
                "customer_ref": "C1",
                "name": "张三",
                "contact_points": [{"kind": "phone", "value": "1"}],
            },
            "body.contact_points.0",
        ),
    ],
)
def test_invalid_customers_are_refused_with_the_field_named(client, body, field):
    problem = assert_problem(client.post("/api/v1/customers", json=body), 422, "validation_failed")
    assert field in [e["field"] for e in problem["errors"]], problem
    assert client.get("/api/v1/customers").json()["total"] == 0


def test_an_income_finer_than_the_currency_allows_is_refused(client):
    body = {"customer_ref": "C1", "name": "张三", "monthly_income": "100.001"}
    assert_problem(client.post("/api/v1/customers", json=body), 422, "too_many_decimals")


# --- search, paging, sorting -----------------------------------------------------------


@pytest.fixture
def several(client) -> None:
    create_customer(
        client,
        "A-001",
        name="王小明",
        city="北京",
        province="北京",
        contact_points=[{"kind": "phone", "value": "13800138000"}],
    )
    create_customer(client, "A-002", name="王大明", city="上海", province="上海")
    create_customer(client, "B-001", name="李四", city="北京", province="北京")
    create_customer(client, "B-002", name="Zhang Wei", city="广州", province="广东")
    create_customer(
        client,
        "CO-1",
        type="business",
        name="明星科技有限公司",
        id_number=USCC,
        city="深圳",
        province="广东",
    )


def refs(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [c["customer_ref"] for c in response.json()["items"]]


@pytest.mark.usefixtures("several")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["A-001", "A-002", "B-001", "B-002", "CO-1"]),
        ("q=明", ["A-001", "A-002", "CO-1"]),
        ("q=zhang", ["B-002"]),
        ("q=A-", ["A-001", "A-002"]),
        ("q=%25", []),
        ("type=business", ["CO-1"]),
        ("city=北京", ["A-001", "B-001"]),
        ("province=广东", ["B-002", "CO-1"]),
        (f"id_number={USCC}", ["CO-1"]),
        (f"id_number={RESIDENT_ID.lower()}", ["A-001", "A-002", "B-001", "B-002"]),
        ("phone=%2B86 138 0013 8000", ["A-001"]),
        ("phone=13800138000", ["A-001"]),
        ("phone=13900139000", []),
        ("city=北京&q=王", ["A-001"]),
    ],
)
def test_customers_can_be_filtered(client, query, expected):
    assert refs(client.get(f"/api/v1/customers?{query}")) == expected


@pytest.mark.usefixtures("several")
def test_an_invalid_phone_filter_is_a_422_problem(client):
    assert_problem(client.get("/api/v1/customers?phone=12345"), 422, "invalid_phone")


@pytest.mark.usefixtures("several")
def test_customers_page_and_sort(client):
    first = client.get("/api/v1/customers?page_size=2&sort=-customer_ref").json()
    assert [c["customer_ref"] for c in first["items"]] == ["CO-1", "B-002"]
    assert (first["total"], first["page"], first["page_size"]) == (5, 1, 2)
    third = client.get("/api/v1/customers?page_size=2&page=3&sort=-customer_ref").json()
    assert [c["customer_ref"] for c in third["items"]] == ["A-001"]
    newest_first = refs(client.get("/api/v1/customers?sort=-created_at"))
    assert newest_first == ["CO-1", "B-002", "B-001", "A-002", "A-001"]


@pytest.mark.usefixtures("several")
def test_sorting_by_a_field_not_offered_is_a_422_invalid_sort(client):
    body = assert_problem(client.get("/api/v1/customers?sort=id_number"), 422, "invalid_sort")
    assert "customer_ref" in body["allowed"]


# --- editing with optimistic locking ---------------------------------------------------


def test_patching_a_customer_changes_only_the_fields_sent_and_bumps_the_version(client):
    create_customer(client, city="北京", employer="某银行")
    response = client.patch(
        "/api/v1/customers/C1", json={"version": 1, "city": "上海", "monthly_income": "9000"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["city"], body["monthly_income"], body["employer"]) == ("上海", "9000.00", "某银行")
    assert body["version"] == 2
    assert client.get("/api/v1/customers/C1").json()["city"] == "上海"


def test_a_null_clears_an_optional_field(client):
    create_customer(client, city="北京", monthly_income="5000")
    body = client.patch(
        "/api/v1/customers/C1", json={"version": 1, "city": None, "monthly_income": None}
    ).json()
    assert body["city"] is None
    assert body["monthly_income"] is None


def test_a_patch_from_a_stale_read_is_a_409_and_changes_nothing(client):
    create_customer(client, city="北京")
    assert (
        client.patch("/api/v1/customers/C1", json={"version": 1, "city": "上海"}).status_code == 200
    )
    response = client.patch("/api/v1/customers/C1", json={"version": 1, "city": "广州"})
    body = assert_problem(response, 409, "stale_version")
    assert body["current_version"] == 2
    after = client.get("/api/v1/customers/C1").json()
    assert (after["city"], after["version"]) == ("上海", 2)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"city": "上海"}, "body.version"),
        ({"version": "one"}, "body.version"),
        ({"version": 0}, "body.version"),
        ({"version": 1, "name": None}, "body.name"),
        ({"version": 1, "name": "   "}, "body.name"),
        ({"version": 1, "time_zone": "Nowhere/City"}, "body.time_zone"),
        ({"version": 1, "customer_ref": "C2"}, "body.customer_ref"),
        ({"version": 1, "monthly_income": "-1"}, "body.monthly_income"),
    ],
)
def test_an_invalid_patch_is_a_422_and_changes_nothing(client, patch, field):
    create_customer(client, city="北京")
    response = client.patch("/api/v1/customers/C1", json=patch)
    problem = assert_problem(response, 422, "validation_failed")
    assert field in [e["field"] for e in problem["errors"]], problem
    after = client.get("/api/v1/customers/C1").json()
    assert (after["name"], after["city"], after["version"]) == ("张三", "北京", 1)


def test_patching_an_unknown_customer_is_a_404(client):
    assert_problem(
        client.patch("/api/v1/customers/NOPE", json={"version": 1}), 404, "customer_not_found"
    )


# --- contact points --------------------------------------------------------------------


def test_adding_a_contact_point_answers_201_and_shows_on_the_customer(client):
    create_customer(client)
    response = client.post(
        "/api/v1/customers/C1/contact-points",
        json={
            "kind": "phone",
            "value": "+86 139 0013 9000",
            "relation": "spouse",
            "contact_name": "李梅",
        },
    )
    assert response.status_code == 201, response.text
    point = response.json()
    assert (point["value"], point["relation"], point["status"]) == (
        "139****9000",
        "spouse",
        "valid",
    )
    full = {p["id"]: p["value"] for p in revealed(client)["contact_points"]}
    assert full[point["id"]] == "+8613900139000"
    shown = client.get("/api/v1/customers/C1").json()["contact_points"]
    assert [p["id"] for p in shown] == [point["id"]]


def test_adding_a_contact_point_the_customer_already_has_is_a_409(client):
    create_customer(client, contact_points=[{"kind": "phone", "value": "13800138000"}])
    response = client.post(
        "/api/v1/customers/C1/contact-points", json={"kind": "phone", "value": "138 0013 8000"}
    )
    assert_problem(response, 409, "contact_point_exists")


@pytest.mark.parametrize("status", ["wrong_number", "opted_out", "valid"])
def test_a_contact_point_can_be_marked_with_a_status(client, status):
    created = create_customer(client, contact_points=[{"kind": "phone", "value": "13800138000"}])
    point_id = created["contact_points"][0]["id"]
    response = client.patch(
        f"/api/v1/customers/C1/contact-points/{point_id}", json={"version": 1, "status": status}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["version"]) == (
        status,
        1 if status == "valid" else 2,
    )


def test_a_stale_contact_point_change_is_a_409(client):
    created = create_customer(client, contact_points=[{"kind": "phone", "value": "13800138000"}])
    url = f"/api/v1/customers/C1/contact-points/{created['contact_points'][0]['id']}"
    assert client.patch(url, json={"version": 1, "status": "wrong_number"}).status_code == 200
    assert_problem(
        client.patch(url, json={"version": 1, "status": "opted_out"}), 409, "stale_version"
    )
    assert (
        client.get("/api/v1/customers/C1").json()["contact_points"][0]["status"] == "wrong_number"
    )


def test_contact_point_changes_are_validated(client):
    created = create_customer(client, contact_points=[{"kind": "phone", "value": "13800138000"}])
    url = f"/api/v1/customers/C1/contact-points/{created['contact_points'][0]['id']}"
    body = assert_problem(
        client.patch(url, json={"version": 1, "status": "disconnected"}), 422, "validation_failed"
    )
    assert body["errors"][0]["field"] == "body.status"
    assert_problem(
        client.patch(url, json={"version": 1, "value": "+8613900139000"}), 422, "validation_failed"
    )


def test_another_customers_contact_point_is_not_found(client):
    create_customer(client, "C1", contact_points=[{"kind": "phone", "value": "13800138000"}])
    other = create_customer(
        client, "C2", contact_points=[{"kind": "phone", "value": "13900139000"}]
    )
    url = f"/api/v1/customers/C1/contact-points/{other['contact_points'][0]['id']}"
    assert_problem(
        client.patch(url, json={"version": 1, "status": "opted_out"}),
        404,
        "contact_point_not_found",
    )
    assert_problem(
        client.patch("/api/v1/customers/C1/contact-points/abc", json={"version": 1}),
        422,
        "validation_failed",
    )
