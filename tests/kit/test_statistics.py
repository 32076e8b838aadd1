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


def test_keyed_lookups_rule_out_sequential_scans_while_they_run(db_session):
    from arrears.kit.db import keyed_lookups

    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("planner settings are PostgreSQL's; SQLite's planner uses the indexes")

    def setting(name):
        return db_session.scalar(text(f"SELECT current_setting('{name}')"))

    with keyed_lookups(db_session):
        assert setting("enable_seqscan") == "off"
        assert setting("max_parallel_workers_per_gather") == "0"
        with keyed_lookups(db_session):  # nested: still off inside, and after
            assert setting("enable_seqscan") == "off"
        assert setting("enable_seqscan") == "off"
    assert setting("enable_seqscan") == "on"
    assert setting("max_parallel_workers_per_gather") != "0"
