"""What every import kind shares: row errors, cell parsers, the run context, bulk writes.

Parsers take a cell as ``arrears.kit.tabular`` yields it (trimmed text, or a date from an
Excel cell) and raise ``FieldError`` with a sentence a person can act on. ``BulkWriter``
writes rows set-based: ``COPY`` on PostgreSQL, batched ``INSERT`` on SQLite.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, cast

from sqlalchemy import (
    Column,
    Table,
    any_,
    bindparam,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from arrears.kit import bulk
from arrears.kit.errors import ValidationFailed
from arrears.kit.money import parse_amount, to_minor
from arrears.kit.tabular import Cell

LOOKUP_CHUNK = 5_000
LOCK_WAIT = "5s"  # how long a large import waits to lock the tables it loads
MAX_AMOUNT = Decimal("999999999999999")  # far beyond any loan; fits 64-bit minor units
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)
REF_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_DATE = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")

Row = dict[str, Cell]
Progress = Callable[[str, int, int | None], None]


# --- errors ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one cell (or row) of a file, as a spreadsheet numbers rows."""

    row: int
    column: str
    value: str
    message: str
    code: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FieldError(Exception):
    """A cell that does not hold what its column needs."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def cell_text(value: Cell) -> str:
    """A cell as text, for messages and text columns."""
    if isinstance(value, str):
        return value
    return value.isoformat()


# --- parsers ---------------------------------------------------------------------------


def parse_ref(value: Cell, column: str) -> str:
    """A reference: 1–64 letters, digits, ``_``, ``.`` or ``-``."""
    ref = cell_text(value)
    if REF_PATTERN.match(ref):
        return ref
    if not ref:
        raise FieldError(f"{column} is empty", "missing_value")
    if len(ref) > 64:
        raise FieldError(f"{column} is longer than 64 characters", "too_long")
    raise FieldError(
        f"{column} '{ref}' may only hold letters, digits, '_', '.' and '-'", "invalid_ref"
    )


def parse_date(value: Cell, column: str) -> date:
    """A date: ``YYYY-MM-DD``, ``YYYY/MM/DD``, ``YYYYMMDD`` or an Excel date cell."""
    if isinstance(value, datetime):
        found = value.date()
    elif isinstance(value, date):
        found = value
    else:
        if not value:
            raise FieldError(f"{column} is empty", "missing_value")
        match = _DATE.match(value) or _COMPACT_DATE.match(value)
        if match is None:
            raise FieldError(
                f"{column} '{value}' is not a date; write it as YYYY-MM-DD", "invalid_date"
            )
        try:
            found = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise FieldError(f"{column} '{value}' is not a calendar date", "invalid_date") from None
    if not EARLIEST_DATE <= found <= LATEST_DATE:
        raise FieldError(
            f"{column} {found.isoformat()} is not between {EARLIEST_DATE.isoformat()} "
            f"and {LATEST_DATE.isoformat()}",
            "invalid_date",
        )
    return found


def parse_int(value: Cell, column: str, *, low: int, high: int) -> int:
    """A whole number between ``low`` and ``high``."""
    raw = cell_text(value)
    if not raw:
        raise FieldError(f"{column} is empty", "missing_value")
    try:
        number = int(raw)
    except ValueError:
        try:
            exact = Decimal(raw)
        except InvalidOperation:
            exact = Decimal("NaN")
        if not exact.is_finite() or exact != exact.to_integral_value():
            raise FieldError(f"{column} '{raw}' is not a whole number", "invalid_number") from None
        number = int(exact)
    if not low <= number <= high:
        raise FieldError(f"{column} {number} is not between {low} and {high}", "out_of_range")
    return number


def parse_money(
    value: Cell, column: str, currency: str, *, allow_zero: bool = True, empty_is_zero: bool = False
) -> int:
    """A money amount in minor units of ``currency``; refuses finer amounts and negatives."""
    raw = cell_text(value)
    if not raw:
        if empty_is_zero:
            return 0
        raise FieldError(f"{column} is empty", "missing_value")
    try:
        amount = parse_amount(raw, field=column)
        if amount < 0:
            raise FieldError(f"{column} {raw} is negative", "negative_amount")
        if amount > MAX_AMOUNT:
            raise FieldError(f"{column} {raw} is too large", "out_of_range")
        minor = to_minor(amount, currency, field=column)
    except ValidationFailed as exc:
        raise FieldError(exc.message, exc.code) from None
    if minor == 0 and not allow_zero:
        raise FieldError(f"{column} must be greater than zero", "invalid_amount")
    return minor


def parse_rate(value: Cell, column: str) -> Decimal:
    """A rate in percent per year ("4.9" or "4.9%"), 0–1000, at most 6 decimals."""
    raw = cell_text(value).removesuffix("%").strip()
    if not raw:
        raise FieldError(f"{column} is empty", "missing_value")
    try:
        rate = Decimal(raw)
    except InvalidOperation:
        raise FieldError(f"{column} '{raw}' is not a number", "invalid_rate") from None
    if not rate.is_finite() or not 0 <= rate <= 1000:
        raise FieldError(
            f"{column} {raw} is not a rate between 0 and 1000 percent a year", "invalid_rate"
        )
    if (rate * 1_000_000) % 1:
        raise FieldError(f"{column} {raw} has more than 6 decimals", "invalid_rate")
    return rate


def parse_optional_text(value: Cell, column: str, max_length: int) -> str | None:
    """Free text, ``None`` when empty."""
    raw = cell_text(value)
    if not raw:
        return None
    if len(raw) > max_length:
        raise FieldError(f"{column} is longer than {max_length} characters", "too_long")
    return raw


class RowCheck:
    """Collects the errors of one row while its cells are parsed."""

    __slots__ = ("errors", "row", "row_number")

    def __init__(self, row_number: int, row: Row) -> None:
        self.row_number = row_number
        self.row = row
        self.errors: list[RowError] = []

    def get(self, column: str, parser: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``parser(cell, column, ...)``; ``None`` (and an error noted) if it fails."""
        value = self.row.get(column, "")
        try:
            return parser(value, column, *args, **kwargs)
        except FieldError as exc:
            self.fail(column, exc.message, exc.code)
            return None

    def fail(self, column: str, message: str, code: str, value: str | None = None) -> None:
        """Note a problem with ``column`` of this row."""
        shown = cell_text(self.row.get(column, "")) if value is None else value
        self.errors.append(RowError(self.row_number, column, shown, message, code))


