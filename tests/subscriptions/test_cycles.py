"""サイクル date math: month ends clamp, anchors come back, days are days."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kessai.core.errors import InvalidInput
from kessai.subscriptions import cycles
from kessai.subscriptions.cycles import Cycle, CycleKind

dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
days_of_month = st.integers(min_value=1, max_value=31)
month_counts = st.integers(min_value=1, max_value=12)


def months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2026, 1, 31), [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]),
        (date(2028, 1, 31), [date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30)]),
        (date(2026, 8, 31), [date(2026, 9, 30), date(2026, 10, 31), date(2026, 11, 30)]),
        (date(2026, 11, 30), [date(2026, 12, 30), date(2027, 1, 30), date(2027, 2, 28)]),
    ],
)
def test_monthly_on_the_31st_clamps_and_returns_to_the_anchor(start, expected):
    cycle = Cycle(CycleKind.MONTHS, 1, start.day)
    got, current = [], start
    for _ in expected:
        current = cycles.step(cycle, current)
        got.append(current)
    assert got == expected


def test_day_of_month_every_two_months_and_first_occurrence():
    cycle = Cycle(CycleKind.DAY_OF_MONTH, 2, 31)
    assert cycles.first_on_or_after(cycle, date(2026, 2, 10)) == date(2026, 2, 28)
    assert cycles.first_on_or_after(cycle, date(2026, 3, 31)) == date(2026, 3, 31)
    assert cycles.first_on_or_after(Cycle(CycleKind.DAY_OF_MONTH, 1, 5), date(2026, 12, 6)) == (
        date(2027, 1, 5)
    )
    assert cycles.step(cycle, date(2026, 12, 31)) == date(2027, 2, 28)
    assert cycle.label == "2ヶ月ごとの31日"
    assert Cycle(CycleKind.DAY_OF_MONTH, 1, 10).label == "毎月10日"


def test_every_n_days_and_a_missed_run_creates_one_cycle_not_several():
    cycle = Cycle(CycleKind.DAYS, 10)
    assert cycles.step(cycle, date(2026, 12, 25)) == date(2027, 1, 4)
    # Due on the 1st, billed only on the 25th: the next ship date is after the 25th.
    assert cycles.advance_past(cycle, date(2026, 11, 1), date(2026, 11, 25)) == date(2026, 12, 1)
    assert cycles.advance_past(cycle, date(2026, 11, 25), date(2026, 11, 25)) == date(2026, 12, 5)


@pytest.mark.parametrize(
    ("kind", "interval", "day", "code_field"),
    [
        (CycleKind.DAYS, 0, None, "cycle.interval"),
        (CycleKind.DAYS, 366, None, "cycle.interval"),
        (CycleKind.MONTHS, 13, 1, "cycle.interval"),
        (CycleKind.DAYS, 7, 3, "cycle.day"),
        (CycleKind.DAY_OF_MONTH, 1, None, "cycle.day"),
        (CycleKind.DAY_OF_MONTH, 1, 32, "cycle.day"),
    ],
)
def test_bad_cycles_are_refused_with_a_japanese_reason(kind, interval, day, code_field):
    with pytest.raises(InvalidInput) as err:
        Cycle(kind, interval, day)
    assert err.value.code == "invalid_cycle"
    assert err.value.detail["field"] == code_field


@given(dates, month_counts, days_of_month)
def test_add_months_lands_in_the_right_month_on_the_clamped_day(start, months, day):
    got = cycles.add_months(start, months, day)
    assert months_between(start, got) == months
    assert got.day == min(day, cycles.month_end(got.year, got.month))


@given(dates, month_counts, st.integers(min_value=1, max_value=24))
def test_monthly_cycles_never_drift_from_their_anchor(start, interval, steps):
    """Clamping in a short month never moves the later dates: step k is start + k·N months."""
    cycle = Cycle(CycleKind.MONTHS, interval, start.day)
    current = start
    for k in range(1, steps + 1):
        current = cycles.step(cycle, current)
        assert current == cycles.add_months(start, k * interval, start.day)
        assert current > start


@given(dates, st.integers(min_value=1, max_value=365), dates)
def test_advance_past_is_the_first_cycle_date_after_today(current, interval, today):
    cycle = Cycle(CycleKind.DAYS, interval)
    nxt = cycles.advance_past(cycle, current, today)
    assert nxt > today
    assert nxt > current
    assert (nxt - current).days % interval == 0
    assert nxt - timedelta(days=interval) <= max(today, current)


@given(dates, month_counts, days_of_month)
def test_after_payment_is_strictly_later_and_on_the_cycle_day(paid_on, interval, day):
    cycle = Cycle(CycleKind.DAY_OF_MONTH, interval, day)
    nxt = cycles.after_payment(cycle, paid_on)
    assert nxt > paid_on
    assert nxt.day == min(day, cycles.month_end(nxt.year, nxt.month))
    assert months_between(paid_on, nxt) <= 1


@given(dates, st.one_of(st.none(), st.integers(min_value=0, max_value=14)), dates)
def test_delivery_keeps_its_distance_from_shipping(ship_on, gap, new_ship_on):
    delivery = None if gap is None else ship_on + timedelta(days=gap)
    shifted = cycles.shift_delivery(ship_on, delivery, new_ship_on)
    if gap is None:
        assert shifted is None
    else:
        assert shifted == new_ship_on + timedelta(days=gap)
