"""Updating many rows at once, each with its own values.

On PostgreSQL the rows travel as one JSON document read by ``json_to_recordset``: one
statement per batch however many rows, instead of one per row. Elsewhere (SQLite,
where statements cost no round trip) it is an ``executemany``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, text, update
from sqlalchemy.orm import Session

from arrears.kit.db import utcnow

BATCH = 10_000


def update_rows(
    db_session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Mapping[str, str],
    where: Mapping[str, Any] | None = None,
) -> int:
    """Set columns of many rows: each row's values where its keys (and ``where``) match.

    ``keys`` maps each key column to the field of the row holding its value (a column can
    be matched on its old value and set to a new one); the row's other fields are the
    columns to set, the same in every row. ``updated_at``, when the table has it, is set to
    now. Returns how many rows matched.
    """
    if not rows:
        return 0
    where = dict(where or {})
    fields = set(keys.values())
    names = [name for name in rows[0] if name not in fields]
    stamp = "updated_at" in table.c and "updated_at" not in names
    if db_session.get_bind().dialect.name == "postgresql":
        return _recordset(db_session, table, rows, keys, where, names, stamp)
    statement = (
        update(table)
        .where(
            *[table.c[k] == bindparam(f"k_{f}") for k, f in keys.items()],
            *[table.c[k] == v for k, v in where.items()],
        )
        .values(
            **{n: bindparam(f"v_{n}") for n in names},
            **({"updated_at": utcnow()} if stamp else {}),
        )
    )
    params = [
        {**{f"k_{f}": row[f] for f in keys.values()}, **{f"v_{n}": row[n] for n in names}}
        for row in rows
    ]
    return int(cast(Any, db_session.execute(statement, params)).rowcount)


def _recordset(
    db_session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Mapping[str, str],
    where: Mapping[str, Any],
    names: list[str],
    stamp: bool,
) -> int:
    """One statement per batch: the rows travel as one JSON document, read in C."""
    dialect = db_session.get_bind().dialect
    columns = [*keys, *names]
    fields = [*keys.values(), *names]  # the row field of each column, in order
    record = ", ".join(
        f"c{i} {table.c[name].type.compile(dialect=dialect)}" for i, name in enumerate(columns)
    )
    setters = [f"{name} = v.c{len(keys) + i}" for i, name in enumerate(names)]
    if stamp:
        setters.append("updated_at = :stamp")
    conditions = [f"t.{k} = v.c{i}" for i, k in enumerate(keys)]
    conditions.extend(f"t.{k} = :w{i}" for i, k in enumerate(where))
    statement = text(
        f"UPDATE {table.name} AS t SET {', '.join(setters)} "
        f"FROM json_to_recordset(CAST(:rows AS json)) AS v({record}) "
        f"WHERE {' AND '.join(conditions)}"
    )
    if stamp:
        statement = statement.bindparams(bindparam("stamp", type_=table.c.updated_at.type))
    matched = 0
    for start in range(0, len(rows), BATCH):
        part = rows[start : start + BATCH]
        document = json.dumps(
            [{f"c{i}": row[f] for i, f in enumerate(fields)} for row in part],
            default=str,  # dates as ISO strings, which PostgreSQL reads back as dates
            separators=(",", ":"),
        )
        params: dict[str, Any] = {f"w{i}": value for i, value in enumerate(where.values())}
        params["rows"] = document
        if stamp:
            params["stamp"] = utcnow()
        matched += int(cast(Any, db_session.execute(statement, params)).rowcount)
    return matched
