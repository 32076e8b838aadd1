"""Exporting the book as CSV, and importing an export into another database."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from arrears.kit import db as kit_db
from arrears.kit.db import unit_of_work
from arrears.loans import exports
from arrears.loans.cli_io import export_app
from arrears.loans.imports import run_import
from tests.loans.test_imports import EXAMPLES, KINDS, import_examples, load_example_products

# State that legitimately differs between two databases holding the same book: timestamps,
# the schedule's source (an imported export marks every schedule imported), and charges,
# which the daily run derives as of the business date for the loans it has refreshed.
VOLATILE = {"created_at", "updated_at", "schedule_source"}
CHARGED = {"outstanding_charges", "outstanding_total"}


def exported(kind: str, db_session: Session, reveal: bool = True) -> list[dict[str, str]]:
    buffer = io.StringIO()
    exports.write_csv(kind, buffer, db_session=db_session, bom=False, reveal=reveal)
    buffer.seek(0)
    return list(csv.DictReader(buffer))


def comparable(kind: str, db_session: Session) -> list[dict[str, str]]:
    drop = VOLATILE | CHARGED if kind == "loans" else VOLATILE
    return [{k: v for k, v in row.items() if k not in drop} for row in exported(kind, db_session)]


@pytest.fixture
def example_book(db_session: Session) -> Session:
    load_example_products(db_session)
    import_examples(db_session)
    return db_session


def test_exports_start_with_a_bom_and_the_import_columns(example_book: Session) -> None:
    buffer = io.StringIO()
    written = exports.write_csv("loans", buffer, db_session=example_book)
    text = buffer.getvalue()
    assert written == 4
    assert text.startswith("\ufeffloan_ref,customer_ref,product_code,principal,annual_rate,")
    header = next(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert header[:8] == [
        "loan_ref", "customer_ref", "product_code", "principal", "annual_rate", "term_months",
        "disbursed_on", "first_due_on",
    ]  # fmt: skip


def test_the_installments_export_shows_paid_and_outstanding(example_book: Session) -> None:
    rows = [r for r in exported("installments", example_book) if r["loan_ref"] == "L-0001"]
    assert [(r["number"], r["due_on"], r["principal"]) for r in rows] == [
        ("1", "2023-01-31", "312.00"),
        ("2", "2023-03-02", "312.00"),
        ("3", "2023-04-01", "312.00"),
        ("4", "2023-05-01", "314.00"),
    ]
    assert [r["paid_principal"] for r in rows] == ["312.00", "200.00", "0.00", "0.00"]
    assert [r["outstanding_total"] for r in rows] == ["0.00", "112.00", "312.00", "314.00"]


def test_an_export_imported_into_a_fresh_database_holds_the_same_book(
    example_book: Session, tmp_path: Path, sqlite_template: Path
) -> None:
    files = {}
    for kind in KINDS:
        files[kind] = tmp_path / f"{kind}.csv"
        with files[kind].open("w", encoding="utf-8", newline="") as handle:
            # only a revealed export holds the ID numbers and phones in full
            exports.write_csv(kind, handle, db_session=example_book, reveal=True)
    fresh_path = tmp_path / "fresh.db"
    shutil.copy(sqlite_template, fresh_path)
    fresh_engine = kit_db.make_engine(f"sqlite:///{fresh_path}")
    fresh = sessionmaker(bind=fresh_engine, expire_on_commit=False)()
    try:
        load_example_products(fresh)
        for kind in KINDS:
            report = run_import(kind, files[kind], db_session=fresh)
            assert report.status == "committed", (kind, report.errors)
            assert report.rows_invalid == 0
        for kind in KINDS:
            assert comparable(kind, fresh) == comparable(kind, example_book), kind
    finally:
        fresh.close()
        fresh_engine.dispose()


def test_personal_data_is_masked_unless_revealed(example_book: Session) -> None:
    masked = exported("customers", example_book, reveal=False)[0]
    assert masked["id_number"] == "110105********002X"
    assert masked["phone"] == "138****8000"
    assert masked["name"] == "张三"
    revealed = exported("customers", example_book)[0]
    assert revealed["id_number"] == "11010519491231002X"


def test_csv_chunks_stream_the_same_text(example_book: Session) -> None:
    buffer = io.StringIO()
    exports.write_csv("payments", buffer, db_session=example_book)
    assert "".join(exports.csv_chunks("payments", db_session=example_book)) == buffer.getvalue()


def test_an_unknown_export_is_refused(example_book: Session) -> None:
    with pytest.raises(Exception, match="not an export"):
        exports.count_rows("sheep", db_session=example_book)


runner = CliRunner()


def test_the_export_command_writes_a_file_excel_can_read(engine: Any, tmp_path: Path) -> None:
    with unit_of_work() as db_session:
        load_example_products(db_session)
        import_examples(db_session, "customers")
    target = tmp_path / "customers.csv"
    result = runner.invoke(
        export_app, ["customers", "--output", str(target), "--reveal", "--reason", "migration"]
    )
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfcustomer_ref,")
    assert "张三" in data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["customer_ref"] for r in rows] == ["C-0001", "C-0002", "C-0003", "C-0004"]
    assert rows[2]["type"] == "business" and rows[2]["id_number"] == "91110000600037341L"
    assert rows[0]["phone"] == "+8613800138000"


def test_the_export_command_writes_to_stdout(engine: Any) -> None:
    with unit_of_work() as db_session:
        load_example_products(db_session)
        import_examples(db_session, "customers", "loans")
    result = runner.invoke(export_app, ["loans", "--no-bom"])
    assert result.exit_code == 0
    assert result.stdout.startswith("loan_ref,customer_ref,")
    assert "L-0004" in result.stdout
    assert EXAMPLES.exists()
