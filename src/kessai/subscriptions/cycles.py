"""サイクル date math on Asia/Tokyo calendar dates.

Three kinds of cycle: every N days; every N months on a day of the month; and "day D of the
month", every N months. A day past the month's end is clamped to it (31日 → 2月28日/29日,
4月30日), and the day is kept as the anchor so the next month goes back to 31日.
"""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from kessai.core.errors import InvalidInput

MAX_DAYS = 365
MAX_MONTHS = 12


class CycleKind(StrEnum):
    DAYS = "days"  # N日ごと
    MONTHS = "months"  # Nヶ月ごと (初回の日付を基準日)
    DAY_OF_MONTH = "day_of_month"  # Nヶ月ごとのD日

    @property
    def label(self) -> str:
        return CYCLE_KIND_LABELS[self]


CYCLE_KIND_LABELS = {
    CycleKind.DAYS: "日ごと",
    CycleKind.MONTHS: "ヶ月ごと",
    CycleKind.DAY_OF_MONTH: "毎月指定日",
}


@dataclass(frozen=True)
class Cycle:
    kind: CycleKind
    interval: int
    day: int | None = None  # the anchor day (1-31) of MONTHS and DAY_OF_MONTH

    def __post_init__(self) -> None:
        limit = MAX_DAYS if self.kind is CycleKind.DAYS else MAX_MONTHS
        if not 1 <= self.interval <= limit:
            unit = "日" if self.kind is CycleKind.DAYS else "ヶ月"
            raise InvalidInput(
                f"サイクルの間隔は1〜{limit}{unit}で指定してください",
                code="invalid_cycle",
                detail={"field": "cycle.interval", "value": self.interval},
            )
        if self.kind is CycleKind.DAYS:
            if self.day is not None:
                raise InvalidInput(
                    "日ごとのサイクルには日付(day)を指定できません",
                    code="invalid_cycle",
                    detail={"field": "cycle.day"},
                )
        elif self.day is None or not 1 <= self.day <= 31:
            raise InvalidInput(
                "サイクルの日付(day)は1〜31で指定してください",
                code="invalid_cycle",
                detail={"field": "cycle.day", "value": self.day},
            )

    @property
    def label(self) -> str:
        if self.kind is CycleKind.DAYS:
            return f"{self.interval}日ごと"
        if self.kind is CycleKind.MONTHS:
            return f"{self.interval}ヶ月ごと"
        every = "毎月" if self.interval == 1 else f"{self.interval}ヶ月ごとの"
        return f"{every}{self.day}日"


def month_end(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def on_day(year: int, month: int, day: int) -> date:
    """Day `day` of the month, or the month's last day when it has fewer."""
    return date(year, month, min(day, month_end(year, month)))


def add_months(start: date, months: int, day: int | None = None) -> date:
    """`months` months after `start`, on `day` (default: start's day), clamped to month end."""
    index = start.year * 12 + (start.month - 1) + months
    return on_day(index // 12, index % 12 + 1, start.day if day is None else day)


def step(cycle: Cycle, current: date) -> date:
    """The ship date one cycle after `current`."""
    if cycle.kind is CycleKind.DAYS:
        return current + timedelta(days=cycle.interval)
    return add_months(current, cycle.interval, cycle.day)


def first_on_or_after(cycle: Cycle, start: date) -> date:
    """The first date a cycle falls on from `start` (DAY_OF_MONTH waits for its day)."""
    if cycle.kind is not CycleKind.DAY_OF_MONTH:
        return start
    assert cycle.day is not None
    this_month = on_day(start.year, start.month, cycle.day)
    return this_month if this_month >= start else add_months(this_month, 1, cycle.day)


def advance_past(cycle: Cycle, current: date, today: date) -> date:
    """The next ship date after one cycle from `current`, past `today`.

    A run that was missed for days creates one child order, not one per missed cycle.
    """
    nxt = step(cycle, current)
    while nxt <= today:
        nxt = step(cycle, nxt)
    return nxt


def after_payment(cycle: Cycle, paid_on: date) -> date:
    """次回発送予定日 recomputed from the day a late payment (再オーソリ) came through."""
    if cycle.kind is CycleKind.DAY_OF_MONTH:
        return first_on_or_after(cycle, paid_on + timedelta(days=1))
    if cycle.kind is CycleKind.MONTHS:
        return add_months(paid_on, cycle.interval)
    return paid_on + timedelta(days=cycle.interval)


def shift_delivery(ship_on: date, delivery_on: date | None, new_ship_on: date) -> date | None:
    """次回配送予定日 keeps its distance from the ship date."""
    if delivery_on is None:
        return None
    return new_ship_on + (delivery_on - ship_on)
