"""GMO PG's batch files exchanged over SFTP (SFTP 連携オプション), declared in one place.

Beside the rooms, not in GMO PG's: the file formats are the contract between kessai's
自動洗替 / 継続課金 (cardupdater, recurring) and GMO, read by those domains and by GMO's
simulator alike, so neither has to reach into the other.

GMO publishes the exact layout of the 自動洗替 files only in the merchant's spec sheet
(「SFTPサーバ設定のお知らせ」 and the 洗替 specification). kessai therefore keeps every fact of
a file here, as data: its columns, encoding, quoting, header, line ending, file name and
directory. The defaults below are kessai's documented default; a shop whose sheet differs
sets the account's 「自動洗替 ファイル設定」 fields (accounts.integrations.defs_cards), read by
`updater_layout`.

Default 自動洗替 files (CP932, CRLF, no header, quoted only when needed):
  request  upload/{site_id}_{yyyymm}_cardupdate.csv     会員ID, カード登録連番, 有効期限(YYMM)
  result   download/{site_id}_{yyyymm}_cardupdate_result.csv
           会員ID, カード登録連番, 洗替判定結果(0–3), カード番号(マスク済み), 有効期限(YYMM)
The result's card number and expiry are the new ones when the card company had them, else
blank or the same as before. `{yyyymm}` is the month whose 27th returns the result.
Card numbers in these files are masked by GMO; kessai never writes or reads a full number.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

# What a column of a request file can hold (key → Japanese name).
REQUEST_FIELDS: dict[str, str] = {
    "member_id": "会員ID",
    "card_seq": "カード登録連番",
    "expire": "有効期限",
    "masked_number": "カード番号",
    "site_id": "サイトID",
    "shop_id": "ショップID",
    "line_no": "行番号",
    "blank": "(空欄)",
}
# What a column of a result file means; "skip" columns are read and ignored.
RESULT_FIELDS: dict[str, str] = {
    "member_id": "会員ID",
    "card_seq": "カード登録連番",
    "result": "洗替判定結果",
    "masked_number": "カード番号",
    "expire": "有効期限",
    "skip": "(読み飛ばす列)",
}
RESULT_REQUIRED = ("member_id", "card_seq", "result")

ENCODINGS: dict[str, str] = {"cp932": "Shift_JIS (CP932)", "utf-8": "UTF-8"}
QUOTING: dict[str, str] = {
    "minimal": "必要な場合のみ",
    "all": "すべての項目",
    "none": "囲まない",
}
_QUOTING: dict[str, Any] = {
    "minimal": csv.QUOTE_MINIMAL,
    "all": csv.QUOTE_ALL,
    "none": csv.QUOTE_NONE,
}
PLACEHOLDERS = ("{site_id}", "{shop_id}", "{yyyymm}")

# kessai's documented default (see the module docstring).
DEFAULT_REQUEST_DIR = "upload"
DEFAULT_RESULT_DIR = "download"
DEFAULT_REQUEST_NAME = "{site_id}_{yyyymm}_cardupdate.csv"
DEFAULT_RESULT_NAME = "{site_id}_{yyyymm}_cardupdate_result.csv"
DEFAULT_REQUEST_COLUMNS = ("member_id", "card_seq", "expire")
DEFAULT_RESULT_COLUMNS = ("member_id", "card_seq", "result", "masked_number", "expire")
DEFAULT_ENCODING = "cp932"
DEFAULT_QUOTING = "minimal"
# When, in Asia/Tokyo: the request from the 1st at 01:00, retried until the 10th; the
# result on the 27th at 0時 (seed 000: 原則毎月27日0時に返却).
DEFAULT_REQUEST_DAY = 1
DEFAULT_REQUEST_HOUR = 1
DEFAULT_REQUEST_DEADLINE_DAY = 10
DEFAULT_RESULT_DAY = 27
DEFAULT_RESULT_HOUR = 0
# Days a result file may be late before its month's job says 待機超過 (cardupdater.overdue).
DEFAULT_RESULT_WAIT_DAYS = 1  # 洗替結果: 原則毎月27日0時
DEFAULT_RECURRING_WAIT_DAYS = 2  # 売上結果・有効性チェック結果: 18日頃・27日頃
MAX_RESULT_WAIT_DAYS = 10


class FileFormatError(ValueError):
    """A line of a received file that does not fit the layout (line numbers from 1)."""

    def __init__(self, line_no: int, message: str) -> None:
        super().__init__(f"{line_no}行目: {message}")
        self.line_no = line_no
        self.message = message


@dataclass(frozen=True)
class FileLayout:
    """One file's shape: columns in order, text encoding, quoting, header, line ending."""

    columns: tuple[str, ...]
    headers: Mapping[str, str]
    encoding: str = DEFAULT_ENCODING
    quoting: str = DEFAULT_QUOTING
    header: bool = False
    line_ending: str = "\r\n"

    def _dialect(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"escapechar": "\\"} if self.quoting == "none" else {}
        return {"quoting": _QUOTING[self.quoting], "lineterminator": self.line_ending, **extra}

    def header_line(self) -> bytes:
        """The header line, or nothing for a layout without one."""
        if not self.header:
            return b""
        return self._encode([[self.headers[c] for c in self.columns]])

    def encode_rows(self, rows: Iterable[Mapping[str, Any]]) -> bytes:
        """The rows as lines of the file (no header), encoded."""
        return self._encode(
            ["" if row.get(c) is None else row[c] for c in self.columns] for row in rows
        )

    def _encode(self, rows: Iterable[list[Any]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, **self._dialect()).writerows(rows)
        return buffer.getvalue().encode(self.encoding)

    def decode_lines(
        self, lines: Iterable[bytes]
    ) -> Iterator[tuple[int, dict[str, str] | FileFormatError]]:
        """(line number, {column: value}) for each data line, or the line's FileFormatError
        (every line is looked at, so a rejected file can name all its bad lines).

        Blank lines (a trailing newline) are skipped, and so is the header line when the
        layout has one.
        """
        for line_no, raw in enumerate(lines, start=1):
            try:
                text = raw.decode(self.encoding)
            except UnicodeDecodeError:
                yield (
                    line_no,
                    FileFormatError(
                        line_no, f"文字コード({ENCODINGS[self.encoding]})として読めません"
                    ),
                )
                continue
            text = text.rstrip("\r\n")
            if not text.strip() or (line_no == 1 and self.header):
                continue
            if '"' in text or "\\" in text:
                try:
                    cells = next(csv.reader([text], quoting=_QUOTING[self.quoting]))
                except csv.Error as exc:
                    yield line_no, FileFormatError(line_no, f"CSVとして読めません({exc})")
                    continue
            else:  # nothing quoted or escaped: the cells are what lies between the commas
                cells = text.split(",")
            if len(cells) != len(self.columns):
                yield (
                    line_no,
                    FileFormatError(
                        line_no, f"項目数が{len(cells)}です({len(self.columns)}項目のはずです)"
                    ),
                )
                continue
            # the same length, checked above (a plain zip: a million lines a month)
            yield line_no, dict(zip(self.columns, map(str.strip, cells)))  # noqa: B905


@dataclass(frozen=True)
class UpdaterFiles:
    """The 自動洗替 exchange of one account: both files, their names and directories."""

    request: FileLayout
    result: FileLayout
    request_dir: str
    result_dir: str
    request_name: str
    result_name: str

    def request_path(self, ids: Mapping[str, str], month: date) -> str:
        return _join(self.request_dir, _name(self.request_name, ids, month))

    def result_path(self, ids: Mapping[str, str], month: date) -> str:
        return _join(self.result_dir, _name(self.result_name, ids, month))


def _name(pattern: str, ids: Mapping[str, str], month: date) -> str:
    return (
        pattern.replace("{site_id}", ids.get("site_id") or "")
        .replace("{shop_id}", ids.get("shop_id") or "")
        .replace("{yyyymm}", f"{month:%Y%m}")
    )


def _join(directory: str, name: str) -> str:
    directory = directory.strip().rstrip("/")
    return f"{directory}/{name}" if directory else name


def parse_columns(raw: str, allowed: Mapping[str, str]) -> tuple[str, ...]:
    """「member_id,card_seq,expire」 → the column keys; ValueError naming an unknown one."""
    columns = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [c for c in columns if c not in allowed]
    if unknown or not columns:
        raise ValueError(f"使用できない項目名です: {', '.join(unknown) or '(なし)'}")
    return columns


def valid_request_columns(raw: str) -> bool:
    try:
        parse_columns(raw, REQUEST_FIELDS)
    except ValueError:
        return False
    return True


def valid_result_columns(raw: str) -> bool:
    try:
        columns = parse_columns(raw, RESULT_FIELDS)
    except ValueError:
        return False
    named = [c for c in columns if c != "skip"]
    return all(c in columns for c in RESULT_REQUIRED) and len(named) == len(set(named))


def valid_file_name(raw: str) -> bool:
    """A plain file name (no directory), with {yyyymm} so each month has its own file."""
    stripped = raw
    for placeholder in PLACEHOLDERS:
        stripped = stripped.replace(placeholder, "x")
    return (
        "{yyyymm}" in raw
        and "/" not in raw
        and stripped not in (".", "..")
        and all(c.isascii() and (c.isalnum() or c in "._-") for c in stripped)
    )


def valid_directory(raw: str) -> bool:
    parts = [p for p in raw.strip().split("/") if p]
    return all(p not in (".", "..") and p.isascii() and p.isprintable() for p in parts)


def _text(settings: Mapping[str, Any], key: str, default: str) -> str:
    value = settings.get(key)
    return default if value in (None, "") else str(value).strip()


def _format(settings: Mapping[str, Any]) -> tuple[str, str]:
    """The 自動洗替 files' encoding and quoting (継続課金's too, unless set on their own)."""
    encoding = _text(settings, "updater_encoding", DEFAULT_ENCODING)
    return encoding, _text(settings, "updater_quoting", DEFAULT_QUOTING)


def updater_layout(settings: Mapping[str, Any]) -> UpdaterFiles:
    """The account's 自動洗替 files: kessai's default, with the shop's settings over it."""
    encoding, quoting = _format(settings)
    header = settings.get("updater_header") is True
    request_columns = settings.get("updater_request_columns")
    result_columns = settings.get("updater_result_columns")
    return UpdaterFiles(
        request=FileLayout(
            columns=parse_columns(str(request_columns), REQUEST_FIELDS)
            if request_columns
            else DEFAULT_REQUEST_COLUMNS,
            headers=REQUEST_FIELDS,
            encoding=encoding,
            quoting=quoting,
            header=header,
        ),
        result=FileLayout(
            columns=parse_columns(str(result_columns), RESULT_FIELDS)
            if result_columns
            else DEFAULT_RESULT_COLUMNS,
            headers=RESULT_FIELDS,
            encoding=encoding,
            quoting=quoting,
            header=header,
        ),
        request_dir=_text(settings, "updater_request_dir", DEFAULT_REQUEST_DIR),
        result_dir=_text(settings, "updater_result_dir", DEFAULT_RESULT_DIR),
        request_name=_text(settings, "updater_request_name", DEFAULT_REQUEST_NAME),
        result_name=_text(settings, "updater_result_name", DEFAULT_RESULT_NAME),
    )


# --- 継続課金 (seed 002) ----------------------------------------------------------------------
# kessai's default for GMO PG 継続課金 files, like the 洗替 ones (CP932, CRLF, no header, quoted
# only when needed; each of these can be set on the account, 「継続課金 ファイル設定」):
#   send    upload/{shop_id}_{yyyymm}_recurring.csv (around the 8th)
#           ショップID, 会員ID, カード登録連番, 商品コード(0000990), 端末処理通番 (1…, unique in
#           the file), 利用金額, 税送料, 支払方法 (1: 一括払い only), 受注番号
#   result  download/{shop_id}_{yyyymm}_recurring_result.csv (around the 18th)
#           端末処理通番, 会員ID, カード登録連番, 利用金額, 処理結果 (0 = 売上報告済), エラーコード
#   check   download/{shop_id}_{yyyymm}_recurring_check.csv (around the 27th)
#           会員ID, カード登録連番, 有効性チェック結果 (0–3, as 洗替判定結果)
# `{yyyymm}` is the month of the send (its result and check come back in the same month).
RECURRING_ITEM_CODE = "0000990"  # 商品コード of 継続課金
RECURRING_PAY_METHOD = "1"  # 一括払い: the only 支払回数 継続課金 takes
RECURRING_SEND_FIELDS: dict[str, str] = {
    "shop_id": "ショップID",
    "member_id": "会員ID",
    "card_seq": "カード登録連番",
    "item_code": "商品コード",
    "terminal_seq": "端末処理通番",
    "amount": "利用金額",
    "tax": "税送料",
    "pay_method": "支払方法",
    "order_number": "受注番号",
    "use_date": "利用日",  # 発送完了日, YYYYMMDD
    "blank": "(空欄)",
}
RECURRING_RESULT_FIELDS: dict[str, str] = {
    "terminal_seq": "端末処理通番",
    "member_id": "会員ID",
    "card_seq": "カード登録連番",
    "amount": "利用金額",
    "result": "処理結果",
    "error_code": "エラーコード",
    "skip": "(読み飛ばす列)",
}
RECURRING_CHECK_FIELDS: dict[str, str] = {
    "member_id": "会員ID",
    "card_seq": "カード登録連番",
    "result": "有効性チェック結果",
    "skip": "(読み飛ばす列)",
}
RECURRING_FIELDS = RECURRING_SEND_FIELDS | RECURRING_RESULT_FIELDS | RECURRING_CHECK_FIELDS
RECURRING_RESULT_REQUIRED = ("terminal_seq", "result", "error_code")
RECURRING_CHECK_REQUIRED = ("member_id", "card_seq", "result")


@dataclass(frozen=True)
class RecurringFile:
    """One of the three 継続課金 files: its settings keys, default and columns it may hold."""

    kind: str  # send | result | check
    label: str
    fields: Mapping[str, str]
    required: tuple[str, ...]
    default_columns: tuple[str, ...]
    default_dir: str
    default_name: str

    @property
    def columns_key(self) -> str:
        return f"recurring_{self.kind}_columns"

    @property
    def dir_key(self) -> str:
        return f"recurring_{self.kind}_dir"

    @property
    def name_key(self) -> str:
        return f"recurring_{self.kind}_name"

    def valid_columns(self, raw: str) -> bool:
        try:
            columns = parse_columns(raw, self.fields)
        except ValueError:
            return False
        named = [c for c in columns if c not in ("skip", "blank")]
        return all(c in columns for c in self.required) and len(named) == len(set(named))


RECURRING_FILES = (
    RecurringFile(
        "send",
        "売上データファイル",
        RECURRING_SEND_FIELDS,
        ("member_id", "card_seq", "terminal_seq", "amount"),
        (
            "shop_id",
            "member_id",
            "card_seq",
            "item_code",
            "terminal_seq",
            "amount",
            "tax",
            "pay_method",
            "order_number",
        ),
        "upload",
        "{shop_id}_{yyyymm}_recurring.csv",
    ),
    RecurringFile(
        "result",
        "売上結果ファイル",
        RECURRING_RESULT_FIELDS,
        RECURRING_RESULT_REQUIRED,
        ("terminal_seq", "member_id", "card_seq", "amount", "result", "error_code"),
        "download",
        "{shop_id}_{yyyymm}_recurring_result.csv",
    ),
    RecurringFile(
        "check",
        "有効性チェック結果ファイル",
        RECURRING_CHECK_FIELDS,
        RECURRING_CHECK_REQUIRED,
        ("member_id", "card_seq", "result"),
        "download",
        "{shop_id}_{yyyymm}_recurring_check.csv",
    ),
)
RECURRING_FILE = {f.kind: f for f in RECURRING_FILES}


@dataclass(frozen=True)
class RecurringStep:
    """When a 継続課金 step starts each month (Asia/Tokyo), as the account's settings say."""

    kind: str  # send | result | check
    label: str
    default_day: int
    default_hour: int

    @property
    def day_key(self) -> str:
        return f"recurring_{self.kind}_day"

    @property
    def hour_key(self) -> str:
        return f"recurring_{self.kind}_hour"

    def day_hour(self, settings: Mapping[str, Any]) -> tuple[int, int]:
        return (
            _int(settings, self.day_key, self.default_day),
            _int(settings, self.hour_key, self.default_hour),
        )


# Seed 002: sent 翌月8日頃早朝; 売上結果 毎月18日; 有効性チェック 毎月27日頃.
RECURRING_STEPS = (
    RecurringStep("send", "売上データの送信", 8, 5),
    RecurringStep("result", "売上結果の取得", 18, 6),
    RecurringStep("check", "有効性チェック結果の取得", 27, 6),
)
RECURRING_STEP = {s.kind: s for s in RECURRING_STEPS}
DEFAULT_RECURRING_SEND_UNTIL_DAY = 17  # a file not sent by then waits for next month's


def recurring_send_until(settings: Mapping[str, Any]) -> int:
    return _int(settings, "recurring_send_until_day", DEFAULT_RECURRING_SEND_UNTIL_DAY)


def _int(settings: Mapping[str, Any], key: str, default: int) -> int:
    value = settings.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass(frozen=True)
class RecurringFiles:
    send: FileLayout
    result: FileLayout
    check: FileLayout
    paths: Mapping[str, tuple[str, str]]  # kind → (directory, file name pattern)

    def path(self, kind: str, ids: Mapping[str, str], month: date) -> str:
        directory, name = self.paths[kind]
        return _join(directory, _name(name, ids, month))


def recurring_layout(settings: Mapping[str, Any]) -> RecurringFiles:
    """The account's 継続課金 files: kessai's default, with the shop's settings over it."""
    updater_encoding, updater_quoting = _format(settings)
    encoding = _text(settings, "recurring_encoding", updater_encoding)
    quoting = _text(settings, "recurring_quoting", updater_quoting)
    header = settings.get("recurring_header") is True
    layouts: dict[str, FileLayout] = {}
    paths: dict[str, tuple[str, str]] = {}
    for spec in RECURRING_FILES:
        raw = settings.get(spec.columns_key)
        columns = parse_columns(str(raw), spec.fields) if raw else spec.default_columns
        layouts[spec.kind] = FileLayout(
            columns, spec.fields, encoding=encoding, quoting=quoting, header=header
        )
        paths[spec.kind] = (
            _text(settings, spec.dir_key, spec.default_dir),
            _text(settings, spec.name_key, spec.default_name),
        )
    return RecurringFiles(layouts["send"], layouts["result"], layouts["check"], paths)
