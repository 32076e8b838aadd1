"""Importing customers, loans, schedules and payments from files, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from arrears.customers.models import ContactPoint, Customer
from arrears.kit.db import unit_of_work
from arrears.kit.errors import ValidationFailed
from arrears.kit.settings import Settings
from arrears.ledger.models import Allocation, Payment
from arrears.loans import imports, products
from arrears.loans import service as loans
from arrears.loans.cli_io import import_app
from arrears.loans.imports import run_import
from arrears.loans.models import ImportRun, Installment, Loan
from arrears.loans.schedule import Method, generate

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
KINDS = ("customers", "loans", "installments", "payments")
TABLES = (Customer, ContactPoint, Loan, Installment, Payment, Allocation)

CUSTOMER_HEADER = (
    "customer_ref", "type", "name", "id_number", "phone", "email", "address", "city",
    "province",
)  # fmt: skip
LOAN_HEADER = (
    "loan_ref", "customer_ref", "product_code", "principal", "annual_rate", "term_months",
    "disbursed_on", "first_due_on",
)  # fmt: skip
INSTALLMENT_HEADER = ("loan_ref", "number", "due_on", "principal", "interest", "fee")
PAYMENT_HEADER = ("payment_ref", "loan_ref", "paid_on", "amount", "channel")


def write_csv(
    path: Path, header: tuple[str, ...], rows: list[tuple[Any, ...]], encoding: str = "utf-8"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)
    return path


def load_example_products(db_session: Session) -> None:
    for spec in products.read_product_file(EXAMPLES / "products.yaml"):
        products.upsert(db_session=db_session, spec=spec)


def import_examples(db_session: Session, *kinds: str) -> dict[str, imports.ImportReport]:
    return {
        kind: run_import(kind, EXAMPLES / f"{kind}.csv", db_session=db_session)
        for kind in kinds or KINDS
    }


def counts(db_session: Session) -> dict[str, int]:
    return {
        model.__tablename__: db_session.scalar(select(func.count()).select_from(model))
        for model in TABLES
    }


def errors_of(report: imports.ImportReport) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.code) for e in report.errors]


def small_batches(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    monkeypatch.setattr(imports, "get_settings", lambda: Settings(import_batch_size=size))


@pytest.fixture
def book(db_session: Session) -> Session:
    """The example products and customers, loaded."""
    load_example_products(db_session)
    import_examples(db_session, "customers")
    return db_session


# --- the example files ----------------------------------------------------------------------


def test_the_example_files_import_cleanly_in_order(db_session: Session) -> None:
    load_example_products(db_session)
    reports = import_examples(db_session)
    for kind, report in reports.items():
        assert report.status == "committed", (kind, report.errors)
        assert report.rows_invalid == 0 and report.warnings == []
    assert reports["customers"].inserted == 4
    assert reports["loans"].inserted == 4
    assert reports["installments"].updated == 4
    assert reports["payments"].inserted == 4
    assert counts(db_session)["contact_points"] == 11


def test_the_worked_example_keeps_the_imported_schedule_and_allocates_payments_to_it(
    db_session: Session,
) -> None:
    load_example_products(db_session)
    import_examples(db_session)
    loan = loans.get_by_ref_or_raise(db_session=db_session, loan_ref="L-0001")
    assert loan.principal == 125_000 and loan.schedule_source == "imported"
    rows = loans.installments_of(db_session=db_session, loan_id=loan.id)
    assert [(r.number, r.due_on, r.principal, r.interest, r.fee) for r in rows] == [
        (1, date(2023, 1, 31), 31_200, 0, 0),
        (2, date(2023, 3, 2), 31_200, 0, 0),
        (3, date(2023, 4, 1), 31_200, 0, 0),
        (4, date(2023, 5, 1), 31_400, 0, 0),
    ]
    # P-0001 (312.00) pays installment 1, P-0002 (200.00) part of installment 2
    assert [r.paid_principal for r in rows] == [31_200, 20_000, 0, 0]


def test_importing_the_same_files_again_changes_nothing(db_session: Session) -> None:
    load_example_products(db_session)
    import_examples(db_session)
    before = counts(db_session)
    again = import_examples(db_session)
    for kind, report in again.items():
        assert report.status == "committed", kind
        assert (report.inserted, report.updated, report.rows_invalid) == (0, 0, 0), kind
        assert report.unchanged == report.rows_total == 4, kind
    assert counts(db_session) == before


# --- encodings and formats -----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_customers_in_utf8_bom_and_gbk_import_the_same(
    db_session: Session, tmp_path: Path, encoding: str
) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        CUSTOMER_HEADER,
        [
            (
                "C1",
                "个人",
                "张三",
                "11010519491231002X",
                "13800138000",
                "",
                "北京市西城区",
                "北京",
                "北京",
            )
        ],
        encoding=encoding,
    )
    report = run_import("customers", path, db_session=db_session)
    assert report.status == "committed" and report.inserted == 1
    customer = db_session.scalars(select(Customer)).one()
    assert (customer.name, customer.type, customer.city) == ("张三", "individual", "北京")
    points = db_session.scalars(select(ContactPoint).order_by(ContactPoint.kind)).all()
    assert [(p.kind, p.value, p.relation, p.status, p.is_primary) for p in points] == [
        ("address", "北京市西城区", "self", "valid", True),
        ("phone", "+8613800138000", "self", "valid", True),
    ]


def test_loans_from_an_xlsx_with_date_cells(book: Session, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(LOAN_HEADER))
    sheet.append(
        ["X1", "C-0001", "CONSUMER_IMPORTED", 1200, 12, 12, date(2024, 1, 1), date(2024, 2, 1)]
    )
    sheet.append(["X2", "C-0002", "CONSUMER_IMPORTED", 600.5, 4.9, 6.0, "2024/1/15", "2024-02-15"])
    path = tmp_path / "loans.xlsx"
    workbook.save(path)
    report = run_import("loans", path, db_session=book)
    assert report.status == "committed", report.errors
    x2 = loans.get_by_ref_or_raise(db_session=book, loan_ref="X2")
    assert (x2.principal, x2.term_months, x2.disbursed_on) == (60_050, 6, date(2024, 1, 15))
    assert len(loans.installments_of(db_session=book, loan_id=x2.id)) == 6


def test_a_file_missing_columns_is_refused_as_a_whole(book: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", ("loan_ref", "principal"), [("L9", "1")])
    with pytest.raises(ValidationFailed) as caught:
        run_import("loans", path, db_session=book)
    assert caught.value.code == "missing_columns"
    assert "customer_ref" in caught.value.details["missing"]


# --- errors, row numbers, all-or-nothing --------------------------------------------------------


def test_bad_customer_rows_are_reported_with_spreadsheet_row_numbers(
    db_session: Session, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        CUSTOMER_HEADER,
        [
            ("C1", "individual", "张三", "11010519491231002X", "13800138000", "", "", "", ""),
            ("C2", "individual", "李四", "110105194912310021", "13800138001", "", "", "", ""),
            ("C3", "individual", "王五", "", "12345", "", "", "", ""),
            ("C4", "企业", "某公司", "91110000600037341X", "", "not-an-email", "", "", ""),
            ("C 5", "robot", "", "", "", "", "", "", ""),
        ],
    )
    report = run_import("customers", path, db_session=db_session)
    assert report.status == "rejected"
    assert sorted(errors_of(report)) == [
        (3, "id_number", "invalid_id_number"),
        (4, "phone", "invalid_phone"),
        (5, "email", "invalid_email"),
        (5, "id_number", "invalid_registration_code"),
        (6, "customer_ref", "invalid_ref"),
        (6, "name", "invalid_name"),
        (6, "type", "invalid_type"),
    ]
    assert report.rows_invalid == 4 and report.rows_total == 5
    assert report.errors[0].value == "110105194912310021"
    assert "resident ID" in report.errors[0].message
    # nothing imported, the valid row included; the run itself is recorded
    assert counts(db_session)["customers"] == 0
    run = db_session.get(ImportRun, report.run_id)
    assert run is not None and run.status == "rejected" and run.rows_invalid == 4
    assert run.errors[0]["row"] == 3


def test_an_id_number_stdnum_trips_over_is_a_row_error_not_a_crash(
    db_session: Session, tmp_path: Path
) -> None:
    # python-stdnum raises KeyError for some region prefixes instead of a validation error
    row = ("C1", "individual", "张三", "439150198001011232", "", "", "", "", "")
    report = run_import(
        "customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [row]), db_session=db_session
    )
    assert errors_of(report) == [(2, "id_number", "invalid_id_number")]


def test_bad_loan_amounts_dates_and_decimals_are_row_errors(book: Session, tmp_path: Path) -> None:
    good = ("L1", "C-0001", "CONSUMER_IMPORTED", "1000.00", "4.9", "12", "2024-01-01", "2024-02-01")
    path = write_csv(
        tmp_path / "l.csv",
        LOAN_HEADER,
        [
            good,
            ("L2", "C-0001", "CONSUMER_IMPORTED", "abc", "4.9", "12", "2024-01-01", "2024-02-01"),
            (
                "L3",
                "C-0001",
                "CONSUMER_IMPORTED",
                "100.123",
                "4.9",
                "12",
                "2024-01-01",
                "2024-02-01",
            ),
            ("L4", "C-0001", "CONSUMER_IMPORTED", "100", "4.9", "12", "2024-13-01", "2024-02-01"),
            ("L5", "C-9999", "CONSUMER_IMPORTED", "100", "4.9", "12", "2024-01-01", "2024-02-01"),
            ("L6", "C-0001", "NO_SUCH", "100", "4.9", "12", "2024-01-01", "2024-02-01"),
            ("L7", "C-0001", "CONSUMER_IMPORTED", "100", "-1", "0", "2024-02-01", "2024-01-01"),
            ("L8", "C-0001", "CONSUMER_IMPORTED", "0", "4.9", "12", "01/02/2024", "2024-02-01"),
        ],
    )
    report = run_import("loans", path, db_session=book)
    assert report.status == "rejected"
    assert sorted(errors_of(report)) == [
        (3, "principal", "invalid_amount"),
        (4, "principal", "too_many_decimals"),
        (5, "disbursed_on", "invalid_date"),
        (6, "customer_ref", "customer_not_found"),
        (7, "product_code", "product_not_found"),
        (8, "annual_rate", "invalid_rate"),
        (8, "first_due_on", "invalid_first_due"),
        (8, "term_months", "out_of_range"),
        (9, "disbursed_on", "invalid_date"),
        (9, "principal", "invalid_amount"),
    ]
    decimals = next(e for e in report.errors if e.code == "too_many_decimals")
    assert "CNY" in decimals.message and decimals.value == "100.123"
    assert report.inserted == 0 and counts(book)["loans"] == 0


def test_skip_invalid_imports_the_valid_rows_and_reports_the_others(
    book: Session, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "l.csv",
        LOAN_HEADER,
        [
            (
                "L1",
                "C-0001",
                "CONSUMER_IMPORTED",
                "1000.00",
                "4.9",
                "12",
                "2024-01-01",
                "2024-02-01",
            ),
            ("L2", "C-0001", "CONSUMER_IMPORTED", "abc", "4.9", "12", "2024-01-01", "2024-02-01"),
            (
                "L3",
                "C-0002",
                "CONSUMER_IMPORTED",
                "2000.00",
                "4.9",
                "6",
                "2024-01-01",
                "2024-02-01",
            ),
        ],
    )
    report = run_import("loans", path, db_session=book, skip_invalid=True)
    assert report.status == "committed" and report.ok
    assert (report.inserted, report.rows_invalid) == (2, 1)
    assert errors_of(report) == [(3, "principal", "invalid_amount")]
    assert book.scalars(select(Loan.loan_ref).order_by(Loan.loan_ref)).all() == ["L1", "L3"]
    assert counts(book)["installments"] == 18


def test_a_dry_run_checks_everything_and_writes_nothing(book: Session, tmp_path: Path) -> None:
    before = counts(book)
    report = run_import("loans", EXAMPLES / "loans.csv", db_session=book, dry_run=True)
    assert report.status == "checked" and report.dry_run
    assert report.inserted == 4 and report.rows_invalid == 0  # what would be inserted
    assert counts(book) == before
    bad = write_csv(
        tmp_path / "l.csv",
        LOAN_HEADER,
        [("L1", "C-9999", "CONSUMER_IMPORTED", "1", "1", "1", "2024-01-01", "2024-02-01")],
    )
    checked = run_import("loans", bad, db_session=book, dry_run=True)
    assert checked.status == "checked" and not checked.ok
    assert errors_of(checked) == [(2, "customer_ref", "customer_not_found")]
    runs = book.scalars(select(ImportRun.status).where(ImportRun.kind == "loans")).all()
    assert runs == ["checked", "checked"]


def test_duplicate_refs_in_one_file_are_errors(book: Session, tmp_path: Path) -> None:
    loan = ("L1", "C-0001", "CONSUMER_IMPORTED", "1000.00", "4.9", "12", "2024-01-01", "2024-02-01")
    path = write_csv(tmp_path / "l.csv", LOAN_HEADER, [loan, loan])
    report = run_import("loans", path, db_session=book)
    assert errors_of(report) == [(3, "loan_ref", "duplicate_ref")]
    assert report.status == "rejected" and counts(book)["loans"] == 0


def test_errors_after_the_first_chunk_still_import_nothing(
    book: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_batches(monkeypatch, 2)
    rows = [
        (f"L{n}", "C-0001", "CONSUMER_IMPORTED", "1000.00", "4.9", "12", "2024-01-01", "2024-02-01")
        for n in range(1, 8)
    ]
    rows[5] = (*rows[5][:3], "oops", *rows[5][4:])
    report = run_import("loans", write_csv(tmp_path / "l.csv", LOAN_HEADER, rows), db_session=book)
    assert report.status == "rejected"
    assert errors_of(report) == [(7, "principal", "invalid_amount")]
    assert counts(book)["loans"] == counts(book)["installments"] == 0


def test_a_known_loan_with_other_terms_is_an_error(book: Session, tmp_path: Path) -> None:
    import_examples(book, "loans")
    path = write_csv(
        tmp_path / "l.csv",
        LOAN_HEADER,
        [
            (
                "L-0001",
                "C-0001",
                "CONSUMER_IMPORTED",
                "1300.00",
                "0",
                "4",
                "2023-01-01",
                "2023-01-31",
            )
        ],
    )
    report = run_import("loans", path, db_session=book)
    assert errors_of(report) == [(2, "loan_ref", "loan_exists")]
    assert "L-0001 exists with other terms" in report.errors[0].message


# --- customers: updates ---------------------------------------------------------------------------


def test_a_changed_customer_row_updates_the_customer_and_keeps_the_old_phone(
    db_session: Session, tmp_path: Path
) -> None:
    row = [
        "C1",
        "individual",
        "张三",
        "11010519491231002X",
        "13800138000",
        "a@b.cn",
        "",
        "北京",
        "北京",
    ]
    run_import(
        "customers",
        write_csv(tmp_path / "c1.csv", CUSTOMER_HEADER, [tuple(row)]),
        db_session=db_session,
    )
    row[4], row[7] = "13900139000", "天津"
    report = run_import(
        "customers",
        write_csv(tmp_path / "c2.csv", CUSTOMER_HEADER, [tuple(row)]),
        db_session=db_session,
    )
    assert (report.updated, report.inserted, report.unchanged) == (1, 0, 0)
    customer = db_session.scalars(select(Customer)).one()
    db_session.refresh(customer)
    assert customer.city == "天津" and customer.version == 2
    phones = db_session.execute(
        select(ContactPoint.value, ContactPoint.is_primary)
        .where(ContactPoint.kind == "phone")
        .order_by(ContactPoint.id)
    ).all()
    assert [tuple(p) for p in phones] == [("+8613800138000", False), ("+8613900139000", True)]
    again = run_import(
        "customers",
        write_csv(tmp_path / "c3.csv", CUSTOMER_HEADER, [tuple(row)]),
        db_session=db_session,
    )
    assert again.unchanged == 1 and again.updated == 0


# --- schedules ----------------------------------------------------------------------------------


def test_an_imported_schedule_whose_principal_does_not_add_up_is_refused(
    book: Session, tmp_path: Path
) -> None:
    import_examples(book, "loans")
    path = write_csv(
        tmp_path / "i.csv",
        INSTALLMENT_HEADER,
        [
            ("L-0001", "1", "2023-01-31", "312.00", "0", "0"),
            ("L-0001", "2", "2023-03-02", "312.00", "0", "0"),
            ("L-0001", "3", "2023-04-01", "312.00", "0", "0"),
            ("L-0001", "4", "2023-05-01", "313.00", "0", "0"),
        ],
    )
    report = run_import("installments", path, db_session=book)
    assert report.status == "rejected" and report.rows_invalid == 4
    assert errors_of(report) == [(2, "principal", "principal_mismatch")]
    assert "rows 2–5" in report.errors[0].message
    loan = loans.get_by_ref_or_raise(db_session=book, loan_ref="L-0001")
    assert loan.schedule_source == "generated"


def test_schedule_rows_are_checked_per_loan_across_chunks(
    book: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_batches(monkeypatch, 3)
    import_examples(book, "loans")
    rows = [
        ("L-0001", "1", "2023-01-31", "312.00", "0", "0"),
        ("L-0001", "2", "2023-03-02", "312.00", "0", "0"),
        ("L-0001", "3", "2023-04-01", "312.00", "0", "0"),
        ("L-0001", "4", "2023-05-01", "314.00", "0", "0"),
        ("L-0004", "1", "2023-07-10", "4000.00", "50.00", ""),
        ("L-0004", "1", "2023-08-10", "4000.00", "50.00", ""),
        ("L-0009", "1", "2023-08-10", "1.00", "0", "0"),
        ("L-0001", "5", "2023-06-01", "0", "0", "0"),
    ]
    report = run_import(
        "installments",
        write_csv(tmp_path / "i.csv", INSTALLMENT_HEADER, rows),
        db_session=book,
        skip_invalid=True,
    )
    assert errors_of(report) == [
        (7, "number", "duplicate_ref"),
        (8, "loan_ref", "loan_not_found"),
        (9, "loan_ref", "loan_rows_not_together"),
    ]
    assert report.rows_invalid == 4 and report.updated == 4
    worked = loans.get_by_ref_or_raise(db_session=book, loan_ref="L-0001")
    assert worked.schedule_source == "imported"
    assert len(loans.installments_of(db_session=book, loan_id=worked.id)) == 4


# --- payments ---------------------------------------------------------------------------------


def test_payments_are_idempotent_and_rederive_the_allocation(book: Session, tmp_path: Path) -> None:
    import_examples(book, "loans", "installments")
    path = write_csv(
        tmp_path / "p.csv",
        PAYMENT_HEADER,
        [
            ("P1", "L-0001", "2023-01-31", "400.00", "alipay"),
            ("P2", "L-0001", "2023-02-15", "100", ""),
        ],
    )
    first = run_import("payments", path, db_session=book)
    assert first.status == "committed" and first.inserted == 2
    loan = loans.get_by_ref_or_raise(db_session=book, loan_ref="L-0001")
    book.expire_all()
    paid = [i.paid_principal for i in loans.installments_of(db_session=book, loan_id=loan.id)]
    assert paid == [31_200, 18_800, 0, 0]
    again = run_import("payments", path, db_session=book)
    assert (again.inserted, again.unchanged) == (0, 2)
    assert book.scalar(select(func.count()).select_from(Payment)) == 2
    reused = write_csv(
        tmp_path / "p2.csv", PAYMENT_HEADER, [("P1", "L-0001", "2023-01-31", "401.00", "alipay")]
    )
    report = run_import("payments", reused, db_session=book)
    assert errors_of(report) == [(2, "payment_ref", "payment_ref_reused")]


def test_bad_payment_rows(book: Session, tmp_path: Path) -> None:
    import_examples(book, "loans")
    path = write_csv(
        tmp_path / "p.csv",
        PAYMENT_HEADER,
        [
            ("P1", "L-0001", "2022-12-31", "10", ""),
            ("P2", "L-0001", "2023-02-01", "0", ""),
            ("P3", "L-0001", "2023-02-01", "10", "bitcoin"),
            ("P4", "L-NONE", "2023-02-01", "10", ""),
            ("P1", "L-0001", "2023-02-01", "10", ""),
        ],
    )
    report = run_import("payments", path, db_session=book)
    assert errors_of(report) == [
        (2, "paid_on", "value_date_before_disbursement"),
        (3, "amount", "invalid_amount"),
        (4, "channel", "invalid_channel"),
        (5, "loan_ref", "loan_not_found"),
        (6, "payment_ref", "duplicate_ref"),
    ]


# --- the command ------------------------------------------------------------------------------


runner = CliRunner()


def said(result: Any) -> str:
    """The command's output with Rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def cli_book(engine: Any) -> Any:
    """The example products and customers, committed (the command opens its own session)."""
    with unit_of_work() as db_session:
        load_example_products(db_session)
        import_examples(db_session, "customers")
    return engine


