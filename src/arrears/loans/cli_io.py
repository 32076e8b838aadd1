"""``arrears import …`` and ``arrears export …``: the book in and out as files.

Registered by ``arrears.cli`` as ``app.add_typer(import_app, name="import")`` and
``app.add_typer(export_app, name="export")``.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from arrears.kit.db import unit_of_work
from arrears.kit.errors import ArrearsError
from arrears.loans import exports
from arrears.loans.imports import REJECTED, ImportReport, columns_of, run_import

SHOWN_ERRORS = 50

import_app = typer.Typer(
    help="Import customers, loans, schedules and payments from CSV or Excel (.xlsx) files.",
    no_args_is_help=True,
)
export_app = typer.Typer(
    help="Export customers, loans, installments and payments as CSV (UTF-8 with BOM).",
    no_args_is_help=True,
)

console = Console()
err_console = Console(stderr=True)

_STAGES = {"rows": "checking and writing rows", "rederive": "deriving allocations"}


@contextmanager
def _progress_bars() -> Iterator[Callable[[str, int, int | None], None]]:
    """A ``progress(stage, done, total)`` callback drawing one Rich bar per stage."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(_STAGES.get(stage, stage), total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield update


def _error_table(report: ImportReport) -> Table:
    table = Table(title=f"Row errors (first {min(SHOWN_ERRORS, len(report.errors))})")
    table.add_column("row", justify="right")
    table.add_column("column")
    table.add_column("value", overflow="fold", max_width=30)
    table.add_column("message", overflow="fold")
    table.add_column("code", style="dim")
    for error in report.errors[:SHOWN_ERRORS]:
        table.add_row(str(error.row), error.column, error.value, error.message, error.code)
    return table


def _print_report(report: ImportReport) -> None:
    if report.errors:
        err_console.print(_error_table(report))
        if report.errors_total > SHOWN_ERRORS:
            err_console.print(
                f"… and {report.errors_total - SHOWN_ERRORS:,} more errors "
                f"({report.errors_total:,} in all, in {report.rows_invalid:,} rows)."
            )
    for warning in report.warnings:
        err_console.print(f"[yellow]warning[/]: {warning}")
    verb = {
        "committed": "[green]imported[/]",
        "checked": "[cyan]checked (dry run, nothing written)[/]",
        "rejected": "[red]rejected: nothing imported[/]",
    }[report.status]
    would = " would be" if report.dry_run else ""
    skipped = " skipped" if report.skip_invalid and report.status != REJECTED else ""
    console.print(
        f"{report.kind} from {report.file_name}: {verb}. "
        f"{report.rows_total:,} rows: {report.inserted:,}{would} inserted, "
        f"{report.updated:,}{would} updated, {report.unchanged:,} unchanged, "
        f"{report.rows_invalid:,} invalid{skipped}."
        + (f" (import run {report.run_id})" if report.run_id else "")
    )
    if report.status == REJECTED:
        console.print(
            "Fix the rows above and import the file again, or pass --skip-invalid to import "
            "the valid rows and leave these out."
        )


def _import(kind: str, file: Path, dry_run: bool, skip_invalid: bool, as_json: bool) -> None:
    try:
        with _progress_bars() as progress, unit_of_work() as db_session:
            report = run_import(
                kind,
                file,
                db_session=db_session,
                dry_run=dry_run,
                skip_invalid=skip_invalid,
                progress=progress,
            )
    except ArrearsError as error:
        if as_json:
            sys.stdout.write(
                json.dumps(
                    {"code": error.code, "message": error.message, **error.details},
                    ensure_ascii=False,
                )
                + "\n"
            )
        err_console.print(f"[bold red]error[/] [dim]({error.code})[/]: {error.message}")
        raise typer.Exit(code=1) from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(code=1)


