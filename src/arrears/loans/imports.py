"""Importing the book from files: customers, loans, schedules and payments.

``run_import`` reads a CSV or XLSX file in chunks, checks every row (errors are collected
per row, as a spreadsheet numbers them), and writes the valid rows set-based. A file with
any invalid row imports nothing unless ``skip_invalid``; a dry run checks everything,
database look-ups included, and changes no business table. Importing the same file again
changes nothing. Every run is recorded as an ``ImportRun``.

The import runs in the caller's transaction and never commits. Business rows are written
inside a savepoint, so a rejected import rolls them back while its ``ImportRun`` stays.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arrears.auth import audit
from arrears.kit.db import refresh_statistics, utcnow
from arrears.kit.errors import Conflict, ValidationFailed
from arrears.kit.settings import get_settings
from arrears.kit.tabular import open_table
from arrears.loans.imports_common import (
    ImportContext,
    Importer,
    Progress,
    Row,
    RowError,
)
from arrears.loans.imports_customers import CustomersImporter
from arrears.loans.imports_loans import LoansImporter
from arrears.loans.imports_payments import PaymentsImporter
from arrears.loans.imports_schedules import InstallmentsImporter
from arrears.loans.models import ImportRun

IMPORTERS: dict[str, type[Importer]] = {
    "customers": CustomersImporter,
    "loans": LoansImporter,
    "installments": InstallmentsImporter,
    "payments": PaymentsImporter,
}
KINDS = tuple(IMPORTERS)
STORED_ERRORS = 1_000  # errors kept on the ImportRun row
# From this many rows on, a PostgreSQL import re-creates the written tables' foreign keys
# after loading instead of checking them row by row: several times faster, but the tables
# are locked until the import commits.
BULK_LOAD_ROWS = 200_000

COMMITTED, REJECTED, CHECKED = "committed", "rejected", "checked"


@dataclass
class ImportReport:
    """What an import found and did.

    ``inserted``/``updated`` count rows written; on a dry run they count what would be
    written, on a rejected import they are zero. ``rows_invalid`` counts rows not imported
    because of errors (every row of a refused schedule). ``errors`` lists at most the first
    10,000 errors; ``errors_total`` counts them all.
    """

    kind: str
    file_name: str
    dry_run: bool
    status: str  # committed | rejected | checked
    rows_total: int = 0
    rows_invalid: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors_total: int = 0
    run_id: int | None = None
    skip_invalid: bool = False

    @property
    def ok(self) -> bool:
        """Whether the file was free of errors (or its invalid rows were skipped on purpose)."""
        return self.status != REJECTED and (self.rows_invalid == 0 or self.skip_invalid)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "file_name": self.file_name,
            "dry_run": self.dry_run,
            "skip_invalid": self.skip_invalid,
            "status": self.status,
            "rows_total": self.rows_total,
            "rows_invalid": self.rows_invalid,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors_total": self.errors_total,
            "errors": [e.to_dict() for e in self.errors],
            "warnings": list(self.warnings),
        }


def columns_of(kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The required and optional columns of an import kind."""
    importer = _importer_class(kind)
    return importer.required, importer.optional


def _importer_class(kind: str) -> type[Importer]:
    try:
        return IMPORTERS[kind]
    except KeyError:
        raise ValidationFailed(
            f"'{kind}' is not an import kind; use one of {', '.join(KINDS)}",
            code="invalid_import_kind",
        ) from None


