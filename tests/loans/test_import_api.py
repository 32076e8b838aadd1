"""The import routes: upload, dry run, commit, history, and CSV export."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from arrears.app import create_app
from arrears.kit.db import unit_of_work
from arrears.kit.settings import Settings
from arrears.loans import imports_api
from arrears.loans.models import ImportRun, Loan
from tests.factories import bearer_token
from tests.loans.test_imports import EXAMPLES, import_examples, load_example_products

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

API = "/api/v1"


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with unit_of_work() as db_session:
        load_example_products(db_session)
        import_examples(db_session, "customers")
    headers = {"Authorization": f"Bearer {bearer_token(engine, 'test.admin')}"}
    with TestClient(create_app(), raise_server_exceptions=False, headers=headers) as test_client:
        yield test_client


def upload(path: Path, name: str | None = None) -> dict[str, Any]:
    return {"file": (name or path.name, path.read_bytes(), "text/csv")}


def loan_count() -> int:
    with unit_of_work() as db_session:
        return int(db_session.scalar(select(func.count()).select_from(Loan)) or 0)


def test_an_upload_is_a_dry_run_unless_asked_otherwise(client: TestClient) -> None:
    response = client.post(f"{API}/imports/loans", files=upload(EXAMPLES / "loans.csv"))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "checked" and report["dry_run"] is True
    assert report["inserted"] == 4 and report["errors"] == []
    assert loan_count() == 0


def test_an_upload_with_dry_run_false_imports_and_is_listed(client: TestClient) -> None:
    response = client.post(
        f"{API}/imports/loans", params={"dry_run": "false"}, files=upload(EXAMPLES / "loans.csv")
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "committed" and report["inserted"] == 4
    assert loan_count() == 4
    listing = client.get(f"{API}/imports", params={"kind": "loans"}).json()
    assert listing["total"] == 1
    assert listing["items"][0]["id"] == report["run_id"]
    assert listing["items"][0]["file_name"] == "loans.csv"
    shown = client.get(f"{API}/imports/{report['run_id']}").json()
    assert shown["status"] == "committed" and shown["inserted"] == 4 and shown["errors"] == []


def test_row_errors_come_back_in_the_report_and_the_run_is_recorded(
    client: TestClient, tmp_path: Path
) -> None:
    path = tmp_path / "loans.csv"
    path.write_text(
        "loan_ref,customer_ref,product_code,principal,annual_rate,term_months,disbursed_on,"
        "first_due_on\nL1,C-0001,CONSUMER_IMPORTED,12.345,4.9,12,2024-01-01,2024-02-01\n",
        encoding="utf-8",
    )
    response = client.post(f"{API}/imports/loans?dry_run=false", files=upload(path))
    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "rejected"
    assert report["errors"] == [
        {
            "row": 2,
            "column": "principal",
            "value": "12.345",
            "message": "principal 12.345 has more decimals than CNY allows (2).",
            "code": "too_many_decimals",
        }
    ]
    assert loan_count() == 0
    with unit_of_work() as db_session:
        run = db_session.scalars(select(ImportRun).where(ImportRun.kind == "loans")).one()
        assert run.status == "rejected" and run.errors[0]["code"] == "too_many_decimals"


def test_a_file_missing_columns_is_a_problem(client: TestClient) -> None:
    response = client.post(
        f"{API}/imports/loans", files=upload(EXAMPLES / "customers.csv", "借据.csv")
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "missing_columns"
    assert "loan_ref" in problem["missing"]
    assert problem["detail"].startswith("借据.csv lacks required columns")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "unsupported_format"),
        (b"PK\x03\x04garbage", "unreadable_file"),
        (b"", "empty_file"),
    ],
)
def test_a_file_that_is_not_a_table_is_a_problem_not_a_crash(
    client: TestClient, data: bytes, code: str
) -> None:
    response = client.post(
        f"{API}/imports/customers", files={"file": ("x.xlsx", data, "application/octet-stream")}
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code


def test_an_unknown_kind_is_refused(client: TestClient) -> None:
    response = client.post(f"{API}/imports/sheep", files=upload(EXAMPLES / "loans.csv"))
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


def test_an_upload_above_the_limit_is_refused(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports_api, "get_settings", lambda: Settings(max_upload_mb=0))
    response = client.post(f"{API}/imports/loans", files=upload(EXAMPLES / "loans.csv"))
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"


def test_an_unknown_import_run_is_not_found(client: TestClient) -> None:
    response = client.get(f"{API}/imports/999")
    assert response.status_code == 404
    assert response.json()["code"] == "import_run_not_found"


def test_exports_stream_csv_with_a_bom(client: TestClient) -> None:
    response = client.get(f"{API}/exports/customers")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbfcustomer_ref,type,name,")
    assert "深圳某某科技有限公司" in response.content.decode("utf-8-sig")
