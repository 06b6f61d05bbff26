"""Reading uploaded CSV files: encodings, header, row numbers as a spreadsheet shows them."""

import pytest

from kessai.core.errors import InvalidInput
from kessai.imports.csvin import EXTRA, Column, HeaderSpec, decode, read_table
from kessai.imports.rows import parse_date

SPEC = HeaderSpec(
    columns=(Column("id", ("受注ID",)), Column("note", ("備考", "メモ"))),
    required=("id",),
)


def test_encodings_are_detected_or_taken_as_given() -> None:
    text = "受注ID,備考\r\n1,ヤマト\r\n"
    assert decode(text.encode("utf-8")) == (text, "utf-8")
    assert decode(b"\xef\xbb\xbf" + text.encode("utf-8")) == (text, "utf-8")
    assert decode(text.encode("cp932")) == (text, "cp932")
    assert decode(text.encode("cp932"), "Shift_JIS") == (text, "cp932")
    assert decode(b"\xef\xbb\xbf" + text.encode("utf-8"), "cp932") == (
        text,
        "utf-8",
    )  # the BOM wins
    with pytest.raises(InvalidInput) as e:
        decode(text.encode("cp932"), "utf-8")
    assert e.value.code == "invalid_encoding"
    with pytest.raises(InvalidInput):
        decode(b"\x81\x00\xff")


def test_rows_are_numbered_as_the_spreadsheet_shows_them() -> None:
    raw = '\r\n受注ID,メモ,\r\n１２,"二行の\n備考"\r\n\r\n13,,,\r\n14,x,y,z\r\n'.encode()
    table = read_table(raw, SPEC)
    assert table.keys == ("id", "note", "")
    assert [n for n, _ in table.rows] == [3, 5, 6]
    assert table.rows[0][1] == {"id": "12", "note": "二行の\n備考"}  # full-width digits folded
    assert table.rows[1][1] == {"id": "13", "note": ""}
    assert table.rows[2][1][EXTRA] == "1"


def test_header_problems_are_all_told_at_once() -> None:
    with pytest.raises(InvalidInput) as e:
        read_table("備考,受注番号,備考\r\n1,2,3\r\n".encode(), SPEC)
    assert e.value.code == "invalid_csv_header"
    assert e.value.detail == {"missing": ["受注ID"], "unknown": ["受注番号"], "duplicate": ["備考"]}
    assert "使える列: 受注ID、備考" in e.value.message


@pytest.mark.parametrize(
    ("raw", "day"),
    [
        ("2026/03/02", (2026, 3, 2)),
        ("2026-3-2", (2026, 3, 2)),
        ("2026年3月2日", (2026, 3, 2)),
        ("20260302", (2026, 3, 2)),
        ("2026/02/30", None),
        ("03/02/2026", None),
        ("明日", None),
    ],
)
def test_shipping_dates(raw: str, day: tuple[int, int, int] | None) -> None:
    parsed = parse_date(raw)
    assert (None if parsed is None else (parsed.year, parsed.month, parsed.day)) == day
