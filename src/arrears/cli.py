"""The ``arrears`` command."""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from arrears.kit.errors import ArrearsError

app = typer.Typer(
    name="arrears",
    help="Loan delinquency and collections: the loan book, the daily run, the console.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
product_app = typer.Typer(help="Loan products.", no_args_is_help=True)
loan_app = typer.Typer(help="Loans on the book.", no_args_is_help=True)
payment_app = typer.Typer(help="Payments: post and reverse.", no_args_is_help=True)
app.add_typer(product_app, name="product")
app.add_typer(loan_app, name="loan")
app.add_typer(payment_app, name="payment")

from arrears.auth.cli import audit_app, keys_app, operator_actor, user_app  # noqa: E402

app.add_typer(user_app, name="user")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")

from arrears.loans.cli_io import export_app, import_app  # noqa: E402

app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")


@app.callback()
def _every_command(ctx: typer.Context) -> None:
    # whatever a command writes is attributed to the operator at the terminal (cli:<login>)
    ctx.with_resource(operator_actor())


from arrears.delinquency import cli as delinquency_cli  # noqa: E402

app.command("eod")(delinquency_cli.eod)
app.command("worker")(delinquency_cli.worker)
loan_app.command("hold")(delinquency_cli.loan_hold)
loan_app.command("end-hold")(delinquency_cli.loan_end_hold)

console = Console()
err_console = Console(stderr=True)


def fail(error: ArrearsError) -> typer.Exit:
    """Print a domain error the way a person can act on, and exit non-zero."""
    err_console.print(f"[bold red]error[/] [dim]({error.code})[/]: {error.message}")
    return typer.Exit(code=1)


def print_json(document: Any) -> None:
    """Machine-readable output on stdout, nothing else."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


@app.command()
def init() -> None:
    """Create or upgrade the database schema (Alembic migrations) at ARREARS_DATABASE_URL."""
    from arrears.kit.db import get_engine
    from arrears.kit.migrate import current_revision, upgrade
    from arrears.kit.settings import get_settings, mask_url_password

    engine = get_engine()
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    where = mask_url_password(get_settings().database_url)
    if before == after:
        console.print(f"database {where} is up to date (revision {after})")
    else:
        console.print(f"database {where} upgraded from {before or 'empty'} to {after}")


@app.command("config")
def show_config(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Print the effective settings (secrets masked) and the variables that set them."""
    from arrears.kit.settings import Settings, get_settings

    settings = get_settings()
    effective = settings.effective()
    if as_json:
        print_json(effective)
        return
    table = Table("variable", "value", "meaning", title="arrears configuration")
    for name, field in Settings.model_fields.items():
        table.add_row(f"ARREARS_{name.upper()}", str(effective[name]), field.description or "")
    console.print(table)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
) -> None:
    """Run the API server (and, once built, the web console)."""
    import uvicorn

    from arrears.kit.settings import get_settings

    settings = get_settings()
    bind_host = host or settings.host
    bind_port = port or settings.port
    console.print(
        f"arrears API on [bold]http://{bind_host}:{bind_port}/api/v1[/], "
        f"interactive docs at [bold]http://{bind_host}:{bind_port}/docs[/]"
    )
    uvicorn.run(
        "arrears.app:create_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        reload=reload,
        log_level=settings.log_level.lower(),
    )


@product_app.command("load")
def product_load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML or JSON file.")],
) -> None:
    """Create or update products from a YAML or JSON product file."""
    from arrears.kit.db import unit_of_work
    from arrears.loans import products

    try:
        specs = products.read_product_file(file)
        with unit_of_work() as session:
            outcomes = [products.upsert(db_session=session, spec=spec) for spec in specs]
    except ArrearsError as exc:
        raise fail(exc) from None
    table = Table("code", "name", "method", "outcome")
    for product, outcome in outcomes:
        table.add_row(product.code, product.name, product.method, outcome)
    console.print(table)


