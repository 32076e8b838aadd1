"""The dashboard's figures and the loan list, on a small portfolio whose figures are known.

Four loans of 1,200.00 at 0 % over 12 months (100.00 a month), product with grace 0:

- A1 (C1) disbursed 2024-01-01, pays every installment on its due date: always current;
- A2 (C1) disbursed 2024-03-01, first due 2024-04-01, never pays;
- A3 (C2) disbursed 2024-01-01, first due 2024-02-01, never pays;
- A4 (C2) disbursed 2024-05-01, first due 2024-06-01: nothing due yet.

Business date 2024-05-31: A2 is 60 days past due (M2, 关注), A3 120 (M4, 次级).
Month-end history is back-filled for March and April, plus a mid-April snapshot that the
trend must not pick.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from arrears.app import create_app
from arrears.auth.deps import current_principal
from arrears.auth.principal import Principal
from arrears.auth.roles import Role, permissions_of
from arrears.delinquency import eod
from arrears.ledger import service as ledger
from tests.factories import make_customer, make_loan, make_product

AS_OF = date(2024, 5, 31)
API = "/api/v1/analytics"


def build_portfolio(engine: Engine, db_session: Session) -> None:
    make_product(db_session, code="ZERO", grace_days=0)
    make_customer(db_session, "C1", name="张三")
    make_customer(db_session, "C2", name="李四", id_number="110105198001010016")
    common = {"product_code": "ZERO", "annual_rate": "0", "months": 12}
    make_loan(db_session, "A1", customer_ref="C1", **common)
    make_loan(
        db_session, "A2", customer_ref="C1", disbursed_on=date(2024, 3, 1),
        first_due_on=date(2024, 4, 1), **common,
    )  # fmt: skip
    make_loan(db_session, "A3", customer_ref="C2", **common)
    make_loan(
        db_session, "A4", customer_ref="C2", disbursed_on=date(2024, 5, 1),
        first_due_on=date(2024, 6, 1), **common,
    )  # fmt: skip
    for month in (2, 3, 4, 5):
        ledger.post_payment(
            db_session=db_session,
            payment=ledger.PaymentIn(f"P{month}", "A1", date(2024, month, 1), Decimal("100.00")),
        )
    db_session.commit()
    eod.run_eod(engine, AS_OF)
    for past in (date(2024, 3, 31), date(2024, 4, 15), date(2024, 4, 30)):
        eod.run_eod(engine, past, catch_up=False)


def as_role(role: Role) -> Principal:
    return Principal(user_id=1, username=f"test.{role.value}", role=role,
                     permissions=permissions_of(role))  # fmt: skip


@pytest.fixture
def client(engine: Engine, db_session: Session) -> Iterator[TestClient]:
    build_portfolio(engine, db_session)
    app = create_app()
    app.dependency_overrides[current_principal] = lambda: as_role(Role.ANALYST)
    with TestClient(app) as http:
        http.app_state = app  # type: ignore[attr-defined]
        yield http


def test_portfolio_summary_counts_overdue_by_count_and_balance(client: TestClient) -> None:
    body = client.get(f"{API}/portfolio").json()
    assert body["as_of"] == "2024-05-31" and body["currency"] == "CNY"
    assert body["loans"] == 4
    # A1 has repaid 400.00 of principal: 800 + 3 × 1,200
    assert body["outstanding_principal"] == "4400.00"
    assert body["m1_plus"] == {
        "loans": 2,
        "balance": "2400.00",
        "overdue_amount": "600.00",  # A2: April and May; A3: February to May
        "rate_by_count": "0.500000",
        "rate_by_balance": "0.545455",
    }
    assert body["m3_plus"] == {
        "loans": 1,
        "balance": "1200.00",
        "overdue_amount": "400.00",
        "rate_by_count": "0.250000",
        "rate_by_balance": "0.272727",
    }
    assert body["npl"] == {
        "loans": 1,
        "balance": "1200.00",
        "ratio_by_count": "0.250000",
        "ratio_by_balance": "0.272727",
    }


def test_bucket_distribution_is_in_bucket_order(client: TestClient) -> None:
    items = client.get(f"{API}/buckets").json()["items"]
    assert [
        (i["bucket"], i["loans"], i["outstanding_principal"], i["overdue_total"]) for i in items
    ] == [
        ("M0", 2, "2000.00", "0.00"),
        ("M2", 1, "1200.00", "200.00"),
        ("M4", 1, "1200.00", "400.00"),
    ]
    assert [i["share_by_count"] for i in items] == ["0.500000", "0.250000", "0.250000"]
    assert items[0]["share_by_balance"] == "0.454545"


def test_five_category_distribution_lists_all_five(client: TestClient) -> None:
    items = client.get(f"{API}/classification").json()["items"]
    assert [(i["category"], i["label"], i["loans"]) for i in items] == [
        ("normal", "正常", 2),
        ("special_mention", "关注", 1),
        ("substandard", "次级", 1),
        ("doubtful", "可疑", 0),
        ("loss", "损失", 0),
    ]
    assert items[2]["outstanding_principal"] == "1200.00"


def test_trend_takes_the_last_snapshot_of_each_month(client: TestClient) -> None:
    items = client.get(f"{API}/trend").json()["items"]
    assert [(i["month"], i["as_of"]) for i in items] == [
        ("2024-03", "2024-03-31"),
        ("2024-04", "2024-04-30"),
        ("2024-05", "2024-05-31"),
    ]
    march, april, may = items
    # March: A3 is 59 days past due (M2); A2 has nothing due; A4 not yet disbursed
    assert (march["loans"], march["outstanding_principal"]) == (3, "3400.00")
    assert (march["m1_loans"], march["m1_rate_by_balance"], march["m3_loans"]) == (1, "0.352941", 0)
    # April: A2 29 days (M1), A3 89 days (M3, still 关注)
    assert (april["loans"], april["outstanding_principal"]) == (3, "3300.00")
    assert (april["m1_loans"], april["m1_rate_by_count"]) == (2, "0.666667")
    assert (april["m3_loans"], april["m3_rate_by_balance"]) == (1, "0.363636")
    assert april["npl_ratio_by_count"] == "0.000000"
    assert (may["loans"], may["m1_loans"], may["m3_loans"], may["npl_ratio_by_balance"]) == (
        4, 2, 1, "0.272727",
    )  # fmt: skip


def test_run_status_names_the_latest_and_last_completed_runs(client: TestClient) -> None:
    body = client.get(f"{API}/run-status").json()
    assert body["business_date"] == "2024-05-31"
    assert body["latest"]["status"] == "completed"
    assert body["latest"]["business_date"] == "2024-04-30"  # the last back-fill
    assert body["last_completed"]["id"] == body["latest"]["id"]


def test_loan_list_filters_by_bucket_dpd_and_classification(client: TestClient) -> None:
    def refs(**params: object) -> list[str]:
        response = client.get(f"{API}/loans", params=params)
        assert response.status_code == 200, response.text
        return [item["loan_ref"] for item in response.json()["items"]]

    assert refs() == ["A1", "A2", "A3", "A4"]
    assert refs(bucket=["M2", "M4"]) == ["A2", "A3"]
    assert refs(bucket="M0") == ["A1", "A4"]
    assert refs(dpd_min=61) == ["A3"]
    assert refs(dpd_min=1, dpd_max=60) == ["A2"]
    assert refs(classification="substandard") == ["A3"]
    assert refs(classification=["normal", "special_mention"]) == ["A1", "A2", "A4"]
    assert refs(product_code="ZERO", customer_ref="C2") == ["A3", "A4"]
    assert refs(product_code="NONE") == []
    assert refs(sort="-past_due_days") == ["A3", "A2", "A1", "A4"]
    assert refs(sort="-overdue,loan_ref", page_size=2, page=2) == ["A1", "A4"]


def test_loan_list_rows_carry_the_state_and_the_borrower(client: TestClient) -> None:
    body = client.get(f"{API}/loans", params={"q": "A3"}).json()
    assert body["total"] == 1
    (row,) = body["items"]
    assert row["customer_ref"] == "C2" and row["customer_name"] == "李四"
    assert (row["past_due_days"], row["delinquent_days"], row["bucket"]) == (120, 120, "M4")
    assert (row["five_category"], row["five_category_label"]) == ("substandard", "次级")
    assert (row["overdue_total"], row["outstanding_total"]) == ("400.00", "1200.00")
    assert row["ifrs9_stage"] == 3 and row["non_performing"] is True


def test_an_unknown_sort_field_lists_the_allowed_ones(client: TestClient) -> None:
    response = client.get(f"{API}/loans", params={"sort": "name"})
    assert response.status_code == 422 and response.json()["code"] == "invalid_sort"
    assert "past_due_days" in response.json()["allowed"]


def test_loan_history_follows_past_due_days_over_time(client: TestClient) -> None:
    body = client.get(f"{API}/loans/A3/history").json()
    assert [(p["as_of"], p["past_due_days"], p["bucket"]) for p in body["items"]] == [
        ("2024-03-31", 59, "M2"),
        ("2024-04-15", 74, "M3"),
        ("2024-04-30", 89, "M3"),
        ("2024-05-31", 120, "M4"),
    ]
    assert body["items"][-1]["five_category"] == "substandard"
    assert body["items"][-1]["overdue_total"] == "400.00"
    since = client.get(f"{API}/loans/A3/history", params={"since": "2024-05-01"}).json()
    assert len(since["items"]) == 1
    missing = client.get(f"{API}/loans/NOPE/history")
    assert missing.status_code == 404 and missing.json()["code"] == "loan_not_found"


def test_case_scoped_roles_see_no_loans_outside_their_cases(client: TestClient) -> None:
    client.app_state.dependency_overrides[current_principal] = lambda: as_role(Role.COLLECTOR)  # type: ignore[attr-defined]
    assert client.get(f"{API}/loans").json()["total"] == 0
    assert client.get(f"{API}/loans/A3/history").status_code == 404


def test_the_dashboard_needs_analytics_read(client: TestClient) -> None:
    client.app_state.dependency_overrides[current_principal] = lambda: as_role(Role.AGENCY)  # type: ignore[attr-defined]
    response = client.get(f"{API}/portfolio")
    assert response.status_code == 403 and response.json()["required"] == "analytics:read"


def test_an_empty_book_has_zero_rates_not_errors(engine: Engine) -> None:
    app = create_app()
    app.dependency_overrides[current_principal] = lambda: as_role(Role.MANAGER)
    with TestClient(app) as http:
        body = http.get(f"{API}/portfolio").json()
        assert body["loans"] == 0 and body["m1_plus"]["rate_by_count"] == "0.000000"
        assert http.get(f"{API}/trend").json()["items"] == []
        assert http.get(f"{API}/run-status").json()["latest"] is None
