"""The daily run survives being killed, and the worker schedules it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from arrears.delinquency import eod
from arrears.delinquency.cli import next_run_at
from arrears.delinquency.models import EodRun
from arrears.demo.build import build_demo
from arrears.kit.db import make_engine

START = date(2025, 3, 31)
TARGET = date(2025, 5, 10)

TABLES = {
    "loan_states": "loan_id, past_due_days, delinquent_days, bucket, overdue_principal, "
    "overdue_penalty, overdue_fee, outstanding_total, five_category",
    "loan_snapshots": "as_of, loan_id, past_due_days, bucket, overdue_penalty, outstanding_total",
    "charges": "loan_id, installment_number, kind, accrued_from, charged_on, amount, paid",
    "allocations": "loan_id, payment_id, installment_number, component, amount, applied_on",
    "installments": "loan_id, number, paid_principal, paid_interest, paid_fee",
    "bucket_history": "loan_id, bucket, entered_on, left_on",
    "outbox_events": "kind, loan_id, business_date",
    "cures": "loan_id, cured_on, from_bucket",
    "business_days": "business_date",
}


def fingerprint(url: str) -> dict[str, list[tuple]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            table: sorted(
                (tuple(row) for row in conn.execute(text(f"SELECT {cols} FROM {table}"))),
                key=lambda row: tuple((value is None, str(value)) for value in row),
            )
            for table, cols in TABLES.items()
        }
    engine.dispose()
    return out


def two_copies(tmp_path: Path, first: str, second: str, *, loans: int, seed: int):
    """Two SQLite files holding the same new demo book (no payment history): their URLs."""
    url = f"sqlite:///{tmp_path / first}.db"
    built = make_engine(url)
    build_demo(
        built, loans=loans, seed=seed, as_of=START, directory=tmp_path / "f", history_months=0
    )
    built.dispose()  # checkpoints the WAL, so the file copy is complete
    shutil.copy(tmp_path / f"{first}.db", tmp_path / f"{second}.db")
    return url, f"sqlite:///{tmp_path / second}.db"


def run_cli(url: str, on: date) -> subprocess.Popen:
    env = {**os.environ, "ARREARS_DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-m", "arrears.cli", "eod", "--date", on.isoformat()],
        env=env,
        stdout=subprocess.DEVNULL,
    )


def wait_until_running(url: str, process: subprocess.Popen, dates: int) -> bool:
    """Wait until the run is recorded and ``dates`` more business dates have committed."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            before = conn.execute(text("SELECT count(*) FROM business_days")).scalar_one()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            with engine.connect() as conn:
                running = conn.execute(
                    text("SELECT count(*) FROM eod_runs WHERE status = 'running'")
                ).scalar_one()
                done = conn.execute(text("SELECT count(*) FROM business_days")).scalar_one()
            if running and done - before >= dates:
                return True
            time.sleep(0.02)
        return False
    finally:
        engine.dispose()


def test_a_run_killed_at_any_moment_ends_as_an_uninterrupted_one(tmp_path: Path):
    base = tmp_path / "base.db"
    url = f"sqlite:///{base}"
    built = make_engine(url)
    build_demo(
        built, loans=150, seed=3, as_of=START, directory=tmp_path / "files", history_months=0
    )
    built.dispose()  # checkpoints the WAL, so the file copy is complete
    shutil.copy(base, tmp_path / "straight.db")
    straight = f"sqlite:///{tmp_path / 'straight.db'}"
    assert run_cli(straight, TARGET).wait(timeout=300) == 0
    expected = fingerprint(straight)

    killed_url = url
    # first kill: as soon as the run is recorded, before its first date commits;
    # second kill: in the middle of catching up, after some dates committed
    for committed_dates in (0, 5):
        process = run_cli(killed_url, TARGET)
        assert wait_until_running(killed_url, process, committed_dates)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert run_cli(killed_url, TARGET).wait(timeout=300) == 0
    assert fingerprint(killed_url) == expected
    engine = make_engine(killed_url)
    with engine.connect() as conn:
        statuses = [r[0] for r in conn.execute(select(EodRun.status).order_by(EodRun.id))]
    # the two killed runs were found interrupted and marked failed by the next one
    assert statuses == ["completed", "failed", "failed", "completed"]


