"""Every write leaves an audit entry naming who did it: user edits one per row, bulk work
(imports, the daily run, exports) one per job, derived rows none."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from arrears.auth import audit
from arrears.auth.models import AuditEntry
from arrears.cli import app as cli_app
from arrears.kit.db import unit_of_work
from arrears.loans.cli_io import export_app
from tests.loans.test_imports import EXAMPLES, import_examples, load_example_products

API = "/api/v1"
RESIDENT_ID = "11010519491231002X"


def entries(**where: Any) -> list[AuditEntry]:
    with unit_of_work() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for name, value in where.items():
            query = query.where(getattr(AuditEntry, name) == value)
        return list(session.scalars(query))


def actions() -> Counter[str]:
    return Counter(entry.action for entry in entries())


def chain_intact() -> bool:
    with unit_of_work() as session:
        return audit.verify(db_session=session).ok


@pytest.fixture
def book(auth_client: TestClient) -> TestClient:
    """A product, a customer with a phone, a loan of 12 installments, through the API."""
    http = auth_client
    assert http.put(f"{API}/products/CASH", json={"code": "CASH", "name": "现金贷"}).status_code
    customer = {
        "customer_ref": "C1",
        "name": "张三",
        "id_number": RESIDENT_ID,
        "contact_points": [{"kind": "phone", "value": "13800138000"}],
    }
    assert http.post(f"{API}/customers", json=customer).status_code == 201
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
    assert http.post(f"{API}/loans", json=loan).status_code == 201
    return http


def test_api_writes_are_recorded_with_the_signed_in_user(book):
    payment = {"payment_ref": "P1", "loan_ref": "L1", "value_date": "2024-02-01", "amount": "50"}
    assert book.post(f"{API}/payments", json=payment).status_code == 201
    assert book.post(f"{API}/payments/P1/reverse", json={"reason": "bounced"}).status_code == 200
    charge = {"installment_number": 1, "kind": "fee", "charged_on": "2024-02-10", "amount": "5"}
    assert book.post(f"{API}/loans/L1/charges", json=charge).status_code == 201
    hold = {"start_on": "2024-02-01", "reason": "dispute"}
    assert book.post(f"{API}/loans/L1/holds", json=hold).status_code == 201
    assert book.patch(f"{API}/customers/C1", json={"version": 1, "city": "上海"}).status_code == 200
    counted = actions()
    for action in (
        "product.create",
        "customer.create",
        "contact_point.create",
        "loan.create",
        "payment.create",
        "payment.update",
        "charge.create",
        "hold.create",
        "customer.update",
    ):
        assert counted[action] == 1, (action, counted)
    # (the test's own user was made before any request, by the system)
    writes = [e for e in entries() if e.entity_type != "user"]
    assert {(e.actor, e.actor_role) for e in writes} == {("test.admin", "admin")}
    assert all(e.ip for e in writes)
    # derived rows (installments, allocations, states) are not audited one by one
    assert not [a for a in counted if a.split(".")[0] in ("installment", "allocation")]
    assert chain_intact()


def test_personal_data_stays_out_of_the_trail(book):
    [customer] = entries(action="customer.create")
    assert customer.after["id_number"] == "[redacted]"
    assert customer.after["id_number_index"] == "[redacted]"
    assert customer.after["name"] == "张三"
    [point] = entries(action="contact_point.create")
    assert point.after["value"] == "[redacted]" and point.after["kind"] == "phone"
    assert RESIDENT_ID not in str([e.after for e in entries()])
    assert "13800138000" not in str([e.after for e in entries()])


def test_a_payment_reversal_records_before_and_after(book):
    payment = {"payment_ref": "P1", "loan_ref": "L1", "value_date": "2024-02-01", "amount": "50"}
    book.post(f"{API}/payments", json=payment)
    book.post(f"{API}/payments/P1/reverse", json={"reason": "bounced"})
    [reversal] = entries(action="payment.update")
    assert reversal.before["status"] == "posted" and reversal.after["status"] == "reversed"
    assert reversal.after["reversal_reason"] == "bounced"


def test_an_import_is_one_entry_however_many_rows(engine):
    with unit_of_work() as session:
        load_example_products(session)
    before = actions()
    with unit_of_work() as session:
        import_examples(session, "customers", "loans")
    counted = actions() - before
    assert counted["import.customers"] == 1 and counted["import.loans"] == 1
    assert counted["customer.create"] == 0 and counted["loan.create"] == 0
    [entry] = entries(action="import.customers")
    assert entry.after["file_name"] == "customers.csv" and entry.after["inserted"] == 4
    assert chain_intact()


def wait_for(client: TestClient, run_id: int) -> dict[str, Any]:
    for _ in range(200):
        body = client.get(f"{API}/eod-runs/{run_id}").json()
        if body["status"] != "running":
            return body
        time.sleep(0.05)
    raise AssertionError("the run did not finish")


def test_an_end_of_day_run_records_one_entry_per_date_in_the_callers_name(book):
    response = book.post(f"{API}/eod-runs", json={"business_date": "2024-03-02"})
    assert response.status_code == 202, response.text
    run = wait_for(book, response.json()["id"])
    assert run["status"] == "completed" and run["requested_by"] == "test.admin"
    again = book.post(f"{API}/eod-runs", json={"business_date": "2024-03-04"})
    wait_for(book, again.json()["id"])
    runs = entries(action="eod.run")
    assert [e.after["business_date"] for e in runs] == ["2024-03-02", "2024-03-03", "2024-03-04"]
    assert {(e.actor, e.actor_role, e.entity_id) for e in runs[1:]} == {
        ("test.admin", "admin", str(again.json()["id"]))
    }
    assert set(runs[0].after) == {"business_date", "loans", "evaluated", "events", "requested_by"}
    assert chain_intact()


def test_cli_commands_are_recorded_in_the_operators_name(engine):
    result = CliRunner().invoke(cli_app, ["product", "load", str(EXAMPLES / "products.yaml")])
    assert result.exit_code == 0, result.output
    loaded = entries(action="product.create")
    assert loaded and {(e.actor[:4], e.actor_role) for e in loaded} == {("cli:", "admin")}
    result = CliRunner().invoke(cli_app, ["eod", "--date", "2024-03-01", "--json"])
    assert result.exit_code == 0, result.output
    [run] = entries(action="eod.run")
    assert run.actor.startswith("cli:")
    # the CLI's actor ends with the command
    with unit_of_work() as session:
        audit.record(db_session=session, action="test.after_cli")
    assert entries(action="test.after_cli")[0].actor == "system"


# --- exports ----------------------------------------------------------------------------


@pytest.fixture
def customers_book(engine: Any) -> None:
    with unit_of_work() as session:
        load_example_products(session)
        import_examples(session, "customers")


@pytest.mark.usefixtures("customers_book")
def test_an_api_export_is_masked_and_audited(auth_client):
    response = auth_client.get(f"{API}/exports/customers")
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert "110105********002X" in text and RESIDENT_ID not in text
    assert "138****8000" in text and "+8613800138000" not in text
    [entry] = entries(action="export.customers")
    assert entry.after["revealed"] is False and entry.actor == "test.admin"


@pytest.mark.usefixtures("customers_book")
def test_an_api_export_is_revealed_only_on_request_with_a_reason(auth_client, sign_in):
    url = f"{API}/exports/customers"
    assert auth_client.get(url, params={"reveal": "true"}).status_code == 422
    revealed = auth_client.get(url, params={"reveal": "true", "reason": "migration to branch"})
    assert revealed.status_code == 200
    assert RESIDENT_ID in revealed.content.decode("utf-8-sig")
    [entry] = entries(action="export.customers")
    assert entry.after["revealed"] is True and entry.reason == "migration to branch"
    analyst = sign_in("test.analyst", "analyst")
    refused = auth_client.get(url, params={"reveal": "true", "reason": "curious"}, headers=analyst)
    assert refused.status_code == 403 and refused.json()["required"] == "customers:reveal"
    masked = auth_client.get(url, headers=analyst)
    assert masked.status_code == 200 and RESIDENT_ID not in masked.content.decode("utf-8-sig")


@pytest.mark.usefixtures("customers_book")
def test_a_cli_export_is_masked_unless_revealed_with_a_reason(tmp_path: Path):
    runner = CliRunner()
    target = tmp_path / "customers.csv"
    assert runner.invoke(export_app, ["customers", "-o", str(target)]).exit_code == 0
    assert RESIDENT_ID not in target.read_text(encoding="utf-8-sig")
    refused = runner.invoke(export_app, ["customers", "-o", str(target), "--reveal"])
    assert refused.exit_code != 0 and "--reason" in refused.output
    revealed = runner.invoke(
        export_app, ["customers", "-o", str(target), "--reveal", "--reason", "year-end copy"]
    )
    assert revealed.exit_code == 0, revealed.output
    assert RESIDENT_ID in target.read_text(encoding="utf-8-sig")
    made = entries(action="export.customers")
    assert [(e.after["revealed"], e.reason) for e in made] == [
        (False, None),
        (True, "year-end copy"),
    ]
    assert made[1].after["rows"] == 4 and made[1].after["target"] == str(target)
