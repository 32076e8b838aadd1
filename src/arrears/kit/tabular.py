"""Reading tabular files (CSV and Excel) as a stream of rows keyed by column name.

CSV files may be UTF-8 (with or without a byte-order mark) or GBK/GB18030, as saved by a
Chinese Excel; the encoding is detected, not guessed per row. XLSX files are read from the
first sheet in openpyxl's read-only mode. Either way rows are streamed: memory stays flat
however long the file is.

Header names are trimmed and lower-cased. Required columns that are missing make the file
unreadable (``ValidationFailed`` listing them); columns nobody asked for are ignored and
named in ``warnings``. Row numbers are the ones a spreadsheet shows: the header is row 1,
the first data row is row 2. Rows whose cells are all empty are skipped.
"""

from __future__ import annotations

import codecs
import csv
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from arrears.kit.errors import ValidationFailed

# A cell value as callers see it: text (trimmed, "" for an empty cell), or a date/datetime
# that an Excel cell held.
Cell = str | date | datetime

_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls format
_READ_BLOCK = 1 << 20

# quoted fields longer than csv's default limit (128 KiB) are refused rather than read
csv.field_size_limit(min(sys.maxsize, 1 << 24))


def normalise_header(name: object) -> str:
    """A header cell as a column name: trimmed, lower-cased, BOM and NBSP removed."""
    text = "" if name is None else str(name)
    return text.replace("\ufeff", "").replace("\xa0", " ").strip().lower()


@dataclass
class TabularFile:
    """An open tabular file: its columns, what was noticed about it, and its rows."""

    path: Path
    format: str  # csv | xlsx
    encoding: str | None
    columns: list[str]
    unknown_columns: list[str]
    warnings: list[str]
    # data rows, estimated before reading them (exact unless cells hold line breaks)
    estimated_rows: int | None
    _rows: Iterator[tuple[int, dict[str, Cell]]] = field(repr=False)

    def rows(self) -> Iterator[tuple[int, dict[str, Cell]]]:
        """``(row_number, {column: value})`` for each non-blank data row, in file order."""
        return self._rows


def detect_format(path: Path, name: str | None = None) -> str:
    """``xlsx`` or ``csv`` from the file's first bytes; refuses the old binary .xls."""
    shown = name or path.name
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise ValidationFailed(f"cannot read {shown}: {exc}", code="unreadable_file") from None
    if head.startswith(_XLSX_MAGIC):
        return "xlsx"
    if head.startswith(_OLE_MAGIC):
        raise ValidationFailed(
            f"{shown} is an old Excel 97–2003 (.xls) workbook; save it as .xlsx or CSV",
            code="unsupported_format",
        )
    return "csv"


