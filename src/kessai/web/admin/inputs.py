"""Reading what an operator typed into an admin form or URL: text without control characters,
yen as integers (5,500 and 5500円 alike), dates as YYYY/MM/DD, page numbers. A bad value is
an InvalidInput naming the field in Japanese (422, nothing changed), never a 500."""

import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from kessai.core.errors import InvalidInput

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_PAGE = 10_000


def text(form: Mapping[str, Any], name: str, label: str, limit: int = 254) -> str:
    """The field, NFKC-normalized and trimmed ("" when absent)."""
    raw = form.get(name)
    value = unicodedata.normalize("NFKC", raw).strip() if isinstance(raw, str) else ""
    if len(value) > limit or _CONTROL.search(value):
        raise InvalidInput(f"{label}は{limit}文字以内で入力してください", code="invalid_input")
    return value


def yen(form: Mapping[str, Any], name: str, label: str) -> int | None:
    value = text(form, name, label, 14)
    if not value:
        return None
    digits = value.replace(",", "").removesuffix("円")
    if not digits.isdigit() or len(digits) > 9:
        raise InvalidInput(f"{label}は0以上の整数(円)で入力してください", code="invalid_amount")
    return int(digits)


def day(raw: str, label: str) -> date | None:
    """A date written 2026/12/31 (or 2026-12-31); None when blank."""
    value = raw.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value.replace("/", "-"))
    except ValueError:
        raise InvalidInput(
            f"{label}は YYYY/MM/DD で入力してください({value[:20]})", code="invalid_date"
        ) from None


def page(params: Mapping[str, Any]) -> int:
    """The page asked for; a bad or huge one is the first page."""
    raw = params.get("page", "1")
    return int(raw) if isinstance(raw, str) and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE else 1
