"""待機超過: a result file GMO has not returned by its day plus the account's grace days.

Until then a missing file is an ordinary hourly failure (tried again the next hour); from
then on the month's job fails with 「待機超過」 and the reason, the shop is mailed once for
that file and month (not once a day), and the dashboard counts it until the file is in.
Used by 自動洗替's 洗替結果 and 継続課金's 売上結果 and 有効性チェック結果.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kessai.accounts.models import ProviderAccount
from kessai.cardupdater.notices import notify_failure
from kessai.core.clock import to_tokyo
from kessai.jobs.models import Job

if TYPE_CHECKING:
    from kessai.services import Services


def wait_days(settings: dict[str, Any], key: str, default: int) -> int:
    value = settings.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default


def _at(moment: datetime) -> str:
    local = to_tokyo(moment)
    return f"{local.month}月{local.day}日{local.hour}時"


@dataclass(frozen=True)
class Wait:
    """When a result file is expected (Tokyo) and how many days it may be late."""

    expected: datetime
    days: int

    @property
    def until(self) -> datetime:
        return self.expected + timedelta(days=self.days)

    def over(self, now: datetime) -> bool:
        return to_tokyo(now) >= self.until

    def reason(self, what: str, path: str) -> str:
        return (
            f"待機超過: {what}「{path}」が届いていません(取得予定 {_at(self.expected)}、"
            f"猶予{self.days}日の期限 {_at(self.until)} を過ぎました)。"
            "GMO PG の管理画面で処理状況を確認してください"
        )


async def notify_overdue(
    services: "Services",
    *,
    job: Job,
    account: ProviderAccount,
    month: date,
    step: str,
    reason: str,
) -> None:
    """Mail the shop once for this account, step and month."""
    await notify_failure(
        services,
        job=job,
        account=account,
        month=month,
        step=step,
        reason=reason,
        retry_until=None,
        once=f"overdue:{month:%Y-%m}",
    )