def test_catch_up_after_a_gap_equals_running_every_day(tmp_path: Path):
    url, gap = two_copies(tmp_path, "daily", "gap", loans=120, seed=5)
    daily_engine = make_engine(url)
    for day in range(1, 16):
        eod.run_eod(daily_engine, date(2025, 4, day))
    eod.run_eod(make_engine(gap), date(2025, 4, 15))
    assert fingerprint(gap) == fingerprint(url)


def test_the_worker_runs_at_the_configured_local_time():
    zone = ZoneInfo("Asia/Shanghai")
    before = datetime(2026, 12, 1, 22, 0, tzinfo=zone)
    after = datetime(2026, 12, 1, 23, 45, tzinfo=zone)
    assert next_run_at(before, "23:30") == datetime(2026, 12, 1, 23, 30, tzinfo=zone)
    assert next_run_at(after, "23:30") == datetime(2026, 12, 2, 23, 30, tzinfo=zone)


def test_advancing_from_the_carry_ends_where_evaluating_every_loan_does(tmp_path: Path):
    """Days run with the carry shortcut leave every derived table as full evaluation does."""
    url, full = two_copies(tmp_path, "advanced", "full", loans=200, seed=9)
    advanced_engine, full_engine = make_engine(url), make_engine(full)
    moved = 0
    for day in range(1, 21):
        on = date(2025, 4, day)
        moved += eod.run_eod(advanced_engine, on).loans_advanced
        # the other copy forgets every carry, so each delinquent loan is evaluated in full
        with full_engine.begin() as conn:
            conn.execute(text("UPDATE loan_states SET carry = NULL"))
        assert eod.run_eod(full_engine, on).loans_advanced == 0
    assert moved > 500  # most delinquent loans were advanced on most days
    assert fingerprint(url) == fingerprint(full)


def _helpers(monkeypatch, count: int) -> None:
    from arrears.kit.settings import get_settings

    monkeypatch.setenv("ARREARS_EOD_HELPERS", str(count))
    get_settings.cache_clear()


def test_loans_evaluated_by_helper_processes_are_stored_as_if_evaluated_here(
    tmp_path: Path, monkeypatch
):
    from arrears.delinquency import service

    url, alone = two_copies(tmp_path, "helped", "alone", loans=300, seed=4)
    # small chunks, so that a few hundred loans make many tasks
    monkeypatch.setattr(service, "CHUNK", 7)
    monkeypatch.setattr(eod, "PARALLEL_FROM", 1)
    tasks: list[str] = []
    real = service.Helper.submit

    def counted(self, task):
        tasks.append(task[0] if isinstance(task, tuple) else task)
        return real(self, task)

    monkeypatch.setattr(service.Helper, "submit", counted)
    try:
        _helpers(monkeypatch, 2)
        for day in (10, 11):
            eod.run_eod(make_engine(url), date(2025, 4, day))
        # helpers did part of both kinds of work
        assert tasks.count("evaluate") > 5 and tasks.count("advance") > 5
        _helpers(monkeypatch, 0)
        for day in (10, 11):
            eod.run_eod(make_engine(alone), date(2025, 4, day))
    finally:
        from arrears.kit.settings import get_settings

        monkeypatch.delenv("ARREARS_EOD_HELPERS")
        get_settings.cache_clear()
    assert fingerprint(url) == fingerprint(alone)


def test_chunks_of_a_helper_that_stops_are_evaluated_here(tmp_path: Path, monkeypatch):
    from arrears.delinquency import service
    from arrears.kit.db import unit_of_work
    from arrears.kit.helpers import Helper

    url, alone_url = two_copies(tmp_path, "stops", "alone", loans=200, seed=6)
    monkeypatch.setattr(service, "CHUNK", 5)
    on = date(2025, 4, 3)
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        ids = sorted(eod.candidate_ids(session, on, None))
    assert len(ids) > 10
    helper = Helper("arrears.delinquency.evaluator", what="evaluation helper")
    helper.process.kill()  # as if it crashed
    helper.process.wait()
    stats = service.StoreStats()
    try:
        with unit_of_work(engine) as session:
            service.evaluate_and_store(session, ids, on, helpers=[helper], url=url, stats=stats)
    finally:
        helper.close()
    with unit_of_work(make_engine(alone_url)) as session:
        alone = service.evaluate_and_store(session, ids, on)
    assert stats.loans == alone.loans == len(ids)
    assert fingerprint(url) == fingerprint(alone_url)
