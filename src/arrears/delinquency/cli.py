"""CLI commands of the delinquency domain: ``eod``, ``worker``, ``loan hold``/``end-hold``."""

from __future__ import annotations

import json
import sys
import time
from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from arrears.kit.errors import ArrearsError

console = Console()
err_console = Console(stderr=True)


def _fail(error: ArrearsError) -> typer.Exit:
    err_console.print(f"[bold red]error[/] [dim]({error.code})[/]: {error.message}")
    return typer.Exit(code=1)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"'{value}' is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def eod(
    on: Annotated[
        str | None,
        typer.Option("--date", help="Business date to close (default: today, portfolio time)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Run end of day: age every active loan as of the date, catching up missed dates."""
    from arrears.delinquency import eod as runner
    from arrears.delinquency.service import today_in_portfolio
    from arrears.kit.db import get_engine

    target = _date(on, "--date") or today_in_portfolio()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json or not err_console.is_terminal,
    ) as bar:
        task = bar.add_task("starting", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        try:
            run = runner.run_eod(get_engine(), target, requested_by="cli", progress=progress)
        except ArrearsError as exc:
            raise _fail(exc) from None
    view = runner.run_view(run)
    if as_json:
        sys.stdout.write(json.dumps(view, ensure_ascii=False, indent=2) + "\n")
        return
    console.print(
        f"end of day [bold]{view['business_date']}[/] {view['status']}: dates "
        f"{view['from_date']} → {view['completed_through']}, {view['loans_total']} active loans, "
        f"{view['loans_evaluated']} evaluated ({view['loans_advanced']} advanced from their "
        f"carry), {view['events_written']} events"
    )
    stages = Table("stage", "seconds", title="time per stage")
    for stage, seconds in view["stage_seconds"].items():
        stages.add_row(stage, f"{seconds:.2f}")
    console.print(stages)
    buckets = Table("bucket", "loans", title=f"loans per bucket on {view['completed_through']}")
    for bucket, count in view["bucket_counts"].items():
        buckets.add_row(bucket, str(count))
    console.print(buckets)


def next_run_at(now: datetime, eod_time: str) -> datetime:
    """The next moment, in ``now``'s zone, at the local time ``eod_time`` (HH:MM)."""
    hour, minute = (int(part) for part in eod_time.split(":"))
    candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


def worker(
    once: Annotated[bool, typer.Option(help="Run the next scheduled EOD, then exit.")] = False,
) -> None:
    """Run scheduled jobs: the nightly end of day at ARREARS_EOD_TIME (portfolio time zone)."""
    from arrears.delinquency import eod as runner
    from arrears.kit.db import get_engine
    from arrears.kit.settings import get_settings

    settings = get_settings()
    zone = ZoneInfo(settings.timezone)
    while True:
        now = datetime.now(zone)
        due = next_run_at(now, settings.eod_time)
        console.print(f"next end of day at {due.isoformat()} ({settings.timezone})")
        time.sleep(max(0.0, (due - datetime.now(zone)).total_seconds()))
        try:
            run = runner.run_eod(get_engine(), due.date(), requested_by="worker")
            console.print(f"end of day {run.business_date} {run.status}")
        except ArrearsError as exc:
            err_console.print(f"end of day refused ({exc.code}): {exc.message}")
        if once:
            return


def loan_hold(
    loan_ref: Annotated[str, typer.Argument(help="Loan reference.")],
    start: Annotated[str, typer.Option(help="First day held, YYYY-MM-DD (may be back-dated).")],
    reason: Annotated[
        str,
        typer.Option(
            help="disaster_relief | payment_holiday | dispute | legal_hold | breathing_space"
        ),
    ],
    end: Annotated[
        str | None, typer.Option(help="First day no longer held; omit for an open hold.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="Why, in a sentence.")] = None,
) -> None:
    """Put a loan on hold: delinquency stops ageing and contact stops."""
    from arrears.delinquency import holds
    from arrears.kit.db import unit_of_work

    try:
        with unit_of_work() as session:
            hold = holds.place(
                db_session=session,
                loan_ref=loan_ref,
                start_on=_date(start, "--start") or date.min,
                end_on=_date(end, "--end"),
                reason=reason,
                note=note,
                created_by="cli",
            )
            view = holds.hold_view(hold)
    except ArrearsError as exc:
        raise _fail(exc) from None
    console.print(
        f"loan {loan_ref} held from {view['start_on']} to {view['end_on'] or 'further notice'} "
        f"({view['reason']}; penalty {'suspended' if view['suspends_penalty'] else 'continues'})"
    )


def loan_end_hold(
    loan_ref: Annotated[str, typer.Argument(help="Loan reference.")],
    on: Annotated[str, typer.Option("--on", help="First day no longer held, YYYY-MM-DD.")],
    hold_id: Annotated[int | None, typer.Option(help="Which hold, when several run.")] = None,
) -> None:
    """End a loan's hold early."""
    from arrears.delinquency import holds
    from arrears.kit.db import unit_of_work

    try:
        with unit_of_work() as session:
            holds.end(
                db_session=session,
                loan_ref=loan_ref,
                on=_date(on, "--on") or date.min,
                hold_id=hold_id,
            )
    except ArrearsError as exc:
        raise _fail(exc) from None
    console.print(f"hold on loan {loan_ref} ends on {on}")
