"""The one clock every rule reads. Storage is UTC; business dates are Asia/Tokyo.

In sandbox mode the clock can be set or advanced so that time windows and schedules
can be tried without waiting; in production it is the system clock, unmovable.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from kessai.core.errors import Conflict

TOKYO = ZoneInfo("Asia/Tokyo")


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_tokyo(moment: datetime) -> datetime:
    return moment.astimezone(TOKYO)


def tokyo_date(moment: datetime) -> date:
    return moment.astimezone(TOKYO).date()


class Clock:
    """System time plus an offset that only a sandbox may change."""

    def __init__(self, *, movable: bool, offset: timedelta = timedelta(0)) -> None:
        self.movable = movable
        self._offset = offset if movable else timedelta(0)

    @property
    def offset(self) -> timedelta:
        return self._offset

    def now(self) -> datetime:
        return utcnow() + self._offset

    def today(self) -> date:
        return tokyo_date(self.now())

    def set_offset(self, offset: timedelta) -> None:
        if not self.movable:
            raise Conflict("本番環境では時計を変更できません", code="sandbox_only")
        self._offset = offset

    def set_now(self, moment: datetime) -> None:
        self.set_offset(moment - utcnow())

    def advance(self, delta: timedelta) -> None:
        self.set_offset(self._offset + delta)
