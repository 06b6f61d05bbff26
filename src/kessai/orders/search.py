"""Reading the bounds of an order search (注文日 from/to) the way operators and curl write them."""

import re
from datetime import date, datetime, time, timedelta

from kessai.core.clock import TOKYO
from kessai.core.errors import InvalidInput

# An unencoded "+09:00" in a query string arrives as " 09:00" (curl users paste it so).
_SPACE_OFFSET = re.compile(r"^(.+T[\d:.]+) (\d{2}(?::?\d{2})?)$")


def search_moment(name: str, raw: str | None, *, end: bool) -> datetime | None:
    """A search bound: a Tokyo business date (whole day) or an aware datetime."""
    if raw is None or not raw.strip():
        return None
    raw = _SPACE_OFFSET.sub(r"\1+\2", raw.strip())
    if len(raw) == 10:  # operators write dates as 2026/11/01
        raw = raw.replace("/", "-")
    try:
        if len(raw) == 10:
            start = datetime.combine(date.fromisoformat(raw), time(0), TOKYO)
            return start + timedelta(days=1, microseconds=-1) if end else start
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            f"{name} は日付 (2026-11-01) かタイムゾーン付き日時で指定してください",
            detail={"field": name, "value": raw[:40]},
        ) from None
    if value.tzinfo is None:
        raise InvalidInput(
            f"{name} にはタイムゾーンを付けてください (例: 2026-11-01T10:00:00+09:00)",
            detail={"field": name, "value": raw[:40]},
        )
    return value