def loan_count() -> int:
    with unit_of_work() as db_session:
        return int(db_session.scalar(select(func.count()).select_from(Loan)) or 0)


def test_the_import_command_exits_zero_on_a_clean_file(cli_book: Any) -> None:
    result = runner.invoke(import_app, ["loans", str(EXAMPLES / "loans.csv")])
    assert result.exit_code == 0, result.output
    assert "4 inserted" in said(result)
    assert loan_count() == 4


def test_the_import_command_exits_non_zero_and_imports_nothing_on_errors(
    cli_book: Any, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "l.csv",
        LOAN_HEADER,
        [
            (
                "L1",
                "C-0001",
                "CONSUMER_IMPORTED",
                "1000.00",
                "4.9",
                "12",
                "2024-01-01",
                "2024-02-01",
            ),
            ("L2", "C-0001", "CONSUMER_IMPORTED", "abc", "4.9", "12", "2024-01-01", "2024-02-01"),
        ],
    )
    result = runner.invoke(import_app, ["loans", str(path)])
    assert result.exit_code == 1
    assert "invalid_amount" in said(result) and "rejected" in said(result)
    assert loan_count() == 0
    with unit_of_work() as db_session:
        assert db_session.scalars(select(ImportRun.status)).all()[-1] == "rejected"
    skipped = runner.invoke(import_app, ["loans", str(path), "--skip-invalid"])
    assert skipped.exit_code == 0, skipped.output
    assert loan_count() == 1


