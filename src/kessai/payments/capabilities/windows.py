"""Time windows of the seed's 備考, evaluated in Asia/Tokyo.

Every window ends at one last allowed instant; "超える"/"過ぎる" mean strictly after it,
so a request exactly at the deadline is still allowed.

- ``days``: the anchor instant plus N days ("決済日時から30日を超えるとエラー": the seed says
  日時, so the clock time counts, not only the date).
- ``months``: the last day of the month N months after the anchor's Tokyo month, until the end
  of that day ("注文日の5ヵ月後の末日", "オーソリ確定日から翌月末日"), or until ``hour`` o'clock
  on that day ("決済日時の翌々月末20時").
"""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from kessai.core.clock import TOKYO


class Anchor(StrEnum):
    """Which moment of the payment a window counts from."""

    ORDERED_AT = "ordered_at"  # 注文日
    AUTHORIZED_AT = "authorized_at"  # 決済日時
    CAPTURED_AT = "captured_at"  # オーソリ確定日時

    @property
    def label(self) -> str:
        return ANCHOR_LABELS[self]


ANCHOR_LABELS: dict[Anchor, str] = {
    Anchor.ORDERED_AT: "注文日",
    Anchor.AUTHORIZED_AT: "決済日時",
    Anchor.CAPTURED_AT: "オーソリ確定日時",
}


@dataclass(frozen=True)
class Window:
    """A deadline counted from one anchor: ``days`` after it, or a month end ``months`` later."""

    anchor: Anchor
    note: str  # the seed's 備考, verbatim
    days: int | None = None
    months: int | None = None
    hour: int | None = None  # with ``months``: that o'clock on the last day; None = end of day

    def __post_init__(self) -> None:
        if (self.days is None) == (self.months is None):
            raise ValueError("期限は日数か月数のどちらか一方で指定してください")
        if self.hour is not None and self.months is None:
            raise ValueError("時刻指定は月末期限でのみ使えます")

    def deadline(self, anchor_at: datetime) -> datetime:
        """The last allowed instant (Asia/Tokyo) for a payment anchored at ``anchor_at``."""
        start = to_tokyo(anchor_at)
        if self.days is not None:
            return start + timedelta(days=self.days)
        assert self.months is not None
        last = month_end(start.date(), self.months)
        if self.hour is None:
            return datetime.combine(last, time.max, tzinfo=TOKYO)
        return datetime.combine(last, time(self.hour), tzinfo=TOKYO)

    def expired(self, anchor_at: datetime, now: datetime) -> bool:
        """True when ``now`` is strictly after the deadline."""
        return to_tokyo(now) > self.deadline(anchor_at)


def to_tokyo(moment: datetime) -> datetime:
    """``moment`` in Asia/Tokyo; a naive datetime is refused (its zone would be a guess)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("タイムゾーン付きの日時を指定してください")
    return moment.astimezone(TOKYO)


def month_end(start: date, months: int) -> date:
    """The last day of the month ``months`` after ``start``'s month (0 = the same month)."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, calendar.monthrange(year, month)[1])


def format_tokyo(moment: datetime) -> str:
    """e.g. 2024年2月29日 20:00 (日本時間)."""
    t = to_tokyo(moment)
    return f"{t.year}年{t.month}月{t.day}日 {t.hour:02d}:{t.minute:02d} (日本時間)"