def detect_encoding(path: Path) -> tuple[str, int]:
    """The CSV encoding (``utf-8-sig`` if the whole file is valid UTF-8, else ``gb18030``)
    and the number of line breaks, in one streaming pass."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    utf8 = True
    lines = 0
    last = b""
    with path.open("rb") as handle:
        while block := handle.read(_READ_BLOCK):
            lines += block.count(b"\n")
            last = block
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if last and not last.endswith(b"\n"):
        lines += 1
    return ("utf-8-sig" if utf8 else "gb18030"), lines


def _check_columns(
    name: str,
    header: Sequence[str],
    required: Sequence[str],
    optional: Sequence[str],
) -> tuple[list[str], list[str]]:
    names = [h for h in header if h]
    seen = set(names)
    duplicates = sorted(h for h in seen if names.count(h) > 1)
    if duplicates:
        raise ValidationFailed(
            f"{name}: these columns appear more than once: {', '.join(duplicates)}",
            code="duplicate_columns",
            columns=duplicates,
        )
    missing = [c for c in required if c not in seen]
    if missing:
        raise ValidationFailed(
            f"{name} lacks required columns: {', '.join(missing)} "
            f"(it has: {', '.join(names) or 'no header'})",
            code="missing_columns",
            missing=missing,
        )
    known = set(required) | set(optional)
    unknown = [h for h in names if h not in known]
    return names, unknown


def _excel_value(value: Any) -> Cell:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date() if value.time() == time() else value
    if isinstance(value, date):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # 12.0 is what Excel stores for 12; other floats read back as the user typed them
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _csv_rows(
    handle: IO[str], header: list[str], delimiter: str
) -> Iterator[tuple[int, dict[str, Cell]]]:
    reader = csv.reader(handle, delimiter=delimiter)
    width = len(header)
    for row_number, record in enumerate(reader, start=2):
        values = [v.strip() for v in record]
        if not any(values):
            continue
        if len(values) < width:
            values.extend([""] * (width - len(values)))
        yield row_number, dict(zip(header, values, strict=False))


def _sniff_delimiter(line: str) -> str:
    if "," in line:
        return ","
    for candidate in ("\t", ";"):
        if candidate in line:
            return candidate
    return ","


@contextmanager
def _open_csv(
    path: Path, name: str, required: Sequence[str], optional: Sequence[str]
) -> Iterator[TabularFile]:
    encoding, lines = detect_encoding(path)
    with path.open("r", encoding=encoding, errors="strict", newline="") as handle:
        first = handle.readline()
        if not first.strip():
            raise ValidationFailed(
                f"{name} is empty: the first line must name the columns",
                code="empty_file",
            )
        delimiter = _sniff_delimiter(first)
        header = [normalise_header(h) for h in next(csv.reader([first], delimiter=delimiter))]
        names, unknown = _check_columns(name, header, required, optional)
        warnings = [f"ignored unknown columns: {', '.join(unknown)}"] if unknown else []
        yield TabularFile(
            path=path,
            format="csv",
            encoding="utf-8" if encoding == "utf-8-sig" else encoding,
            columns=names,
            unknown_columns=unknown,
            warnings=warnings,
            estimated_rows=max(lines - 1, 0),
            _rows=_csv_rows(handle, header, delimiter),
        )


def _xlsx_rows(
    sheet_rows: Iterator[tuple[Any, ...]], header: list[str]
) -> Iterator[tuple[int, dict[str, Cell]]]:
    width = len(header)
    for row_number, raw in enumerate(sheet_rows, start=2):
        values = [_excel_value(v) for v in raw[:width]]
        if not any(v != "" for v in values):
            continue
        if len(values) < width:
            values.extend([""] * (width - len(values)))
        yield row_number, dict(zip(header, values, strict=False))


@contextmanager
def _open_xlsx(
    path: Path, name: str, required: Sequence[str], optional: Sequence[str]
) -> Iterator[TabularFile]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ValidationFailed(
            f"{name} cannot be read as an Excel workbook ({exc})", code="unreadable_file"
        ) from None
    try:
        if not workbook.worksheets:
            raise ValidationFailed(f"{name} has no sheets", code="empty_file")
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        if first is None or not any(v is not None and str(v).strip() for v in first):
            raise ValidationFailed(
                f"{name}: the first row of the first sheet must name the columns",
                code="empty_file",
            )
        header = [normalise_header(h) for h in first]
        while header and not header[-1]:
            header.pop()
        names, unknown = _check_columns(name, header, required, optional)
        warnings = [f"ignored unknown columns: {', '.join(unknown)}"] if unknown else []
        max_row = sheet.max_row
        yield TabularFile(
            path=path,
            format="xlsx",
            encoding=None,
            columns=names,
            unknown_columns=unknown,
            warnings=warnings,
            estimated_rows=max(max_row - 1, 0) if isinstance(max_row, int) else None,
            _rows=_xlsx_rows(rows, header),
        )
    finally:
        workbook.close()


@contextmanager
def open_table(
    path: Path,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    name: str | None = None,
) -> Iterator[TabularFile]:
    """Open a CSV or XLSX file, check its columns, and stream its rows within the block.

    Raises ``ValidationFailed`` when the file cannot be read, is empty, repeats a column
    or lacks a required one; messages call the file ``name`` (default: its file name).
    Rows are read lazily while the block is open.
    """
    shown = name or path.name
    if not path.is_file():
        raise ValidationFailed(f"{shown} is not a file", code="unreadable_file")
    opener = _open_xlsx if detect_format(path, shown) == "xlsx" else _open_csv
    try:
        with opener(path, shown, required, optional) as table:
            yield table
    except csv.Error as exc:
        raise ValidationFailed(f"{shown} is not valid CSV: {exc}", code="invalid_csv") from None
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"{shown} is neither UTF-8 nor GBK/GB18030 text ({exc.reason})",
            code="unreadable_file",
        ) from None


def read_rows(
    path: Path, *, required: Sequence[str], optional: Sequence[str] = ()
) -> list[tuple[int, dict[str, Cell]]]:
    """Every row of a (small) file at once; for tests and tools, not for imports."""
    with open_table(path, required=required, optional=optional) as table:
        return list(table.rows())


__all__ = [
    "Cell",
    "TabularFile",
    "detect_encoding",
    "detect_format",
    "normalise_header",
    "open_table",
    "read_rows",
]
