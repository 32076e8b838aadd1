"""Building the demo: schema, products, portfolio files, imports, history, users.

``arrears demo`` and the browser tests call ``build_demo``; everything it does goes
through the same services a lender's data would (product loader, importers, EOD).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from arrears.delinquency import eod
from arrears.delinquency.models import BusinessDay, LoanState
from arrears.demo.generate import PRODUCTS_FILE, write_portfolio
from arrears.kit.dates import add_months
from arrears.kit.db import unit_of_work
from arrears.kit.errors import ValidationFailed
from arrears.kit.migrate import upgrade
from arrears.loans import products
from arrears.loans.imports import ImportReport, run_import

Progress = Callable[[str, int, int | None], None]


@dataclass
class DemoSummary:
    directory: Path
    as_of: date
    imports: dict[str, ImportReport] = field(default_factory=dict)
    history_dates: list[date] = field(default_factory=list)
    loans: int = 0
    delinquent: int = 0
    buckets: dict[str, int] = field(default_factory=dict)
    users: list[tuple[str, str, str]] = field(default_factory=list)


def month_ends_before(as_of: date, months: int) -> list[date]:
    """The last days of the ``months`` calendar months before ``as_of``'s month, oldest first."""
    first_of_month = as_of.replace(day=1)
    ends = []
    for k in range(months, 0, -1):
        start = add_months(first_of_month, -k + 1)
        ends.append(date.fromordinal(start.toordinal() - 1))
    return ends


def build_demo(
    engine: Engine,
    *,
    loans: int,
    seed: int,
    as_of: date,
    directory: Path,
    history_months: int = 12,
    progress: Progress | None = None,
) -> DemoSummary:
    """Create or upgrade the schema and load a deterministic demo portfolio into it."""
    report = progress or (lambda stage, done, total: None)
    upgrade(engine)
    summary = DemoSummary(directory=directory, as_of=as_of)

    with unit_of_work(engine) as session:
        for spec in products.read_product_file(PRODUCTS_FILE):
            products.upsert(db_session=session, spec=spec)

    directory.mkdir(parents=True, exist_ok=True)
    files = write_portfolio(
        directory,
        loans=loans,
        seed=seed,
        as_of=as_of,
        progress=lambda stage, done: report(f"generate {stage}", done, None),
    )
    for kind in ("customers", "loans", "payments"):

        def step(stage: str, done: int, total: int | None, kind: str = kind) -> None:
            report(f"import {kind} ({stage})", done, total)

        with unit_of_work(engine) as session:
            result = run_import(kind, files[kind], db_session=session, progress=step)
        if not result.ok:
            first = result.errors[0].to_dict() if result.errors else {}
            raise ValidationFailed(
                f"the demo {kind} file did not import: {first}", code="demo_import_failed"
            )
        summary.imports[kind] = result

    with unit_of_work(engine) as session:
        done_before = session.scalar(select(func.count()).select_from(BusinessDay)) or 0
    if not done_before:
        # month-end history for the dashboard's trend, then the business date itself
        summary.history_dates = month_ends_before(as_of, history_months)
        for index, month_end in enumerate(summary.history_dates):
            report("history", index, len(summary.history_dates))
            eod.run_eod(engine, month_end, requested_by="demo", catch_up=False)
    report("end of day", 0, 1)
    eod.run_eod(engine, as_of, requested_by="demo", catch_up=False)

    with unit_of_work(engine) as session:
        counts = dict(
            session.execute(select(LoanState.bucket, func.count()).group_by(LoanState.bucket)).all()
        )
        summary.buckets = {str(k): int(v) for k, v in sorted(counts.items())}
        summary.loans = sum(summary.buckets.values())
        summary.delinquent = (
            session.scalar(select(func.count()).where(LoanState.past_due_days > 0)) or 0
        )
        summary.users = _demo_users(session)
    return summary


def _demo_users(session: Any) -> list[tuple[str, str, str]]:
    """One user per role, when the security domain offers them."""
    import importlib

    create = getattr(importlib.import_module("arrears.auth.service"), "create_demo_users", None)
    return [] if create is None else list(create(session))