def _chunks(rows: Iterator[tuple[int, Row]], size: int) -> Iterator[list[tuple[int, Row]]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def _settle(ctx: ImportContext) -> None:
    """Let background work end before rolling back (its own error is secondary then)."""
    # the error being handled already says what went wrong
    with contextlib.suppress(BaseException):
        ctx.writer.wait()


def run_import(
    kind: str,
    path: Path,
    *,
    db_session: Session,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    file_name: str | None = None,
) -> ImportReport:
    """Import the ``kind`` rows of the file at ``path`` within the caller's transaction.

    Raises ``ValidationFailed`` when the file as a whole cannot be used (unreadable, empty,
    missing columns); problems with rows are reported, not raised. ``progress(stage, done,
    total)`` is called after each chunk (stage ``rows``) and while allocations are derived
    again (stage ``rederive``).
    """
    importer_class = _importer_class(kind)
    name = file_name or path.name
    settings = get_settings()
    with open_table(
        path, required=importer_class.required, optional=importer_class.optional, name=name
    ) as table:
        ctx = ImportContext(
            db_session=db_session,
            dry_run=dry_run,
            skip_invalid=skip_invalid,
            now=utcnow(),
            batch_size=settings.import_batch_size,
            progress=progress,
        )
        ctx.warnings.extend(table.warnings)
        run = ImportRun(
            kind=kind,
            file_name=name[:500],
            dry_run=dry_run,
            status="running",
            started_at=ctx.now,
            errors=[],
        )
        # written first, outside the savepoint: it survives a rejected import (and on
        # SQLite it opens the transaction the savepoint nests in)
        db_session.add(run)
        db_session.flush()
        savepoint = db_session.begin_nested()
        importer: Importer | None = None
        try:
            importer = importer_class(ctx, table.columns)
            dropped_keys: list[tuple[str, str, str]] = []
            ctx.bulk = (
                ctx.writer.postgres
                and not dry_run
                and (table.estimated_rows or 0) >= BULK_LOAD_ROWS
            )
            if ctx.bulk:
                dropped_keys = ctx.writer.drop_foreign_keys(importer.bulk_tables)
            ctx.report_progress("rows", 0, table.estimated_rows)
            for chunk in _chunks(table.rows(), ctx.batch_size):
                ctx.rows_total += len(chunk)
                # parsing needs no database: it overlaps the previous chunk's last COPY
                parsed = importer.parse(chunk)
                ctx.writer.wait()
                importer.apply(parsed)
                ctx.report_progress(
                    "rows", ctx.rows_total, max(table.estimated_rows or 0, ctx.rows_total)
                )
            ctx.writer.wait()
            importer.finish()
            ctx.writer.wait()
            if dropped_keys and ctx.writing:
                ctx.writer.restore_foreign_keys(dropped_keys)
            if ctx.bulk and ctx.writing:
                # planner statistics for the tables just filled, from the commit on
                refresh_statistics(db_session, [t.name for t in importer.bulk_tables])
        except (IntegrityError, psycopg.IntegrityError) as exc:
            _settle(ctx)
            savepoint.rollback()
            raise Conflict(
                "the import collided with another change to the same records (a duplicate "
                "reference or a missing related record); run it again",
                code="import_conflict",
            ) from exc
        except BaseException:
            _settle(ctx)
            savepoint.rollback()
            raise
        finally:
            if importer is not None:
                importer.close()
        if dry_run:
            status = CHECKED
            savepoint.rollback()
        elif ctx.errors_total and not skip_invalid:
            status = REJECTED
            savepoint.rollback()
            ctx.inserted = ctx.updated = 0
        else:
            status = COMMITTED
            savepoint.commit()
    # found chunk by chunk (a loan's schedule only once its rows are complete): show them
    # in file order
    ctx.errors.sort(key=lambda e: e.row)
    if ctx.errors_total > len(ctx.errors):
        ctx.warnings.append(
            f"only the first {len(ctx.errors):,} of {ctx.errors_total:,} errors are listed"
        )
    run.status = status
    run.rows_total = ctx.rows_total
    run.rows_invalid = ctx.rows_invalid
    run.inserted = ctx.inserted
    run.unchanged = ctx.unchanged
    run.errors = [e.to_dict() for e in ctx.errors[:STORED_ERRORS]]
    run.finished_at = utcnow()
    db_session.flush()
    if status == COMMITTED and (ctx.inserted or ctx.updated):
        # bulk writes bypass the per-row audit of ORM writes: the import is one entry
        audit.record(
            db_session=db_session,
            action=f"import.{kind}",
            entity_type="import_run",
            entity_id=run.id,
            after={
                "file_name": name,
                "rows_total": ctx.rows_total,
                "inserted": ctx.inserted,
                "updated": ctx.updated,
                "unchanged": ctx.unchanged,
                "rows_invalid": ctx.rows_invalid,
            },
        )
    return ImportReport(
        kind=kind,
        file_name=name,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        status=status,
        rows_total=ctx.rows_total,
        rows_invalid=ctx.rows_invalid,
        inserted=ctx.inserted,
        updated=ctx.updated,
        unchanged=ctx.unchanged,
        errors=ctx.errors,
        warnings=ctx.warnings,
        errors_total=ctx.errors_total,
        run_id=run.id,
    )


def run_view(run: ImportRun) -> dict[str, Any]:
    """An ``ImportRun`` as the API and the CLI show it."""
    return {
        "id": run.id,
        "kind": run.kind,
        "file_name": run.file_name,
        "dry_run": run.dry_run,
        "status": run.status,
        "rows_total": run.rows_total,
        "rows_invalid": run.rows_invalid,
        "inserted": run.inserted,
        "unchanged": run.unchanged,
        "errors": list(run.errors or []),
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


__all__ = [
    "CHECKED",
    "COMMITTED",
    "IMPORTERS",
    "KINDS",
    "REJECTED",
    "ImportReport",
    "RowError",
    "columns_of",
    "run_import",
    "run_view",
]
