"""The app as a whole: health, OpenAPI, problem+json errors, one transaction per request,
paging plumbing, and a fuzz-ish sweep proving bad input never causes a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

import arrears
import arrears.app
from arrears.app import create_app
from arrears.customers.models import Customer
from arrears.customers.schemas import CustomerIn
from arrears.kit.db import unit_of_work
from arrears.kit.errors import ValidationFailed
from arrears.kit.http import DbSession
from arrears.kit.migrate import current_revision
from arrears.kit.pagination import parse_sort

PROBLEM = "application/problem+json"


@pytest.fixture
def client(auth_client: TestClient) -> TestClient:
    """The app, signed in as an administrator."""
    return auth_client


def assert_problem(response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status`` and ``code``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"https://arrears.dev/problems/{code}"
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"] and body["detail"]
    return body


def seed(client: TestClient) -> None:
    """A product, a customer, a loan and a payment, through the API."""
    assert (
        client.put("/api/v1/products/CASH", json={"code": "CASH", "name": "现金贷"}).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/customers",
            json={"customer_ref": "C1", "name": "张三", "id_number": "11010519491231002X"},
        ).status_code
        == 201
    )
    assert (
        client.post(
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
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/payments",
            json={
                "payment_ref": "P1",
                "loan_ref": "L1",
                "value_date": "2024-02-01",
                "amount": "50",
            },
        ).status_code
        == 201
    )


# --- the app ---------------------------------------------------------------------------


def test_the_module_offers_a_factory_and_no_ready_made_app():
    assert not hasattr(arrears.app, "app")
    assert create_app() is not create_app()


def test_health_reports_the_database_and_its_schema_revision(client, engine):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == arrears.__version__
    assert body["database"]["reachable"] is True
    assert body["database"]["revision"] == current_revision(engine)
    assert body["database"]["dialect"] == engine.dialect.name


def test_openapi_describes_the_api_and_its_problems(client):
    document = client.get("/openapi.json").json()
    assert document["info"]["title"] == "arrears"
    assert document["info"]["version"] == arrears.__version__
    assert "/api/v1/schedule/preview" in document["paths"]
    responses = document["paths"]["/api/v1/loans/{loan_ref}"]["get"]["responses"]
    assert responses["404"]["content"] == {
        PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    preview = document["paths"]["/api/v1/schedule/preview"]["post"]["responses"]
    assert preview["422"]["content"][PROBLEM]["schema"]["$ref"].endswith("/ValidationProblem")
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert client.get("/docs").status_code == 200


# --- errors as problem+json ------------------------------------------------------------


def test_an_unknown_route_is_a_404_problem(client):
    body = assert_problem(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert "/api/v1/nothing-here" in body["detail"]


def test_a_wrong_method_is_a_405_problem_that_says_what_is_allowed(client):
    response = client.delete("/api/v1/health")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


def test_invalid_json_is_a_422_problem_with_field_errors(client):
    response = client.post(
        "/api/v1/schedule/preview",
        content=b'{"principal": ',
        headers={"content-type": "application/json"},
    )
    body = assert_problem(response, 422, "validation_failed")
    assert body["errors"][0]["field"] == "body"
    assert "JSON" in body["errors"][0]["message"]


def test_missing_and_mistyped_fields_are_each_named(client):
    response = client.post(
        "/api/v1/schedule/preview", json={"principal": "abc", "months": "twelve"}
    )
    body = assert_problem(response, 422, "validation_failed")
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert fields["body.method"] == "is required"
    assert fields["body.first_due"] == "is required"
    assert "decimal" in fields["body.principal"]
    assert "integer" in fields["body.months"]
    assert "body.principal" in body["detail"]


def _app_with(route: Any, *, path: str = "/api/v1/test-only", method: str = "GET") -> TestClient:
    app = create_app()
    app.add_api_route(path, route, methods=[method])
    return TestClient(app)


def test_an_unexpected_error_is_a_500_problem_without_the_stack_trace(engine, caplog):
    def broken() -> None:
        raise RuntimeError("secret internals at /srv/arrears/db.py line 12")

    response = _app_with(broken).get("/api/v1/test-only")
    body = assert_problem(response, 500, "internal_error")
    assert "secret" not in response.text and "Traceback" not in response.text
    assert "try again" in body["detail"]
    assert "secret internals" in caplog.text  # it is in the log instead


def test_a_stale_write_is_a_409_stale_version_problem(engine):
    def stale() -> None:
        raise StaleDataError("UPDATE statement on table 'customers' expected to update 1 row")

    assert_problem(_app_with(stale).get("/api/v1/test-only"), 409, "stale_version")


def test_an_integrity_error_is_a_409_conflict_problem(engine):
    def duplicate() -> None:
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    body = assert_problem(_app_with(duplicate).get("/api/v1/test-only"), 409, "conflict")
    assert "duplicate key" not in body["detail"]


def test_a_domain_error_keeps_its_code_sentence_and_details(engine):
    def refuse() -> None:
        raise ValidationFailed("the term is too long", code="invalid_term", limit=600)

    body = assert_problem(_app_with(refuse).get("/api/v1/test-only"), 422, "invalid_term")
    assert body["detail"] == "the term is too long"
    assert body["limit"] == 600
    assert body["title"] == "Invalid term"


# --- one transaction per request -------------------------------------------------------


def _customers(engine) -> int:
    with unit_of_work(engine) as session:
        return session.scalar(select(func.count()).select_from(Customer)) or 0


def test_a_successful_request_commits_its_changes(engine):
    def create(db_session: DbSession) -> dict[str, bool]:
        db_session.add(Customer(**CustomerIn(customer_ref="T1", name="李四").columns()))
        return {"ok": True}

    assert _app_with(create, method="POST").post("/api/v1/test-only").status_code == 200
    assert _customers(engine) == 1


def test_a_failing_request_rolls_back_everything_it_wrote(engine):
    def create_then_fail(db_session: DbSession) -> None:
        db_session.add(Customer(**CustomerIn(customer_ref="T1", name="李四").columns()))
        db_session.flush()
        raise ValidationFailed("changed my mind", code="changed_mind")

    response = _app_with(create_then_fail, method="POST").post("/api/v1/test-only")
    assert_problem(response, 422, "changed_mind")
    assert _customers(engine) == 0


def test_a_commit_that_fails_is_reported_not_answered_with_success(engine):
    with unit_of_work(engine) as session:
        session.add(Customer(**CustomerIn(customer_ref="T1", name="李四").columns()))

    def duplicate_without_flush(db_session: DbSession) -> dict[str, bool]:
        # nothing is flushed until the commit, after the route has returned
        db_session.add(Customer(**CustomerIn(customer_ref="T1", name="王五").columns()))
        return {"ok": True}

    response = _app_with(duplicate_without_flush, method="POST").post("/api/v1/test-only")
    assert_problem(response, 409, "conflict")
    assert _customers(engine) == 1


# --- paging and sorting plumbing -------------------------------------------------------


def test_sort_accepts_whitelisted_fields_with_direction_and_adds_a_tiebreaker():
    order = parse_sort(
        "-name, customer_ref,name",
        {"name": Customer.name, "customer_ref": Customer.customer_ref},
        default="customer_ref",
        tiebreaker=Customer.id,
    )
    assert order.fields == (("name", True), ("customer_ref", False))
    assert len(order.clauses) == 3


def test_sort_refuses_a_field_outside_the_whitelist():
    with pytest.raises(ValidationFailed) as raised:
        parse_sort("id_number", {"name": Customer.name}, default="name", tiebreaker=Customer.id)
    assert raised.value.code == "invalid_sort"


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=-1", "page=abc", "page_size=0", "page_size=501", "page=99999999999999999999"],
)
def test_out_of_range_paging_is_a_422_problem(client, query):
    assert_problem(client.get(f"/api/v1/customers?{query}"), 422, "validation_failed")


def test_a_page_past_the_end_is_empty_but_keeps_the_total(client):
    seed(client)
    body = client.get("/api/v1/loans?page=7&page_size=10").json()
    assert body == {"items": [], "total": 1, "page": 7, "page_size": 10}


# --- no 5xx for any bad input ----------------------------------------------------------

NASTY_VALUES: list[Any] = [
    None,
    "",
    " ",
    "abc",
    "\u0000",
    "x" * 5000,
    "中文",
    -1,
    0,
    1.5,
    10**30,
    "1e400",
    "-0.001",
    "NaN",
    "Infinity",
    "100.001",
    "99999999999999999999999.99",
    True,
    [],
    {},
    [1, 2],
    {"nested": {"deeper": [None]}},
    "2024-02-30",
    "9999-12-31",
    "0001-01-01",
    "2024-13-01",
    "<script>alert(1)</script>",
    "'; DROP TABLE loans; --",
]

GARBAGE_BODIES: list[bytes] = [
    b"",
    b"null",
    b"[]",
    b"42",
    b'"text"',
    b"{",
    b"{}",
    b'{"a": 1}',
    b"\xff\xfe\x00",
    b"[" * 5000,
    b'{"principal": NaN}',
    json.dumps({"deep": [[[[[[[[[[{}]]]]]]]]]]}).encode(),
]

VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/schedule/preview"): {
        "principal": "100000",
        "annual_rate": "4.9",
        "months": 120,
        "method": "annuity",
        "first_due": "2024-02-15",
        "disbursed": "2024-01-15",
        "day_count": "act/365",
        "rounding": "half_up",
        "rounding_unit": "cent",
        "currency": "CNY",
    },
    ("POST", "/api/v1/products"): {
        "code": "NEW",
        "name": "New",
        "currency": "CNY",
        "method": "equal_principal",
        "grace_days": 3,
        "penalty_rate": "18",
        "late_fee": "20.00",
        "tolerance": "1.00",
    },
    ("PUT", "/api/v1/products/CASH"): {"code": "CASH", "name": "Cash", "late_fee": "10"},
    ("POST", "/api/v1/customers"): {
        "customer_ref": "C2",
        "type": "individual",
        "name": "李四",
        "id_number": "11010519491231002X",
        "monthly_income": "8000.00",
        "income_currency": "CNY",
        "time_zone": "Asia/Shanghai",
        "city": "北京",
        "contact_points": [{"kind": "phone", "value": "13800138000"}],
    },
    ("PATCH", "/api/v1/customers/C1"): {
        "version": 1,
        "name": "张三丰",
        "monthly_income": "9000",
        "city": "上海",
        "time_zone": "Asia/Shanghai",
    },
    ("POST", "/api/v1/customers/C1/contact-points"): {
        "kind": "email",
        "value": "zhang@example.com",
        "relation": "self",
        "contact_name": "张三",
        "is_primary": True,
    },
    ("POST", "/api/v1/loans"): {
        "loan_ref": "L2",
        "customer_ref": "C1",
        "product_code": "CASH",
        "principal": "5000.00",
        "annual_rate": "10.5",
        "term_months": 6,
        "disbursed_on": "2024-01-01",
        "first_due_on": "2024-02-01",
        "currency": "CNY",
    },
    ("POST", "/api/v1/payments"): {
        "payment_ref": "P2",
        "loan_ref": "L1",
        "value_date": "2024-03-01",
        "amount": "100.00",
        "channel": "alipay",
    },
    ("POST", "/api/v1/payments/P1/reverse"): {"reason": "bounced"},
    ("POST", "/api/v1/loans/L1/charges"): {
        "installment_number": 1,
        "kind": "late_fee",
        "charged_on": "2024-02-10",
        "amount": "20.00",
        "description": "late",
    },
}


def _mutations(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for field in body:
        yield {k: v for k, v in body.items() if k != field}
        for value in NASTY_VALUES:
            yield {**body, field: value}
    yield {**body, "unexpected_field": 1}


@pytest.mark.parametrize(
    ("method", "path"), list(VALID_BODIES), ids=[f"{m} {p}" for m, p in VALID_BODIES]
)
def test_malformed_bodies_never_cause_a_server_error(client, method, path):
    seed(client)
    sent = 0
    for raw in GARBAGE_BODIES:
        response = client.request(
            method, path, content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code < 500, (raw[:80], response.text)
        sent += 1
    for body in _mutations(VALID_BODIES[(method, path)]):
        response = client.request(method, path, json=body)
        assert response.status_code < 500, (body, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith(PROBLEM), response.text
        sent += 1
    assert sent > 30


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/customers?q=%00",
        "/api/v1/customers?q=%25_%5C",
        "/api/v1/customers?phone=not-a-phone",
        "/api/v1/customers?type=alien",
        "/api/v1/customers?id_number=%00",
        "/api/v1/loans?disbursed_from=2024-02-30",
        "/api/v1/loans?status=sleeping",
        "/api/v1/loans?sort=-",
        "/api/v1/loans?sort=,,,",
        "/api/v1/loans?sort=principal;DROP",
        "/api/v1/loans?customer_ref=%00",
        "/api/v1/payments?value_date_to=yesterday",
        "/api/v1/payments?loan_ref=" + "x" * 65,
        "/api/v1/loans/%00",
        "/api/v1/customers/C1/contact-points/99999999999999999999999",
    ],
)
def test_malformed_queries_never_cause_a_server_error(client, query):
    seed(client)
    response = (
        client.get(query)
        if "contact-points" not in query
        else client.patch(query, json={"version": 1})
    )
    assert response.status_code < 500, response.text
