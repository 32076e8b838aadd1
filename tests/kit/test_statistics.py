"""Planner statistics for tables filled in the open transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from arrears.kit.db import refresh_statistics


def test_refresh_statistics_counts_rows_written_in_the_transaction(db_session):
    db_session.execute(text("CREATE TEMPORARY TABLE filled (id INTEGER)"))
    db_session.execute(text("INSERT INTO filled VALUES " + ",".join(f"({i})" for i in range(250))))
    refresh_statistics(db_session, ["filled"])
    if db_session.get_bind().dialect.name == "postgresql":
        estimated = db_session.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'filled'")
        )
        assert estimated == 250  # before ANALYZE a new table is estimated at -1 (unknown)
    else:
        # SQLite: nothing to do, and nothing breaks
        assert db_session.scalar(text("SELECT count(*) FROM filled")) == 250
    refresh_statistics(db_session, [])  # nothing asked, nothing done


def test_postgresql_sessions_run_without_jit_compilation(db_session):
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("JIT compilation is a PostgreSQL setting; SQLite has none")
    assert db_session.scalar(text("SHOW jit")) == "off"
