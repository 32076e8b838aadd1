"""EOD runs and holds over HTTP."""

from __future__ import annotations

import time
from datetime import date

import pytest
from fastapi.testclient import TestClient

from arrears.delinquency import eod
from tests.delinquency.test_eod import worked_loan


@pytest.fixture
def client(auth_client: TestClient) -> TestClient:
    """The app, signed in as an administrator."""
    return auth_client


def wait_for(client, run_id):
    for _ in range(200):
        body = client.get(f"/api/v1/eod-runs/{run_id}").json()
        if body["status"] != "running":
            return body
        time.sleep(0.05)
    raise AssertionError("the run did not finish")


def test_start_a_run_and_follow_it_to_completion(client, db_session):
    worked_loan(db_session)
    response = client.post("/api/v1/eod-runs", json={"business_date": "2023-05-31"})
    assert response.status_code == 202
    run = wait_for(client, response.json()["id"])
    assert run["status"] == "completed" and run["completed_through"] == "2023-05-31"
    assert run["bucket_counts"] == {"B61+": 1}
    assert client.get("/api/v1/eod-runs").json()["items"][0]["id"] == run["id"]
    loan = client.get("/api/v1/loans/W1").json()
    assert loan["past_due_days"] == 120 and loan["bucket"] == "B61+"
    assert loan["overdue"]["total"] == "1250.00"


def test_a_run_while_another_holds_the_lock_is_409(client, engine):
    with eod.eod_lock(engine):
        response = client.post("/api/v1/eod-runs", json={"business_date": "2023-05-31"})
    assert response.status_code == 409
    assert response.json()["code"] == "eod_running"


def test_unknown_run_and_bad_dates_are_problems(client):
    assert client.get("/api/v1/eod-runs/999").json()["code"] == "eod_run_not_found"
    bad = client.post("/api/v1/eod-runs", json={"business_date": "yesterday"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(
        "application/problem+json"
    )
    future = client.post("/api/v1/eod-runs", json={"business_date": "2199-01-01"})
    assert future.status_code == 422 and future.json()["code"] == "eod_future_date"


def test_place_and_end_a_hold(client, db_session):
    worked_loan(db_session)
    client.post("/api/v1/eod-runs", json={"business_date": "2023-02-10"})
    time.sleep(0.01)
    created = client.post(
        "/api/v1/loans/W1/holds",
        json={"start_on": "2023-02-01", "reason": "breathing_space", "note": "debt advice"},
    )
    assert created.status_code == 201, created.text
    hold = created.json()
    assert hold["suspends_penalty"] and hold["end_on"] is None
    ended = client.post(f"/api/v1/loans/W1/holds/{hold['id']}/end", json={"on": "2023-02-05"})
    assert ended.status_code == 200 and ended.json()["end_on"] == "2023-02-05"
    assert client.get("/api/v1/loans/W1/holds").json()["items"][0]["end_on"] == "2023-02-05"


@pytest.mark.parametrize(
    "body",
    [
        {"start_on": "2023-02-01", "reason": "holiday"},
        {"start_on": "2023-02-10", "end_on": "2023-02-01", "reason": "dispute"},
        {"start_on": "2022-01-01", "reason": "dispute"},
        {"reason": "dispute"},
        {"start_on": "2023-02-01", "reason": "dispute", "extra": 1},
    ],
)
def test_bad_holds_are_refused_and_nothing_is_written(client, db_session, body):
    worked_loan(db_session)
    response = client.post("/api/v1/loans/W1/holds", json=body)
    assert response.status_code == 422
    assert response.json()["code"] in {
        "validation_failed",
        "invalid_hold_dates",
        "invalid_hold_reason",
    }
    assert client.get("/api/v1/loans/W1/holds").json()["items"] == []


def test_hold_on_unknown_loan_is_404(client):
    response = client.post(
        "/api/v1/loans/NOPE/holds", json={"start_on": "2023-02-01", "reason": "dispute"}
    )
    assert response.status_code == 404


def test_business_date_default_is_today(client, db_session, monkeypatch):
    worked_loan(db_session)
    monkeypatch.setattr("arrears.delinquency.api.today_in_portfolio", lambda: date(2023, 3, 1))
    run = wait_for(client, client.post("/api/v1/eod-runs", json={}).json()["id"])
    assert run["business_date"] == "2023-03-01"


def test_the_charges_listing_shows_the_open_span_as_accruing(client, db_session, engine):
    worked_loan(db_session, penalty_rate="18")
    eod.run_eod(engine, date(2023, 2, 10))
    eod.run_eod(engine, date(2023, 2, 11))
    (item,) = client.get("/api/v1/loans/W1/charges").json()["items"]
    assert item["accruing"] is True and item["id"] is None
    assert (item["installment_number"], item["kind"], item["charged_on"]) == (
        1,
        "penalty",
        "2023-02-11",
    )
    assert (item["amount"], item["paid"], item["outstanding"]) == ("1.72", "0.00", "1.72")
    assert item["description"] == "penalty accruing since 2023-01-31"