def test_the_import_command_dry_run_writes_nothing(cli_book: Any) -> None:
    result = runner.invoke(import_app, ["loans", str(EXAMPLES / "loans.csv"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "4 would be inserted" in said(result)
    assert loan_count() == 0


def test_the_import_command_refuses_a_file_missing_columns(cli_book: Any) -> None:
    result = runner.invoke(import_app, ["loans", str(EXAMPLES / "customers.csv")])
    assert result.exit_code == 1
    assert "missing_columns" in said(result)


def test_the_import_command_prints_json(cli_book: Any) -> None:
    result = runner.invoke(import_app, ["loans", str(EXAMPLES / "loans.csv"), "--json"])
    assert result.exit_code == 0
    assert '"status": "committed"' in said(result)


# --- large imports ------------------------------------------------------------------------------


def foreign_keys(db_session: Session) -> list[str]:
    if db_session.get_bind().dialect.name != "postgresql":
        return []
    return sorted(
        db_session.scalars(
            text(
                "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid IN "
                "('loans'::regclass, 'installments'::regclass, 'contact_points'::regclass)"
            )
        )
    )


def test_a_large_import_loads_in_bulk_with_the_same_result(
    db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "BULK_LOAD_ROWS", 1)
    small_batches(monkeypatch, 3)
    load_example_products(db_session)
    keys = foreign_keys(db_session)
    reports = import_examples(db_session, "customers", "loans")
    assert [r.status for r in reports.values()] == ["committed", "committed"]
    assert counts(db_session)["contact_points"] == 11
    for loan in db_session.scalars(select(Loan)):
        stored = [
            (i.number, i.due_on, i.principal, i.interest, i.fee, i.paid_principal)
            for i in loans.installments_of(db_session=db_session, loan_id=loan.id)
        ]
        expected = [
            (i.number, i.due_on, i.principal, i.interest, i.fee, 0)
            for i in generate(loans.loan_terms(loan)).installments
        ]
        assert stored == expected, loan.loan_ref
    assert foreign_keys(db_session) == keys


def test_a_rejected_large_import_leaves_nothing_behind(
    book: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "BULK_LOAD_ROWS", 1)
    small_batches(monkeypatch, 2)
    keys = foreign_keys(book)
    rows = [
        (f"L{n}", "C-0001", "CONSUMER_IMPORTED", "1000.00", "4.9", "12", "2024-01-01", "2024-02-01")
        for n in range(1, 6)
    ]
    rows.append(("L9", "C-0001", "CONSUMER_IMPORTED", "x", "4.9", "12", "2024-01-01", "2024-02-01"))
    report = run_import("loans", write_csv(tmp_path / "l.csv", LOAN_HEADER, rows), db_session=book)
    assert report.status == "rejected"
    assert counts(book)["loans"] == counts(book)["installments"] == 0
    assert foreign_keys(book) == keys
    ok = run_import("loans", write_csv(tmp_path / "ok.csv", LOAN_HEADER, rows[:5]), db_session=book)
    assert ok.status == "committed" and counts(book)["installments"] == 60


def test_the_schedule_helper_process_generates_what_generate_does() -> None:
    from arrears.loans.imports_workers import ScheduleWorker, installment_copy_rows

    terms = loans.LoanTerms(
        principal=125_000,
        annual_rate=Decimal("4.9"),
        months=3,
        method=Method.ANNUITY,
        first_due_on=date(2024, 2, 1),
        disbursed_on=date(2024, 1, 1),
    )
    worker = ScheduleWorker()
    try:
        tasks = worker.submit_loans([(7, terms)] * 5)
        answers = list(worker.results(tasks))
    finally:
        worker.close()
    assert answers == [installment_copy_rows([(7, terms)] * 5)]
    # per row: field count, 9 lengths, 7 int8 and 2 four-byte values
    assert len(answers[0]) == 5 * 3 * (2 + 9 * 4 + 7 * 8 + 2 * 4)


# foreign keys are dropped and re-created around a large load on PostgreSQL only
@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_large_import_does_not_wait_for_tables_someone_is_reading(
    book: Session, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arrears.loans import imports_common

    book.commit()  # the reader must see the customers
    monkeypatch.setattr(imports, "BULK_LOAD_ROWS", 1)
    monkeypatch.setattr(imports_common, "LOCK_WAIT", "200ms")
    keys = foreign_keys(book)
    with engine.connect() as reader:
        reader.execute(text("LOCK TABLE loans IN ACCESS SHARE MODE"))
        report = run_import("loans", EXAMPLES / "loans.csv", db_session=book)
        reader.rollback()
    assert report.status == "committed" and report.inserted == 4
    assert foreign_keys(book) == keys


def test_a_large_import_generates_schedules_itself_when_the_helper_cannot_run(
    book: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arrears.loans import imports_loans
    from arrears.loans.imports_workers import WorkerFailed

    def broken() -> None:
        raise WorkerFailed("no helper here")

    monkeypatch.setattr(imports, "BULK_LOAD_ROWS", 1)
    monkeypatch.setattr(imports_loans, "ScheduleWorker", broken)
    report = run_import("loans", EXAMPLES / "loans.csv", db_session=book)
    assert report.status == "committed"
    assert counts(book)["installments"] == 4 + 12 + 12 + 6


def test_new_and_changed_customers_in_one_file(db_session: Session, tmp_path: Path) -> None:
    import_examples(db_session, "customers")
    rows = [
        ("C-0001", "individual", "张三", "11010519491231002X", "13800138000", "", "", "上海", ""),
        ("C-0009", "individual", "赵六", "420106198707071215", "13700137000", "", "", "", ""),
    ]
    report = run_import(
        "customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, rows), db_session=db_session
    )
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 0)
    rows = db_session.execute(select(Customer.customer_ref, Customer.city))
    cities = {ref: city for ref, city in rows}
    assert cities["C-0001"] == "上海" and cities["C-0009"] is None
    assert counts(db_session)["contact_points"] == 12