FileArg = Annotated[
    Path,
    typer.Argument(
        exists=True, dir_okay=False, readable=True, help="A .csv (UTF-8 or GBK) or .xlsx file."
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Check every row (database look-ups too); write nothing.")
]
SkipInvalid = Annotated[
    bool,
    typer.Option(
        "--skip-invalid",
        help="Import the valid rows and report the invalid ones (default: any error imports "
        "nothing).",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the import report as JSON.")]


def _columns_help(kind: str) -> str:
    required, optional = columns_of(kind)
    text = f"Columns: {', '.join(required)}"
    if optional:
        text += f" (optional: {', '.join(optional)})"
    return text + ". See docs/import-format.md."


def _import_command(kind: str, summary: str) -> Callable[..., Any]:
    def command(
        file: FileArg,
        dry_run: DryRun = False,
        skip_invalid: SkipInvalid = False,
        as_json: AsJson = False,
    ) -> None:
        _import(kind, file, dry_run, skip_invalid, as_json)

    command.__doc__ = f"{summary}\n\n{_columns_help(kind)}"
    command.__name__ = kind
    return command


import_app.command("customers")(
    _import_command(
        "customers", "Import customers; a known customer_ref with changed details is updated."
    )
)
import_app.command("loans")(
    _import_command("loans", "Import loans, each with the schedule its product generates.")
)
import_app.command("installments")(
    _import_command(
        "installments",
        "Import schedules from the core banking system; each loan's rows replace its schedule.",
    )
)
import_app.command("payments")(
    _import_command("payments", "Import payments (the same payment_ref again is the same payment).")
)


# --- export ----------------------------------------------------------------------------------


@contextmanager
def _output(target: Path | None) -> Iterator[TextIO]:
    if target is None or str(target) == "-":
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:
            yield sys.stdout
            return
        sys.stdout.flush()
        stream = io.TextIOWrapper(buffer, encoding="utf-8", newline="", write_through=False)
        try:
            yield stream
        finally:
            stream.flush()
            stream.detach()
        return
    try:
        handle = target.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        err_console.print(f"[bold red]error[/]: cannot write {target}: {exc}")
        raise typer.Exit(code=1) from None
    with handle:
        yield handle


def _export(
    kind: str, output: Path | None, bom: bool, reveal: bool = False, reason: str | None = None
) -> None:
    if reveal and not (reason and reason.strip()):
        raise typer.BadParameter("say why the export is revealed", param_hint="--reason")
    where = "stdout" if output is None or str(output) == "-" else str(output)
    try:
        with unit_of_work() as db_session:
            total = exports.count_rows(kind, db_session=db_session)
            with (
                Progress(
                    TextColumn(f"exporting {kind}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=err_console,
                    transient=True,
                ) as bars,
                _output(output) as stream,
            ):
                task = bars.add_task(kind, total=total)
                written = exports.write_csv(
                    kind,
                    stream,
                    db_session=db_session,
                    bom=bom,
                    progress=lambda done: bars.update(task, completed=done),
                    reveal=reveal,
                )
            exports.record_export(
                db_session=db_session,
                kind=kind,
                revealed=reveal,
                rows=written,
                reason=reason.strip() if reveal and reason else None,
                target=where,
            )
    except ArrearsError as error:
        err_console.print(f"[bold red]error[/] [dim]({error.code})[/]: {error.message}")
        raise typer.Exit(code=1) from None
    masked = " (personal data masked; --reveal to export it in full)"
    note = masked if exports.holds_personal_data(kind) and not reveal else ""
    err_console.print(f"exported {written:,} {kind} to {where}{note}")


OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", dir_okay=False, help="File to write (default: stdout)."),
]
BomOpt = Annotated[
    bool,
    typer.Option("--bom/--no-bom", help="Start with a UTF-8 byte-order mark (Excel needs it)."),
]


RevealOpt = Annotated[
    bool,
    typer.Option(
        "--reveal",
        help="Write ID numbers, phones, e-mails and addresses in full (audited; needs --reason). "
        "Only a revealed export can be imported again.",
    ),
]
ReasonOpt = Annotated[
    str | None, typer.Option("--reason", help="Why the export is revealed (audit trail).")
]


def _export_command(kind: str, summary: str) -> Callable[..., Any]:
    if exports.holds_personal_data(kind):

        def command(
            output: OutputOpt = None,
            bom: BomOpt = True,
            reveal: RevealOpt = False,
            reason: ReasonOpt = None,
        ) -> None:
            _export(kind, output, bom, reveal, reason)

    else:

        def command(output: OutputOpt = None, bom: BomOpt = True) -> None:  # type: ignore[misc]
            _export(kind, output, bom)

    columns = ", ".join(exports.get_export(kind).columns)
    command.__doc__ = f"{summary}\n\nColumns: {columns}."
    command.__name__ = kind
    return command


export_app.command("customers")(
    _export_command("customers", "Export customers with their primary phone, e-mail, address.")
)
export_app.command("loans")(
    _export_command("loans", "Export loans with what is still owed on each.")
)
export_app.command("installments")(
    _export_command("installments", "Export every installment with its paid and owed amounts.")
)
export_app.command("payments")(_export_command("payments", "Export payments."))

__all__ = ["export_app", "import_app"]
