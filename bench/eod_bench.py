"""Daily-run benchmark (issue 4): the EOD over the demo generator's portfolio.

    python bench/eod_bench.py --loans 1000000 \\
        --database postgresql://postgres@127.0.0.1:5432/arrears_bench
    python bench/eod_bench.py --loans 100000 --database sqlite:////tmp/arrears-bench.db

Setup (not timed as part of the run): a fresh database, the demo portfolio of LOANS loans
(≈ 8–10 % delinquent) imported with its payment history. Then, each in a fresh process:

- the floor: one SQL statement computing past-due days for every loan;
- the full run: the first end of day over the whole book;
- the following day: payments for 5 % of the loans are posted (untimed), then the next
  day's run.

Prints seconds, peak memory and the ratio of each run to the floor. Targets on
PostgreSQL (2 cores, 1,000,000 loans): full run ≤ 60 s, next day ≤ 15 s, peak ≤ 2 GB;
SQLite: 100,000 loans in ≤ 30 s.

Loading a million loans with their payment history takes a while: on PostgreSQL,
``--save-template NAME`` keeps a copy of the loaded database and ``--from-template NAME``
starts from such a copy instead of loading again.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import text

from common import copy_database, in_child, reset_database, save, stages_json

AS_OF = date(2026, 11, 29)


def generate(directory: Path, loans: int) -> int:
    from arrears.demo.generate import write_portfolio

    write_portfolio(directory, loans=loans, seed=11, as_of=AS_OF)
    return loans


def load(url: str, directory: Path) -> int:
    from arrears.kit.db import make_engine, unit_of_work
    from arrears.kit.migrate import upgrade
    from arrears.loans import products
    from arrears.loans.imports import run_import

    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(engine) as session:
        for spec in products.read_product_file(directory / "products.yaml"):
            products.upsert(db_session=session, spec=spec)
    rows = 0
    for kind in ("customers", "loans", "payments"):
        with unit_of_work(engine) as session:
            report = run_import(kind, directory / f"{kind}.csv", db_session=session)
        if not report.ok:
            raise SystemExit(f"{kind} import failed: {report.to_dict()['errors'][:3]}")
        rows += report.inserted
    return rows


def migrate(url: str) -> int:
    from arrears.kit.db import make_engine
    from arrears.kit.migrate import upgrade

    upgrade(make_engine(url))
    return 0


def floor(url: str) -> int:
    """One statement: past-due days of every loan as of the business date."""
    from arrears.kit.db import make_engine

    engine = make_engine(url)
    as_of = AS_OF.isoformat()
    days = (
        f"DATE '{as_of}' - MIN(due_on)"
        if engine.dialect.name == "postgresql"
        else f"CAST(julianday('{as_of}') - julianday(MIN(due_on)) AS INTEGER)"
    )
    sql = (
        f"SELECT loan_id, {days} AS past_due_days FROM installments "
        f"WHERE due_on < '{as_of}' AND principal + interest + fee "
        "> paid_principal + paid_interest + paid_fee + 1 GROUP BY loan_id"
    )
    with engine.connect() as conn:
        return len(conn.execute(text(sql)).all())


def run(url: str, on: date) -> int:
    from arrears.delinquency import eod
    from arrears.kit.db import make_engine

    result = eod.run_eod(make_engine(url), on, requested_by="bench")
    print(
        f"    stages: {result.stage_seconds}  evaluated {result.loans_evaluated:,}"
        f" (of which advanced from the carry {result.loans_advanced:,})"
    )
    return result.loans_total


def pay_five_percent(url: str, directory: Path, on: date) -> int:
    """Post the next installment of 5 % of the loans, dated ``on`` (setup, not the run)."""
    from arrears.kit.db import make_engine, unit_of_work
    from arrears.loans.imports import run_import

    engine = make_engine(url)
    with engine.connect() as conn:
        loan_ids = [row[0] for row in conn.execute(text("SELECT id FROM loans ORDER BY id"))]
        chosen = sorted(random.Random(5).sample(loan_ids, max(1, len(loan_ids) // 20)))
        due = {}
        for start in range(0, len(chosen), 5000):
            part = chosen[start : start + 5000]
            rows = conn.execute(
                text(
                    "SELECT l.loan_ref, MIN(i.number), l.id FROM installments i JOIN loans l "
                    "ON l.id = i.loan_id WHERE i.loan_id IN ("
                    + ",".join(str(i) for i in part)
                    + ") AND i.principal + i.interest + i.fee > "
                    "i.paid_principal + i.paid_interest + i.paid_fee GROUP BY l.loan_ref, l.id"
                )
            ).all()
            for ref, number, loan_id in rows:
                due[(loan_id, number)] = ref
        amounts = {}
        keys = sorted(due)
        for start in range(0, len(keys), 400):
            part = keys[start : start + 400]
            condition = " OR ".join(f"(loan_id = {a} AND number = {b})" for a, b in part)
            for loan_id, number, owed in conn.execute(
                text(
                    "SELECT loan_id, number, principal + interest + fee - paid_principal - "
                    f"paid_interest - paid_fee FROM installments WHERE {condition}"
                )
            ):
                amounts[due[(loan_id, number)]] = owed
    path = directory / "next_day_payments.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["payment_ref", "loan_ref", "paid_on", "amount", "channel"])
        for k, (ref, owed) in enumerate(sorted(amounts.items())):
            writer.writerow([f"N{k:09d}", ref, on.isoformat(), f"{owed / 100:.2f}", "alipay"])
    with unit_of_work(engine) as session:
        report = run_import("payments", path, db_session=session)
    return report.inserted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/arrears_bench")
    parser.add_argument("--from-template", metavar="NAME", help="PostgreSQL: copy, do not load")
    parser.add_argument("--save-template", metavar="NAME", help="PostgreSQL: keep the loaded copy")
    args = parser.parse_args()
    next_day = AS_OF + timedelta(days=1)
    with tempfile.TemporaryDirectory(prefix="arrears-eod-bench-") as folder:
        directory = Path(folder)
        from arrears.kit.settings import get_settings

        helpers = get_settings().eod_helpers
        print(f"EOD benchmark: {args.loans:,} loans in {args.database}, {helpers} helper(s)")
        print("  setup")
        if args.from_template:
            copy_database(args.database, args.from_template)
            in_child("migrate the copy", migrate, args.database)
        else:
            in_child("generate portfolio", generate, directory, args.loans)
            reset_database(args.database)
            in_child("import customers, loans, payments", load, args.database, directory)
            if args.save_template:
                copy_database(
                    args.database.rsplit("/", 1)[0] + "/" + args.save_template,
                    args.database.rsplit("/", 1)[1],
                )
        print("  measured")
        base = in_child("floor: one SQL for past-due days", floor, args.database)
        full = in_child(f"full run {AS_OF}", run, args.database, AS_OF)
        paid = in_child(
            f"setup: pay 5 % on {next_day}", pay_five_percent, args.database, directory, next_day
        )
        following = in_child(f"following day {next_day}", run, args.database, next_day)
        print(
            f"  ratio full run / floor: {full.seconds / base.seconds:.1f}×; "
            f"following day / floor: {following.seconds / base.seconds:.1f}×"
        )
        kind = "postgresql" if args.database.startswith("postgres") else "sqlite"
        path = save(
            f"eod-{kind}",
            {
                "loans": args.loans,
                "database": kind,
                "eod_helpers": helpers,
                "delinquent_loans_at_floor": base.rows,
                "payments_next_day": paid.rows,
                "stages": stages_json([base, full, paid, following]),
                "ratio_full_to_floor": round(full.seconds / base.seconds, 1),
                "ratio_next_day_to_floor": round(following.seconds / base.seconds, 1),
            },
        )
        print(f"  results: {path}")


if __name__ == "__main__":
    main()