@product_app.command("list")
def product_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the products."""
    from arrears.kit.db import unit_of_work
    from arrears.loans import products

    with unit_of_work() as session:
        specs = [products.product_to_spec(p) for p in products.list_all(db_session=session)]
    if as_json:
        print_json([spec.model_dump(mode="json") for spec in specs])
        return
    table = Table("code", "name", "currency", "method", "day count", "grace days")
    for spec in specs:
        table.add_row(
            spec.code, spec.name, spec.currency, spec.method, spec.day_count, str(spec.grace_days)
        )
    console.print(table)


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"'{value}' is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


@app.command()
def schedule(
    principal: Annotated[str, typer.Option(help="Amount lent, e.g. 630000 or 1250.50.")],
    annual_rate: Annotated[str, typer.Option(help="Percent per year: 4.9 means 4.9 %.")],
    months: Annotated[int, typer.Option(help="Term in months.")],
    first_due: Annotated[str, typer.Option(help="First due date, YYYY-MM-DD.")],
    method: Annotated[
        str, typer.Option(help="annuity | equal_principal | interest_only | bullet")
    ] = "annuity",
    disbursed: Annotated[
        str | None,
        typer.Option(help="Disbursement date; without it every period is a full month."),
    ] = None,
    day_count: Annotated[str, typer.Option(help="30/360 | act/365 | act/360")] = "30/360",
    rounding: Annotated[str, typer.Option(help="half_up | up | down")] = "half_up",
    rounding_unit: Annotated[str, typer.Option(help="cent | unit")] = "cent",
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "CNY",
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Loan calculator: print the repayment schedule of the given terms."""
    from arrears.kit.dates import DayCount
    from arrears.kit.money import Rounding, check_currency, parse_amount, to_minor
    from arrears.loans.presenters import schedule_json
    from arrears.loans.products import rounding_unit_minor
    from arrears.loans.schedule import LoanTerms, Method, ScheduleError, generate

    try:
        code = check_currency(currency)
        terms = LoanTerms(
            principal=to_minor(parse_amount(principal, field="principal"), code, field="principal"),
            annual_rate=parse_amount(annual_rate, field="annual rate"),
            months=months,
            method=_choice(Method, method, "--method"),
            first_due_on=_parse_date(first_due, "--first-due"),
            disbursed_on=_parse_date(disbursed, "--disbursed") if disbursed else None,
            day_count=_choice(DayCount, day_count, "--day-count"),
            rounding=_choice(Rounding, rounding, "--rounding"),
            rounding_unit=rounding_unit_minor(_check_unit(rounding_unit), code),
        )
        result = generate(terms)
    except ScheduleError as exc:
        err_console.print(f"[bold red]error[/] [dim]({exc.code})[/]: {exc}")
        raise typer.Exit(code=1) from None
    except ArrearsError as exc:
        raise fail(exc) from None
    document = schedule_json(result, code)
    if as_json:
        print_json(document)
        return
    table = Table(
        "#",
        "due date",
        "principal",
        "interest",
        "fee",
        "total",
        "balance after",
        title=f"{terms.method.value}: {principal} {code} at {annual_rate} % for {months} months",
    )
    for row in document["installments"]:
        table.add_row(
            str(row["number"]),
            row["due_date"],
            row["principal"],
            row["interest"],
            row["fee"],
            row["total"],
            row["balance_after"],
        )
    console.print(table)
    console.print(
        f"total interest [bold]{document['total_interest']}[/], "
        f"total repayment [bold]{document['total_repayment']}[/]"
    )