# --- the run ------------------------------------------------------------------------------


MAX_KEPT_ERRORS = 10_000


@dataclass
class ImportContext:
    """The state of one import run, shared by the kind's importer."""

    db_session: Session
    dry_run: bool
    skip_invalid: bool
    now: datetime
    batch_size: int
    progress: Progress | None = None
    rows_total: int = 0
    rows_invalid: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0
    warnings: list[str] = field(default_factory=list)
    # a large import on PostgreSQL: foreign keys re-created after loading, schedules
    # generated in a helper process
    bulk: bool = False
    writer: BulkWriter = field(init=False)

    def __post_init__(self) -> None:
        self.writer = BulkWriter(self.db_session, self.batch_size)

    @property
    def writing(self) -> bool:
        """Whether rows are written: not on a dry run, and not once a strict run has failed."""
        return not self.dry_run and (self.skip_invalid or self.errors_total == 0)

    def reject(self, errors: Sequence[RowError], rows: int = 1) -> None:
        """Count ``rows`` rows as invalid because of ``errors``."""
        self.rows_invalid += rows
        self.errors_total += len(errors)
        room = MAX_KEPT_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])

    def report_progress(self, stage: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)


class Importer(ABC):
    """One kind of import: its columns, how a chunk of rows is checked and stored."""

    kind: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    optional: ClassVar[tuple[str, ...]] = ()
    # tables whose foreign keys a large import re-creates after loading instead of
    # checking row by row (see ``BulkWriter.drop_foreign_keys``)
    bulk_tables: ClassVar[tuple[Table, ...]] = ()

    def __init__(self, ctx: ImportContext, columns: Collection[str]) -> None:
        self.ctx = ctx
        self.columns = set(columns)
        self.seen_refs: set[str] = set()

    @abstractmethod
    def parse(self, chunk: list[tuple[int, Row]]) -> Any:
        """Check a chunk of rows on their own, without the database (which may be busy
        storing the previous chunk meanwhile); invalid rows are rejected here."""

    @abstractmethod
    def apply(self, parsed: Any) -> None:
        """Check parsed rows against the book, count what they do, write them if writing."""

    def finish(self) -> None:
        """Work left once every row has been processed."""
        return None

    def close(self) -> None:
        """Release what the importer holds (always called, also after an error)."""
        return None

    def first_sighting(self, check: RowCheck, column: str, ref: str | None) -> bool:
        """False (and a row error) when ``ref`` already appeared earlier in the file."""
        if ref is None:
            return True
        if ref in self.seen_refs:
            check.fail(
                column, f"{column} '{ref}' appears more than once in the file", "duplicate_ref"
            )
            return False
        self.seen_refs.add(ref)
        return True


