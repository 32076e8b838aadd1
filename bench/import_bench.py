"""Import benchmark (issue 2): 1,000,000 loans with generated schedules and their customers.

    python bench/import_bench.py --loans 1000000 \\
        --database postgresql://postgres@127.0.0.1:5432/arrears_bench

Writes a deterministic demo portfolio (customers and loans), then in fresh processes:
imports customers, imports loans (generating ~24 million installments), and — the baseline
measured in the same run — a plain COPY of exactly the rows the loan import wrote, from a
file, into an empty copy of the tables. Prints seconds, rows per second and peak memory
per stage and the ratio of the import to the plain COPY. Target on PostgreSQL, 2 cores:
under 5 minutes in all, peak memory under 2 GB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import text

from common import in_child, reset_database, save, stages_json

AS_OF = date(2026, 11, 30)


def generate(directory: Path, loans: int) -> int:
    from arrears.demo.generate import write_portfolio

    files = write_portfolio(directory, loans=loans, seed=7, as_of=AS_OF)
    # the import benchmark covers customers, loans and schedules, not payments
    files["payments"].unlink()
    return loans


def prepare(url: str, directory: Path) -> int:
    from arrears.kit.db import make_engine, unit_of_work
    from arrears.kit.migrate import upgrade
    from arrears.loans import products

    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(engine) as session:
        for spec in products.read_product_file(directory / "products.yaml"):
            products.upsert(db_session=session, spec=spec)
    return 0


def run_import(url: str, kind: str, path: Path) -> int:
    from arrears.kit.db import make_engine, unit_of_work
    from arrears.loans.imports import run_import as importer

    engine = make_engine(url)
    with unit_of_work(engine) as session:
        report = importer(kind, path, db_session=session)
    if not report.ok:
        raise SystemExit(f"{kind} import failed: {report.to_dict()['errors'][:3]}")
    return report.inserted


def count_installments(url: str) -> int:
    from arrears.kit.db import make_engine

    with make_engine(url).connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM installments")).scalar_one())


TABLES = ("customers", "contact_points", "loans", "installments")


def dump_tables(url: str, directory: Path) -> int:
    """Write the rows the import wrote to COPY files (not timed as part of the floor)."""
    from arrears.kit.db import make_engine

    raw = make_engine(url).raw_connection()
    try:
        cursor = raw.cursor()
        for table in TABLES:
            with (
                (directory / f"{table}.copy").open("wb") as out,
                cursor.copy(f"COPY {table} TO STDOUT") as copy,
            ):
                for chunk in copy:
                    out.write(chunk)
            cursor.execute(f"CREATE TABLE bench_{table} (LIKE {table} INCLUDING ALL)")
        raw.commit()
        return 0
    finally:
        raw.close()


def plain_copy(url: str, directory: Path) -> int:
    """The floor: a plain COPY of the same rows into empty tables with the same indexes."""
    from arrears.kit.db import make_engine

    raw = make_engine(url).raw_connection()
    try:
        cursor = raw.cursor()
        rows = 0
        for table in TABLES:
            with (
                (directory / f"{table}.copy").open("rb") as source,
                cursor.copy(f"COPY bench_{table} FROM STDIN") as copy,
            ):
                while block := source.read(1 << 20):
                    copy.write(block)
            rows += max(cursor.rowcount, 0)
        raw.commit()
        for table in TABLES:
            cursor.execute(f"DROP TABLE bench_{table}")
        raw.commit()
        return rows
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/arrears_bench")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arrears-bench-") as folder:
        directory = Path(folder)
        print(f"import benchmark: {args.loans:,} loans into {args.database}")
        generated = in_child("generate files", generate, directory, args.loans)
        reset_database(args.database)
        in_child("migrate + products", prepare, args.database, directory)
        customers = in_child(
            "import customers", run_import, args.database, "customers", directory / "customers.csv"
        )
        loans = in_child(
            "import loans + schedules", run_import, args.database, "loans", directory / "loans.csv"
        )
        installments = count_installments(args.database)
        total = customers.seconds + loans.seconds
        print(f"  installments generated: {installments:,}")
        print(
            f"  import total (customers + loans + schedules): {total:.1f} s, "
            f"peak {max(customers.peak_rss_mb, loans.peak_rss_mb):.0f} MB"
        )
        document = {
            "loans": args.loans,
            "database": args.database.split("@")[-1],
            "installments": installments,
            "stages": stages_json([generated, customers, loans]),
            "import_seconds": round(total, 2),
        }
        if args.database.startswith("postgres"):
            in_child("dump rows for the baseline", dump_tables, args.database, directory)
            floor = in_child("plain COPY of the same rows", plain_copy, args.database, directory)
            print(f"  ratio import / plain COPY: {total / floor.seconds:.1f}×")
            document["plain_copy_seconds"] = round(floor.seconds, 2)
            document["ratio_to_copy"] = round(total / floor.seconds, 2)
        print(f"  results: {save('import', document)}")


if __name__ == "__main__":
    main()
