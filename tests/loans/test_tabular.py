"""Reading CSV and XLSX files as rows keyed by column name."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from arrears.kit.errors import ValidationFailed
from arrears.kit.tabular import detect_encoding, open_table, read_rows

COLUMNS = ("customer_ref", "name", "city")
TEXT = "Customer_Ref , Name ,city\nC1,张三,北京\nC2,李四,上海\n"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8"), ("gbk", "gb18030"), ("gb18030", "gb18030")],
)
def test_csv_in_utf8_with_or_without_bom_and_in_gbk_reads_the_same(
    tmp_path: Path, encoding: str, expected: str
) -> None:
    path = write(tmp_path, "c.csv", TEXT.encode(encoding))
    with open_table(path, required=COLUMNS) as table:
        rows = list(table.rows())
        assert table.encoding == expected
        assert table.columns == ["customer_ref", "name", "city"]
    assert rows == [
        (2, {"customer_ref": "C1", "name": "张三", "city": "北京"}),
        (3, {"customer_ref": "C2", "name": "李四", "city": "上海"}),
    ]


def test_a_file_that_is_valid_utf8_until_its_end_is_still_read_as_gbk(tmp_path: Path) -> None:
    # the non-UTF-8 byte comes after the first megabyte: detection reads the whole file
    body = "C1,x,y\n" * 200_000 + "C2,王五,杭州\n"
    path = write(tmp_path, "c.csv", ("customer_ref,name,city\n" + body).encode("gbk"))
    encoding, lines = detect_encoding(path)
    assert encoding == "gb18030"
    assert lines == 200_002
    rows = read_rows(path, required=COLUMNS)
    assert rows[-1] == (200_002, {"customer_ref": "C2", "name": "王五", "city": "杭州"})


def test_missing_required_columns_are_all_named(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", b"customer_ref,town\nC1,x\n")
    with pytest.raises(ValidationFailed) as caught, open_table(path, required=COLUMNS):
        pass
    assert caught.value.code == "missing_columns"
    assert caught.value.details["missing"] == ["name", "city"]
    assert "name, city" in caught.value.message


def test_unknown_columns_are_ignored_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "customer_ref,name,city,备注\nC1,张三,北京,VIP\n".encode())
    with open_table(path, required=COLUMNS) as table:
        assert table.unknown_columns == ["备注"]
        assert table.warnings == ["ignored unknown columns: 备注"]
        assert next(table.rows())[1]["name"] == "张三"


def test_a_column_named_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", b"customer_ref,name,Name,city\n")
    with (
        pytest.raises(ValidationFailed, match="more than once: name"),
        open_table(path, required=COLUMNS),
    ):
        pass


def test_blank_rows_are_skipped_but_keep_their_row_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", b"customer_ref,name,city\n\n , ,\nC3,x,y\nC4\n")
    assert read_rows(path, required=COLUMNS) == [
        (4, {"customer_ref": "C3", "name": "x", "city": "y"}),
        (5, {"customer_ref": "C4", "name": "", "city": ""}),
    ]


def test_a_quoted_cell_with_a_line_break_is_one_row(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", b'customer_ref,name,city\nC1,"a\nb",x\nC2,c,y\n')
    rows = read_rows(path, required=COLUMNS)
    assert [number for number, _ in rows] == [2, 3]
    assert rows[0][1]["name"] == "a\nb"


def test_tab_separated_text_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "c.txt", "customer_ref\tname\tcity\nC1\t张三\t北京\n".encode())
    assert read_rows(path, required=COLUMNS)[0][1]["city"] == "北京"


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", b"")
    with pytest.raises(ValidationFailed) as caught, open_table(path, required=COLUMNS):
        pass
    assert caught.value.code == "empty_file"


def test_a_header_without_rows_has_no_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", b"customer_ref,name,city\r\n")
    assert read_rows(path, required=COLUMNS) == []


def test_the_old_xls_format_is_refused_with_advice(tmp_path: Path) -> None:
    path = write(tmp_path, "c.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with (
        pytest.raises(ValidationFailed, match=r"save it as \.xlsx or CSV"),
        open_table(path, required=COLUMNS),
    ):
        pass


def test_a_broken_xlsx_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "c.xlsx", b"PK\x03\x04 not really a zip")
    with pytest.raises(ValidationFailed) as caught, open_table(path, required=COLUMNS):
        pass
    assert caught.value.code == "unreadable_file"


def test_xlsx_first_sheet_with_numbers_and_dates(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Loan_Ref", "principal", "term_months", "disbursed_on", "paid_at"])
    sheet.append(["L1", 1250.5, 12, datetime(2023, 1, 1), datetime(2023, 1, 1, 9, 30)])
    sheet.append([None, None, None, None, None])
    sheet.append(["L2", 1250.0, 6.0, date(2023, 2, 1), "  text  "])
    other = workbook.create_sheet("ignored")
    other.append(["loan_ref"])
    path = tmp_path / "loans.xlsx"
    workbook.save(path)
    with open_table(path, required=("loan_ref", "principal")) as table:
        assert table.format == "xlsx"
        assert table.estimated_rows == 3
        rows = list(table.rows())
    assert rows[0] == (
        2,
        {
            "loan_ref": "L1",
            "principal": "1250.5",
            "term_months": "12",
            "disbursed_on": date(2023, 1, 1),
            "paid_at": datetime(2023, 1, 1, 9, 30),
        },
    )
    assert rows[1][0] == 4
    assert rows[1][1]["principal"] == "1250"
    assert rows[1][1]["term_months"] == "6"
    assert rows[1][1]["paid_at"] == "text"


def test_xlsx_missing_columns_are_named(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(["loan_ref"])
    path = tmp_path / "loans.xlsx"
    workbook.save(path)
    with (
        pytest.raises(ValidationFailed) as caught,
        open_table(path, required=("loan_ref", "principal"), name="上传.xlsx"),
    ):
        pass
    assert caught.value.details["missing"] == ["principal"]
    assert caught.value.message.startswith("上传.xlsx")
