"""Import routes (upload a file, dry-run it, commit it), import history, and CSV exports."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from arrears.auth.deps import ExportsRun, ImportsRun
from arrears.auth.errors import Forbidden
from arrears.auth.roles import Permission
from arrears.kit.db import unit_of_work
from arrears.kit.errors import ArrearsError, NotFound, ValidationFailed
from arrears.kit.http import DbSession, problem_responses
from arrears.kit.pagination import Page, PageQuery, SortOrder, paginate, sorting, where_given
from arrears.kit.settings import get_settings
from arrears.loans import exports
from arrears.loans.imports import run_import, run_view
from arrears.loans.models import ImportRun

router = APIRouter(tags=["imports"])

_COPY_BLOCK = 1 << 20


class ImportKind(StrEnum):
    CUSTOMERS = "customers"
    LOANS = "loans"
    INSTALLMENTS = "installments"
    PAYMENTS = "payments"


class FileTooLarge(ArrearsError):
    """An upload above the configured size limit."""

    status = 413
    code = "file_too_large"


class RowErrorOut(BaseModel):
    """One problem with one row of the file; rows are numbered as a spreadsheet shows them."""

    row: int = Field(description="Row number; the header is row 1.", examples=[7])
    column: str = Field(examples=["id_number"])
    value: str = Field(examples=["110105194912310021"])
    message: str = Field(
        examples=["'110105194912310021' is not a valid resident ID number (checksum)"]
    )
    code: str = Field(examples=["invalid_id_number"])


class ImportReportOut(BaseModel):
    """What an import found and did."""

    run_id: int | None = Field(description="The ImportRun recording this import.")
    kind: ImportKind
    file_name: str
    dry_run: bool
    skip_invalid: bool
    status: str = Field(
        description="committed (written), rejected (errors: nothing written) or checked "
        "(dry run: nothing written).",
        examples=["committed"],
    )
    rows_total: int
    rows_invalid: int
    inserted: int = Field(description="Rows inserted (on a dry run: that would be).")
    updated: int = Field(description="Rows that changed stored data (dry run: would).")
    unchanged: int
    errors_total: int
    errors: list[RowErrorOut] = Field(description="The first 10,000 errors.")
    warnings: list[str]


class ImportRunOut(BaseModel):
    """A recorded import."""

    id: int
    kind: str
    file_name: str
    dry_run: bool
    status: str
    rows_total: int
    rows_invalid: int
    inserted: int
    unchanged: int
    errors: list[RowErrorOut] = Field(description="The first 1,000 errors.")
    started_at: datetime
    finished_at: datetime | None


class ImportRunSummaryOut(BaseModel):
    """A recorded import in a list (without its errors)."""

    id: int
    kind: str
    file_name: str
    dry_run: bool
    status: str
    rows_total: int
    rows_invalid: int
    inserted: int
    unchanged: int
    started_at: datetime
    finished_at: datetime | None


RUN_SORT = sorting(
    {
        "started_at": ImportRun.started_at,
        "kind": ImportRun.kind,
        "status": ImportRun.status,
        "file_name": ImportRun.file_name,
    },
    default="-started_at",
    tiebreaker=ImportRun.id,
)


def _save_upload(upload: UploadFile, directory: Path) -> Path:
    """Copy the upload to a file in ``directory``, refusing more than the size limit."""
    limit = get_settings().max_upload_mb * 1024 * 1024
    target = directory / "upload"
    size = 0
    with target.open("wb") as out:
        while block := upload.file.read(_COPY_BLOCK):
            size += len(block)
            if size > limit:
                raise FileTooLarge(
                    f"the file is larger than the {get_settings().max_upload_mb} MiB the "
                    "server accepts; split it, or import it with the arrears command",
                    limit_mb=get_settings().max_upload_mb,
                )
            out.write(block)
    if size == 0:
        raise ValidationFailed("the uploaded file is empty", code="empty_file")
    return target


@router.post(
    "/imports/{kind}",
    response_model=ImportReportOut,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
)
def create_import(
    kind: ImportKind,
    db_session: DbSession,
    principal: ImportsRun,
    file: Annotated[UploadFile, File(description="A .csv (UTF-8 or GBK) or .xlsx file.")],
    dry_run: Annotated[
        bool, Query(description="Check every row, write nothing (the default).")
    ] = True,
    skip_invalid: Annotated[
        bool, Query(description="Import the valid rows even if some rows are invalid.")
    ] = False,
) -> dict[str, Any]:
    """Import a file of customers, loans, installments or payments.

    Rows with problems are listed in the report (``status`` tells what happened); a file
    that cannot be used at all (unreadable, missing columns) is a 422 problem. Formats:
    docs/import-format.md.
    """
    name = Path(file.filename or f"{kind.value}.csv").name
    with tempfile.TemporaryDirectory(prefix="arrears-import-") as directory:
        path = _save_upload(file, Path(directory))
        report = run_import(
            kind.value,
            path,
            db_session=db_session,
            dry_run=dry_run,
            skip_invalid=skip_invalid,
            file_name=name,
        )
    return report.to_dict()


@router.get(
    "/imports",
    response_model=Page[ImportRunSummaryOut],
    responses=problem_responses(401, 403, 422),
)
def list_imports(
    db_session: DbSession,
    principal: ImportsRun,
    page: PageQuery,
    order: Annotated[SortOrder, Depends(RUN_SORT)],
    kind: Annotated[ImportKind | None, Query(description="Only imports of this kind.")] = None,
    status: Annotated[
        str | None, Query(description="committed, rejected or checked.", max_length=16)
    ] = None,
) -> Page[ImportRunSummaryOut]:
    """Recorded imports, newest first; paginated and sortable."""
    query = where_given(
        select(ImportRun),
        {ImportRun.kind: kind.value if kind else None, ImportRun.status: status},
    )
    rows, total = paginate(db_session, query, page, order)
    return Page[ImportRunSummaryOut](
        items=[ImportRunSummaryOut(**_summary(run)) for run in rows],
        total=total,
        page=page.page,
        page_size=page.page_size,
    )


def _summary(run: ImportRun) -> dict[str, Any]:
    view = run_view(run)
    view.pop("errors")
    return view


@router.get(
    "/imports/{run_id}",
    response_model=ImportRunOut,
    responses=problem_responses(401, 403, 404),
)
def get_import(run_id: int, db_session: DbSession, principal: ImportsRun) -> dict[str, Any]:
    """One recorded import with its first 1,000 errors."""
    run = db_session.get(ImportRun, run_id)
    if run is None:
        raise NotFound(f"there is no import run {run_id}", code="import_run_not_found")
    return run_view(run)


@router.get(
    "/exports/{kind}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8 with BOM."},
        **problem_responses(401, 403, 404, 422),
    },
)
def export_csv(
    kind: ImportKind,
    db_session: DbSession,
    principal: ExportsRun,
    reveal: Annotated[
        bool,
        Query(description="Personal data in full (needs customers:reveal and a reason)."),
    ] = False,
    reason: Annotated[
        str | None, Query(max_length=500, description="Why the export is revealed.")
    ] = None,
) -> StreamingResponse:
    """The book's customers, loans, installments or payments as CSV, streamed.

    The columns are those of the import format, then state columns (paid, outstanding,
    status). ID numbers, phones, e-mail addresses and addresses are masked unless
    ``reveal=true``; only a revealed export can be imported into another arrears as it is.
    Every export is an audit entry.
    """
    if reveal and not principal.can(Permission.CUSTOMERS_REVEAL):
        raise Forbidden(
            f"Your role ({principal.role.value}) does not allow "
            f"{Permission.CUSTOMERS_REVEAL.value}: export without reveal.",
            required=Permission.CUSTOMERS_REVEAL.value,
        )
    if reveal and not (reason and reason.strip()):
        raise ValidationFailed("say why the export is revealed (reason)", code="reason_required")
    revealed = reveal and exports.holds_personal_data(kind.value)
    # in the request's transaction, committed before the file starts streaming
    exports.record_export(
        db_session=db_session,
        kind=kind.value,
        revealed=revealed,
        reason=reason.strip() if reveal and reason else None,
        target="api",
    )

    def chunks() -> Iterator[str]:
        with unit_of_work() as export_session:
            yield from exports.csv_chunks(kind.value, db_session=export_session, reveal=revealed)

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind.value}.csv"'},
    )


__all__ = ["ImportKind", "router"]