def _choice(enum: Any, value: str, option: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = " | ".join(member.value for member in enum)
        raise typer.BadParameter(f"'{value}' is not one of {allowed}", param_hint=option) from None


def _check_unit(value: str) -> str:
    if value not in ("cent", "unit"):
        raise typer.BadParameter(
            f"'{value}' is not one of cent | unit", param_hint="--rounding-unit"
        )
    return value


@loan_app.command("show")
def loan_show(
    loan_ref: Annotated[str, typer.Argument(help="Loan reference.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show a loan with its schedule, what is paid and what is outstanding."""
    from arrears.kit.db import unit_of_work
    from arrears.loans import service as loans

    try:
        with unit_of_work() as session:
            loan = loans.get_by_ref_or_raise(db_session=session, loan_ref=loan_ref)
            view = loans.loan_view(db_session=session, loan=loan)
    except ArrearsError as exc:
        raise fail(exc) from None
    if as_json:
        print_json(view)
        return
    console.print(
        f"[bold]{view['loan_ref']}[/] {view['customer_ref']} {view['product_code']} "
        f"{view['principal']} {view['currency']} at {view['annual_rate']} % for "
        f"{view['term_months']} months ({view['method']}), {view['status']}"
    )
    table = Table("#", "due", "total", "paid", "outstanding")
    for row in view["installments"]:
        paid = sum(Decimal(v) for v in row["paid"].values())
        table.add_row(
            str(row["number"]),
            row["due_date"],
            row["total"],
            str(paid),
            row["outstanding"]["total"],
        )
    console.print(table)
    console.print(f"outstanding {view['outstanding']['total']}, credit {view['credit']}")


@payment_app.command("post")
def payment_post(
    payment_ref: Annotated[str, typer.Argument(help="Payment reference (idempotency key).")],
    loan_ref: Annotated[str, typer.Option("--loan", help="Loan reference.")],
    amount: Annotated[str, typer.Option(help="Amount received.")],
    paid_on: Annotated[str, typer.Option("--on", help="Value date, YYYY-MM-DD.")],
    channel: Annotated[
        str, typer.Option(help="bank_transfer, card, alipay, ...")
    ] = "bank_transfer",
) -> None:
    """Post a payment; posting the same reference again changes nothing."""
    from arrears.kit.db import unit_of_work
    from arrears.kit.money import parse_amount
    from arrears.ledger import service as ledger

    try:
        payment = ledger.PaymentIn(
            payment_ref=payment_ref,
            loan_ref=loan_ref,
            value_date=_parse_date(paid_on, "--on"),
            amount=parse_amount(amount),
            channel=channel,
        )
        with unit_of_work() as session:
            _, created = ledger.post_payment(db_session=session, payment=payment)
    except ArrearsError as exc:
        raise fail(exc) from None
    console.print(f"payment {payment_ref} {'posted' if created else 'was already posted'}")


@payment_app.command("reverse")
def payment_reverse(
    payment_ref: Annotated[str, typer.Argument(help="Payment reference.")],
    reason: Annotated[str, typer.Option(help="Why it is reversed.")] = "reversed by operator",
) -> None:
    """Reverse a payment; the loan's allocation is re-derived without it."""
    from arrears.kit.db import unit_of_work
    from arrears.ledger import service as ledger

    try:
        with unit_of_work() as session:
            ledger.reverse_payment(db_session=session, payment_ref=payment_ref, reason=reason)
    except ArrearsError as exc:
        raise fail(exc) from None
    console.print(f"payment {payment_ref} reversed")


demo_app = typer.Typer(
    help="The demo portfolio: `arrears demo` builds it all; `demo generate` writes files.",
    invoke_without_command=True,
)
app.add_typer(demo_app, name="demo")


def _demo_progress() -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )


@demo_app.callback()
def demo(
    ctx: typer.Context,
    loans: Annotated[int, typer.Option(help="How many loans.")] = 3000,
    seed: Annotated[int, typer.Option(help="Same seed, same portfolio.")] = 42,
    as_of: Annotated[
        str | None, typer.Option(help="Business date of the demo (default: today).")
    ] = None,
    directory: Annotated[Path, typer.Option(help="Where the generated files are kept.")] = Path(
        "demo-data"
    ),
) -> None:
    """Create the schema, load demo products and portfolio, run the end of day, add users."""
    if ctx.invoked_subcommand is not None:
        return
    from arrears.delinquency.service import today_in_portfolio
    from arrears.demo.build import build_demo
    from arrears.kit.db import get_engine
    from arrears.kit.settings import get_settings, mask_url_password

    business_date = _parse_date(as_of, "--as-of") if as_of else today_in_portfolio()
    with _demo_progress() as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                for task in tasks.values():
                    bar.update(task, visible=False)
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            summary = build_demo(
                get_engine(),
                loans=loans,
                seed=seed,
                as_of=business_date,
                directory=directory,
                progress=progress,
            )
        except ArrearsError as exc:
            raise fail(exc) from None
    settings = get_settings()
    share = summary.delinquent / summary.loans * 100 if summary.loans else 0.0
    console.print(
        f"[bold green]demo ready[/] in {mask_url_password(settings.database_url)}: "
        f"{summary.loans} active loans as of {summary.as_of}, {summary.delinquent} past due "
        f"({share:.1f} %), month-end history for {len(summary.history_dates)} months"
    )
    buckets = Table("bucket", "loans", title="loans per bucket")
    for bucket, count in summary.buckets.items():
        buckets.add_row(bucket, str(count))
    console.print(buckets)
    if summary.users:
        users = Table("user", "role", "password", title="demo sign-ins (change them outside demos)")
        for username, role, password in summary.users:
            users.add_row(username, role, password)
        console.print(users)
    console.print(
        f"open http://{settings.host}:{settings.port}/ (console), "
        f"http://{settings.host}:{settings.port}/docs (API) once `arrears serve` runs"
    )


@demo_app.command("generate")
def demo_generate(
    loans: Annotated[int, typer.Option(help="How many loans (up to 1,000,000 and more).")] = 3000,
    seed: Annotated[int, typer.Option(help="Same seed, same portfolio.")] = 42,
    as_of: Annotated[str | None, typer.Option(help="Business date (default: today).")] = None,
    output: Annotated[Path, typer.Option(help="Folder for the files.")] = Path("demo-data"),
    load: Annotated[
        bool, typer.Option("--import/--no-import", help="Also import the files.")
    ] = True,
) -> None:
    """Write a deterministic demo portfolio (products, customers, loans, payments) and load it."""
    from arrears.delinquency.service import today_in_portfolio
    from arrears.demo.generate import write_portfolio
    from arrears.kit.db import unit_of_work
    from arrears.loans import products
    from arrears.loans.imports import run_import

    business_date = _parse_date(as_of, "--as-of") if as_of else today_in_portfolio()
    output.mkdir(parents=True, exist_ok=True)
    with _demo_progress() as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int | None = None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        files = write_portfolio(
            output, loans=loans, seed=seed, as_of=business_date, progress=progress
        )
        if not load:
            console.print(f"wrote {', '.join(str(p) for p in files.values())}")
            return
        try:
            with unit_of_work() as session:
                for spec in products.read_product_file(files["products"]):
                    products.upsert(db_session=session, spec=spec)
            for kind in ("customers", "loans", "payments"):

                def step(stage: str, done: int, total: int | None, kind: str = kind) -> None:
                    progress(f"import {kind} ({stage})", done, total)

                with unit_of_work() as session:
                    report = run_import(kind, files[kind], db_session=session, progress=step)
                console.print(
                    f"{kind}: {report.inserted} inserted, {report.unchanged} unchanged, "
                    f"{report.rows_invalid} invalid"
                )
        except ArrearsError as exc:
            raise fail(exc) from None


if __name__ == "__main__":
    app()
