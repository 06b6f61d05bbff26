"""The job's CSV: its kind's columns, then 結果 and メッセージ, one row per item.

UTF-8 with a BOM by default so Excel opens it as UTF-8; CP932 on request for the tools
that still expect Shift_JIS (characters CP932 lacks become '?').
"""

import csv
import io
from collections.abc import Sequence

from kessai.core.errors import InvalidInput
from kessai.jobs.kinds import JobKind
from kessai.jobs.models import JobItem
from kessai.jobs.status import ItemStatus

ENCODINGS = {"utf-8": "utf-8-sig", "cp932": "cp932"}


def render(kind: JobKind, items: Sequence[JobItem], encoding: str = "utf-8") -> bytes:
    try:
        codec = ENCODINGS[encoding.lower()]
    except KeyError:
        raise InvalidInput(
            "文字コードは utf-8 か cp932 を指定してください", code="invalid_encoding"
        ) from None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for _, header in kind.columns] + ["結果", "メッセージ"])
    for item in items:
        row = [_cell(item.data.get(key)) for key, _ in kind.columns]
        writer.writerow([*row, ItemStatus(item.status).label, item.message])
    return out.getvalue().encode(codec, errors="replace")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
