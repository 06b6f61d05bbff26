"""Reading an uploaded CSV: its encoding, its header, its rows (shared by every import).

Files come from Excel and from shipping systems: UTF-8 with or without a BOM, or CP932
(Shift_JIS as Windows writes it). A header that does not fit the import refuses the
whole file before anything changes; what is wrong in a row is that row's result.
"""

import csv
import io
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kessai.core.errors import InvalidInput
from kessai.core.inputs import CONTROL_MESSAGE, find_control

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
BOM = b"\xef\xbb\xbf"
# What an uploader may say; "auto" tries UTF-8, then CP932.
ENCODINGS = {
    "auto": "auto",
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "cp932": "cp932",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
}


@dataclass(frozen=True)
class Column:
    key: str  # the name the import's code uses
    headers: tuple[str, ...]  # what operators write in the header row, first one shown


@dataclass(frozen=True)
class HeaderSpec:
    columns: tuple[Column, ...]
    required: tuple[str, ...]  # keys every file must have
    one_of: tuple[str, ...] = ()  # keys of which a file must have at least one

    def label(self, key: str) -> str:
        return next(c.headers[0] for c in self.columns if c.key == key)


@dataclass(frozen=True)
class Table:
    encoding: str  # utf-8 or cp932, as read
    keys: tuple[str, ...]  # the columns the file has, in its order
    rows: tuple[tuple[int, dict[str, str]], ...]  # (row number as Excel shows it, cells)


def _clean(text: str) -> str:
    # Full-width digits and hyphens (１２３－４５６) are what many tools write.
    return unicodedata.normalize("NFKC", text).strip()


def decode(raw: bytes, encoding: str = "auto") -> tuple[str, str]:
    """The text and the encoding it was read with."""
    wanted = ENCODINGS.get((encoding or "auto").strip().lower())
    if wanted is None:
        raise InvalidInput(
            "文字コードは auto・utf-8・cp932 (Shift_JIS) のいずれかを指定してください",
            code="invalid_encoding",
        )
    if raw.startswith(BOM):  # Excel's「CSV UTF-8」: the mark says what the file is
        wanted = "utf-8"
        raw = raw[len(BOM) :]
    tries = ("utf-8", "cp932") if wanted == "auto" else (wanted,)
    for codec in tries:
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError:
            continue
    shown = "UTF-8 と Shift_JIS (CP932) のどちら" if wanted == "auto" else wanted.upper()
    raise InvalidInput(
        f"ファイルを{shown}としても読めませんでした。文字コードを確認してください",
        code="invalid_encoding",
    )


def _header(spec: HeaderSpec, cells: Sequence[str]) -> tuple[str, ...]:
    by_header = {_clean(h): c.key for c in spec.columns for h in c.headers}
    keys: list[str] = []
    unknown: list[str] = []
    duplicate: list[str] = []
    for cell in cells:
        name = _clean(cell)
        if not name:  # a trailing comma: a column with no name and nothing to import
            keys.append("")
            continue
        key = by_header.get(name)
        if key is None:
            unknown.append(name)
        elif key in keys:
            duplicate.append(name)
        keys.append(key or "")
    problems: list[str] = []
    missing = [spec.label(k) for k in spec.required if k not in keys]
    if missing:
        problems.append("「" + "」「".join(missing) + "」の列がありません")
    if spec.one_of and not any(k in keys for k in spec.one_of):
        names = "・".join(spec.label(k) for k in spec.one_of)
        problems.append(f"{names}のいずれかの列が必要です")
    if unknown:
        problems.append("「" + "」「".join(unknown) + "」は取り込めない列です")
    if duplicate:
        problems.append("「" + "」「".join(duplicate) + "」の列が重複しています")
    if problems:
        allowed = "、".join(c.headers[0] for c in spec.columns)
        raise InvalidInput(
            f"CSVのヘッダー(1行目)が正しくありません: {'。'.join(problems)}(使える列: {allowed})",
            code="invalid_csv_header",
            detail={"missing": missing, "unknown": unknown, "duplicate": duplicate},
        )
    return tuple(keys)


def check_size(raw: bytes) -> None:
    if len(raw) > MAX_BYTES:
        raise InvalidInput(
            f"ファイルが大きすぎます({MAX_BYTES // 1024 // 1024}MBまで)。"
            "分割して取り込んでください",
            code="file_too_large",
        )


def read_table(raw: bytes, spec: HeaderSpec, encoding: str = "auto") -> Table:
    check_size(raw)
    text, codec = decode(raw, encoding)
    at = find_control(text)
    if at >= 0:
        line = text.count("\n", 0, at) + 1
        raise InvalidInput(
            f"{CONTROL_MESSAGE}: {line}行目", code="control_character", detail={"line": line}
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    keys: tuple[str, ...] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        # Rows are numbered as a spreadsheet shows them: one per record, blank ones too.
        for number, cells in enumerate(reader, start=1):
            if not any(c.strip() for c in cells):
                continue
            if keys is None:
                keys = _header(spec, cells)
                continue
            if len(rows) >= MAX_ROWS:
                raise InvalidInput(
                    f"取り込める行は{MAX_ROWS:,}行までです。分割して取り込んでください",
                    code="too_many_rows",
                )
            row = {k: _clean(v) for k, v in zip(keys, cells, strict=False) if k}
            if any(c.strip() for c in cells[len(keys) :]):
                row[EXTRA] = "1"
            rows.append((number, row))
    except csv.Error as exc:
        raise InvalidInput(
            f"CSVの形式が正しくありません({reader.line_num}行目付近: {exc})", code="invalid_csv"
        ) from None
    if keys is None:
        raise InvalidInput("CSVファイルが空です", code="empty_csv")
    if not rows:
        raise InvalidInput("取り込む行がありません(ヘッダーのみのファイルです)", code="empty_csv")
    return Table(codec, keys, tuple(rows))


# Marks a row with more cells than the header has columns (the row's own error).
EXTRA = "__extra__"
EXTRA_CELLS = "列の数がヘッダーより多くなっています"


def cell(row: Mapping[str, str], key: str) -> str:
    return row.get(key, "")
