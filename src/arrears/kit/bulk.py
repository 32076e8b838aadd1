"""Writing many rows at once.

``insert_rows`` is a binary ``COPY`` on PostgreSQL (ids reserved from the sequence when
the caller needs them) and a batched ``INSERT`` elsewhere. ``update_rows`` sets each row's
own values: on PostgreSQL the rows travel as one JSON document read by
``json_to_recordset``, one statement per batch however many rows; elsewhere (SQLite, where
statements cost no round trip) it is an ``executemany``. ``among`` tests a column against
thousands of ids: one array parameter on PostgreSQL rather than thousands of placeholders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, cast

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Integer,
    SmallInteger,
    String,
    Table,
    any_,
    bindparam,
    insert,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from arrears.kit.db import utcnow

BATCH = 10_000


def among(db_session: Session, column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """``column IN ids``: on PostgreSQL ``= ANY(array)``, one parameter however many ids."""
    values = list(ids)
    if db_session.get_bind().dialect.name == "postgresql":
        return cast(
            ColumnElement[bool], column == any_(bindparam(None, values, type_=ARRAY(BigInteger)))
        )
    return cast(ColumnElement[bool], column.in_(values))


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
    names_in_record = [f"c{i}" for i in range(len(fields))]
    values_of = itemgetter(*fields) if len(fields) > 1 else lambda row: (row[fields[0]],)
    for start in range(0, len(rows), BATCH):
        part = rows[start : start + BATCH]
        # orjson writes dates as ISO strings, which PostgreSQL reads back as dates
        document = orjson.dumps(
            [dict(zip(names_in_record, values_of(row), strict=True)) for row in part]
        ).decode()
        params: dict[str, Any] = {f"w{i}": value for i, value in enumerate(where.values())}
        params["rows"] = document
        if stamp:
            params["stamp"] = utcnow()
        matched += int(cast(Any, db_session.execute(statement, params)).rowcount)
    return matched


def copy_type(column_type: TypeEngine[Any]) -> str:
    """The PostgreSQL type a column's values are sent as in a binary ``COPY``."""
    if isinstance(column_type, TypeDecorator):
        return copy_type(column_type.impl_instance)
    if isinstance(column_type, BigInteger):
        return "int8"
    if isinstance(column_type, SmallInteger):
        return "int2"
    if isinstance(column_type, Integer):
        return "int4"
    if isinstance(column_type, String):
        return "text"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, DateTime):
        return "timestamptz"
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, JSON):
        return "json"
    raise TypeError(f"no COPY type for {column_type!r}")


def binders(db_session: Session, table: Table, columns: Sequence[str]) -> list[tuple[int, Any]]:
    """Converters of decorated columns (scaled decimals, UTC timestamps, JSON), by position."""
    from psycopg.types.json import Json

    dialect = db_session.get_bind().dialect
    out: list[tuple[int, Any]] = []
    for index, name in enumerate(columns):
        column_type = table.c[name].type
        if isinstance(column_type, TypeDecorator):
            out.append((index, lambda v, t=column_type: t.process_bind_param(v, dialect)))
        elif isinstance(column_type, JSON):
            out.append((index, lambda v: None if v is None else Json(v)))
    return out


def copy_rows(
    db_session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    convert: Sequence[tuple[int, Any]] = (),
) -> int:
    """``COPY`` rows (value sequences in ``columns`` order) into ``table`` (PostgreSQL)."""
    raw = db_session.connection().connection.driver_connection
    assert raw is not None
    types = [copy_type(table.c[name].type) for name in columns]
    names = ", ".join(f'"{name}"' for name in columns)
    count = 0
    with (
        raw.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT BINARY)') as copy,
    ):
        copy.set_types(types)
        write = copy.write_row
        if convert:
            for row in rows:
                values = list(row)
                for index, bind in convert:
                    values[index] = bind(values[index])
                write(values)
                count += 1
        else:
            for row in rows:
                write(row)
                count += 1
    return count


def reserve_ids(db_session: Session, table: Table, count: int) -> list[int]:
    """``count`` new ids from the table's sequence (PostgreSQL)."""
    if count == 0:
        return []
    rows = db_session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": table.name, "n": count},
    )
    return [row[0] for row in rows]


def insert_rows(
    db_session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *, ids: bool = False
) -> list[int]:
    """Insert rows (mappings with the same keys); with ``ids``, return their new ids in order.

    Columns a row leaves out get their Python-side defaults, as an ``INSERT`` gives them.
    """
    if not rows:
        return []
    if db_session.get_bind().dialect.name != "postgresql":
        statement = insert(table)
        if not ids:
            db_session.execute(statement, list(rows))
            return []
        returning = statement.returning(table.c.id, sort_by_parameter_order=True)
        return list(db_session.execute(returning, list(rows)).scalars())
    names = list(rows[0])
    defaults = {}
    for column in table.c:
        default = column.default
        if column.name in names or default is None or column.primary_key:
            continue
        if getattr(default, "is_scalar", False):
            defaults[column.name] = lambda value=default.arg: value  # type: ignore[attr-defined]
        elif getattr(default, "is_callable", False):
            defaults[column.name] = lambda call=default.arg: call(None)  # type: ignore[attr-defined]
    new_ids = reserve_ids(db_session, table, len(rows)) if ids else []
    columns = [*(["id"] if ids else []), *names, *defaults]
    filled = {name: make() for name, make in defaults.items()}  # one value for the batch
    values: Iterable[Sequence[Any]] = (
        [*([new_ids[i]] if ids else []), *(row[n] for n in names), *filled.values()]
        for i, row in enumerate(rows)
    )
    copy_rows(db_session, table, columns, values, binders(db_session, table, columns))
    return new_ids