# --- bulk reads and writes -------------------------------------------------------------------


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def matching(db_session: Session, column: Column[Any], values: Sequence[Any]) -> Any:
    """``column IN values`` as the database runs it fastest: one array parameter on
    PostgreSQL (``= ANY(:values)``), an expanded ``IN`` elsewhere."""
    if db_session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("matching_values", list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def lookup(
    db_session: Session, key: Column[Any], columns: Sequence[Any], keys: Collection[Any]
) -> dict[Any, Any]:
    """``{key: row}`` of the rows whose ``key`` is among ``keys``, in chunks."""
    found: dict[Any, Any] = {}
    ordered = sorted(set(keys))
    for part in chunked(ordered, LOOKUP_CHUNK):
        query = select(key, *columns).where(matching(db_session, key, part))
        for row in db_session.execute(query):
            found[row[0]] = row
    return found


class BulkWriter:
    """Set-based inserts: binary ``COPY`` on PostgreSQL, batched ``INSERT`` on SQLite."""

    def __init__(self, db_session: Session, batch_size: int) -> None:
        self.db_session = db_session
        self.batch_size = max(batch_size, 1)
        self.postgres = db_session.get_bind().dialect.name == "postgresql"
        self._background: threading.Thread | None = None
        self._background_error: BaseException | None = None

    def in_background(self, work: Callable[[], Any]) -> None:
        """Run ``work`` (one last COPY of a chunk) in a thread while the next chunk is parsed.

        The connection is the session's: nothing else may use the database until
        ``wait()`` has returned. On SQLite the work is simply done now.
        """
        self.wait()
        if not self.postgres:
            work()
            return

        def run() -> None:
            try:
                work()
            except BaseException as exc:
                self._background_error = exc

        self._background = threading.Thread(target=run, name="arrears-import-copy", daemon=True)
        self._background.start()

    def wait(self) -> None:
        """Wait for background work; re-raise what it raised."""
        if self._background is not None:
            self._background.join()
            self._background = None
        if self._background_error is not None:
            error, self._background_error = self._background_error, None
            raise error

    def _driver_connection(self) -> Any:
        return self.db_session.connection().connection.driver_connection

    def _binders(self, table: Table, columns: Sequence[str]) -> list[tuple[int, Any]]:
        # values of decorated columns (scaled decimals, UTC timestamps) as the table stores them
        return bulk.binders(self.db_session, table, columns)

    def reserve_ids(self, table: Table, count: int) -> list[int]:
        """``count`` new ids from the table's sequence (PostgreSQL)."""
        return bulk.reserve_ids(self.db_session, table, count)

    def drop_foreign_keys(self, tables: Sequence[Table]) -> list[tuple[str, str, str]]:
        """Drop the foreign keys of ``tables`` (PostgreSQL); returns what re-creates them.

        Checking a foreign key row by row costs more than storing the row; re-creating the
        key after a bulk load checks every row at once. Until the transaction ends the
        tables are locked (readers wait), so this is only for large imports.
        """
        if not self.postgres or not tables:
            return []
        rows = self.db_session.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid = ANY(CAST(:tables AS regclass[]))"
            ),
            {"tables": [t.name for t in tables]},
        ).all()
        dropped = [(str(table), str(name), str(definition)) for table, name, definition in rows]
        session = self.db_session
        previous = session.scalar(text("SELECT current_setting('lock_timeout')"))
        attempt = session.begin_nested()
        try:
            # someone else is working on these tables: load them the slower way instead
            # of waiting for them
            session.execute(text(f"SELECT set_config('lock_timeout', '{LOCK_WAIT}', true)"))
            for table, name, _ in dropped:
                session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
            attempt.commit()
        except OperationalError:
            attempt.rollback()
            dropped = []
        session.execute(
            text("SELECT set_config('lock_timeout', :previous, true)"), {"previous": previous}
        )
        return dropped

    def restore_foreign_keys(self, dropped: Sequence[tuple[str, str, str]]) -> None:
        """Re-create foreign keys ``drop_foreign_keys`` dropped (checking every row)."""
        for table, name, definition in dropped:
            self.db_session.execute(
                text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            )

    def insert(self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Insert ``rows`` (tuples in ``columns`` order); returns how many."""
        binders = self._binders(table, columns)
        if self.postgres:
            return self._copy(table, columns, rows, binders)
        count = 0
        batch: list[dict[str, Any]] = []
        statement = insert(table)
        for row in rows:
            batch.append(dict(zip(columns, row, strict=True)))
            if len(batch) >= self.batch_size:
                self.db_session.execute(statement, batch)
                count += len(batch)
                batch = []
        if batch:
            self.db_session.execute(statement, batch)
            count += len(batch)
        return count

    def insert_with_ids(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[int]:
        """Insert ``rows`` and return their new ids, in order."""
        if not rows:
            return []
        if self.postgres:
            ids = self.reserve_ids(table, len(rows))
            self.insert(
                table,
                ("id", *columns),
                ((new_id, *row) for new_id, row in zip(ids, rows, strict=True)),
            )
            return ids
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = []
        for part in chunked(rows, self.batch_size):
            params = [dict(zip(columns, row, strict=True)) for row in part]
            ids.extend(r[0] for r in self.db_session.execute(statement, params))
        return ids

    def copy_binary(self, table: Table, columns: Sequence[str], blocks: Iterable[bytes]) -> None:
        """``COPY`` rows already encoded in PostgreSQL's binary COPY format."""
        from arrears.loans.imports_workers import COPY_HEADER, COPY_TRAILER

        raw = self._driver_connection()
        names = ", ".join(f'"{name}"' for name in columns)
        with (
            raw.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT BINARY)') as copy,
        ):
            # in block mode the whole stream is ours, header and trailer included
            copy.write(COPY_HEADER)
            for block in blocks:
                copy.write(block)
            copy.write(COPY_TRAILER)

    def _copy(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        binders: list[tuple[int, Any]],
    ) -> int:
        return bulk.copy_rows(self.db_session, table, columns, rows, binders)


def table_of(model: Any) -> Table:
    """The Core table of an ORM model."""
    return cast(Table, model.__table__)
