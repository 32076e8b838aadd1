"""Planner statistics for tables filled in the open transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

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


@pytest.fixture
def pg_session(postgres_engine):
    """PostgreSQL only (the settings below are its planner's); skipped, saying so, without it."""
    with Session(postgres_engine) as session:
        yield session
        session.rollback()


def test_postgresql_sessions_run_without_jit_compilation(pg_session):
    assert pg_session.scalar(text("SHOW jit")) == "off"


def test_keyed_lookups_rule_out_sequential_scans_while_they_run(pg_session):
    from arrears.kit.db import keyed_lookups

    def setting(name):
        return pg_session.scalar(text(f"SELECT current_setting('{name}')"))

    with keyed_lookups(pg_session):
        assert setting("enable_seqscan") == "off"
        assert setting("max_parallel_workers_per_gather") == "0"
        with keyed_lookups(pg_session):  # nested: still off inside, and after
            assert setting("enable_seqscan") == "off"
        assert setting("enable_seqscan") == "off"
    assert setting("enable_seqscan") == "on"
    assert setting("max_parallel_workers_per_gather") != "0"


def test_keyed_lookups_leave_sqlite_alone(tmp_path):
    """SQLite's planner uses the indexes anyway: entering and leaving issues no statement."""
    from sqlalchemy import event

    from arrears.kit.db import keyed_lookups, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with Session(engine) as session:
        with keyed_lookups(session):
            assert session.scalar(text("SELECT 1")) == 1
        assert statements == ["SELECT 1"]
    engine.dispose()


def test_json_columns_read_back_the_values_written(db_session):
    """JSON is read by orjson (``make_engine``): the same values as the standard library's."""
    import json

    from sqlalchemy import JSON, Column, Integer, MetaData, Table, select

    documents = {
        1: '{"名": "催收", "n": 9007199254740993, "f": 0.1, "l": [1, null, true, {}]}',
        2: "[]",
        3: "null",
    }
    db_session.execute(text("CREATE TEMPORARY TABLE docs (id INTEGER, d TEXT)"))
    db_session.execute(
        text("INSERT INTO docs VALUES (:id, :d)"),
        [{"id": k, "d": v} for k, v in documents.items()],
    )
    db_session.execute(text("CREATE TEMPORARY TABLE jdocs (id INTEGER, d JSON)"))
    cast_text = "CAST(d AS JSON)" if db_session.get_bind().dialect.name == "postgresql" else "d"
    db_session.execute(text(f"INSERT INTO jdocs SELECT id, {cast_text} FROM docs"))
    table = Table("jdocs", MetaData(), Column("id", Integer), Column("d", JSON))
    read = dict(db_session.execute(select(table.c.id, table.c.d)).all())
    assert read == {k: json.loads(v) for k, v in documents.items()}
