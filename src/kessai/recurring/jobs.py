"""The three monthly jobs of 継続課金 (Asia/Tokyo), each one item per GMO PG account with a
継続課金 支払い方法, tried hourly until it has been done for the month. Their day and hour are
the account's settings (「継続課金 ファイル設定」; defaults in providers.gmo_pg.files):

- 「GMO 継続課金 売上データ送信」 from the 8th 05:00 (seed 002: 翌月8日頃早朝), until the 17th;
- 「GMO 継続課金 売上結果取得」 from the 18th 06:00: 売上報告済 / 売上失敗;
- 「GMO 継続課金 有効性チェック結果取得」 from the 27th 06:00: NG cards are marked 有効性NG and
  再決済・決済方法変更のご案内 goes to the customer and the shop.
A failure fails that hour's job with the reason and mails the shop (once a day).
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.cardupdater.jobs import job_month, month_label, month_of
from kessai.cardupdater.notices import notify_failure
from kessai.cardupdater.overdue import Wait, notify_overdue, wait_days
from kessai.cardupdater.result import ResultNotReady
from kessai.cardupdater.transfer import TransferError
from kessai.core.clock import TOKYO, to_tokyo
from kessai.core.db import transaction
from kessai.core.errors import KessaiError
from kessai.jobs import repository as jobs_repo
from kessai.jobs.kinds import ItemResult, register
from kessai.jobs.models import Job
from kessai.jobs.status import ItemStatus
from kessai.providers import gmo_files as files
from kessai.providers.installed import offering
from kessai.recurring import service
from kessai.recurring.models import RecurringBatch
from kessai.recurring.notices import queue_change_notices

if TYPE_CHECKING:
    from kessai.services import Services

SEND_KIND, SEND_NAME = "recurring_send", "GMO 継続課金 売上データ送信"
RESULT_KIND, RESULT_NAME = "recurring_result", "GMO 継続課金 売上結果取得"
CHECK_KIND, CHECK_NAME = "recurring_check", "GMO 継続課金 有効性チェック結果取得"


async def recurring_accounts(services: "Services") -> list[ProviderAccount]:
    async with transaction(services.sessions) as s:
        rows = await s.scalars(
            select(ProviderAccount)
            .where(
                ProviderAccount.provider.in_(offering("recurring")),
                ProviderAccount.id.in_(
                    select(PaymentMethod.account_id).where(PaymentMethod.recurring.is_(True))
                ),
            )
            .order_by(ProviderAccount.id)
        )
        return list(rows.all())


async def _batches(services: "Services", month: date) -> dict[int, RecurringBatch]:
    async with transaction(services.sessions) as s:
        rows = await s.scalars(
            select(RecurringBatch).where(RecurringBatch.month == f"{month:%Y-%m}")
        )
        return {b.account_id: b for b in rows.all()}


def _needs_send(b: RecurringBatch | None) -> bool:
    return b is None or b.status == service.SELECTED


def _needs_result(b: RecurringBatch | None) -> bool:
    return b is not None and b.status == service.SENT


def _needs_check(b: RecurringBatch | None) -> bool:
    return b is not None and b.status != service.SELECTED and b.checked_at is None


@dataclass(frozen=True)
class Step:
    kind: str
    name: str
    when: files.RecurringStep  # the account's day and hour (Tokyo)
    needs: Callable[[RecurringBatch | None], bool]
    sends: bool = False  # the send stops at its last day; a late file waits a month

    def starts(self, account: ProviderAccount, month: date) -> datetime:
        day, hour = self.when.day_hour(account.settings or {})
        return datetime.combine(month.replace(day=day), time(hour), tzinfo=TOKYO)

    def wait(self, account: ProviderAccount, month: date) -> Wait:
        """How long the month's result or check file may be late (待機超過 after)."""
        days = wait_days(
            account.settings or {}, "recurring_result_wait_days", files.DEFAULT_RECURRING_WAIT_DAYS
        )
        return Wait(self.starts(account, month), days)

    def open_at(self, account: ProviderAccount, month: date, now: datetime) -> bool:
        local = to_tokyo(now)
        if local < self.starts(account, month):
            return False
        last_day = month.replace(day=files.recurring_send_until(account.settings or {}))
        return not (self.sends and local.date() > last_day)

    async def due_accounts(
        self, services: "Services", month: date, now: datetime
    ) -> list[ProviderAccount]:
        batches = await _batches(services, month)
        return [
            a
            for a in await recurring_accounts(services)
            if self.needs(batches.get(a.id)) and self.open_at(a, month, now)
        ]

    async def due(self, services: "Services", now: datetime) -> str | None:
        local, month = to_tokyo(now), month_of(now)
        if not await self.due_accounts(services, month, now) or await _busy(services, self.kind):
            return None
        return f"{self.kind}:{local:%Y-%m}:{local:%d%H}"


async def _busy(services: "Services", kind: str) -> bool:
    async with transaction(services.sessions) as s:
        return await jobs_repo.kind_busy(s, kind)


SEND = Step(SEND_KIND, SEND_NAME, files.RECURRING_STEP["send"], _needs_send, sends=True)
RESULT = Step(RESULT_KIND, RESULT_NAME, files.RECURRING_STEP["result"], _needs_result)
CHECK = Step(CHECK_KIND, CHECK_NAME, files.RECURRING_STEP["check"], _needs_check)

Work = Callable[["Services", ProviderAccount, date, Job], Awaitable[str]]


async def _send(services: "Services", account: ProviderAccount, month: date, job: Job) -> str:
    sent = await service.send_month(services, account, month)
    if sent.already:
        return "送信済みです"
    text = f"{sent.lines}件を送信しました({sent.path})"
    if sent.excluded:
        text += f"。送信しなかった受注 {len(sent.excluded)}件: " + " / ".join(sent.excluded)
    return text


async def _result(services: "Services", account: ProviderAccount, month: date, job: Job) -> str:
    batch = (await _batches(services, month))[account.id]
    done = await service.apply_results(services, account, batch)
    if done.already:
        return "反映済みです"
    return f"売上報告済 {done.reported}件、売上失敗 {done.failed}件"


async def _check(services: "Services", account: ProviderAccount, month: date, job: Job) -> str:
    from kessai.notifications.delivery import deliver_pending

    batch = (await _batches(services, month))[account.id]
    checked = await service.apply_check(services, account, batch)
    if checked.already:
        return "反映済みです"
    async with transaction(services.sessions) as s:
        mailed = await queue_change_notices(
            s, checked.invalid, services.clock.now(), key=batch.month
        )
    await deliver_pending(services)
    return f"有効性OK {checked.ok}件、有効性NG等 {len(checked.invalid)}件(ご案内 {mailed}件)"


@dataclass
class RecurringJob:
    step: Step
    work: Work
    columns: Sequence[tuple[str, str]] = (("account", "外部連携アカウント"), ("month", "対象月"))
    chunk_size: int = 1

    @property
    def kind(self) -> str:
        return self.step.kind

    @property
    def name(self) -> str:
        return self.step.name

    async def plan(self, services: "Services", job: Job) -> list[Any]:
        month, now = job_month(services, job), services.clock.now()
        return [a.id for a in await self.step.due_accounts(services, month, now)]

    async def run(self, services: "Services", job: Job, keys: list[Any]) -> list[ItemResult]:
        month = job_month(services, job)
        out = []
        for key in keys:
            async with transaction(services.sessions) as s:
                account = await s.get(ProviderAccount, int(key))
            assert account is not None
            data = {"account": account.name, "month": month_label(month)}
            try:
                message = await self.work(services, account, month, job)
            except (KessaiError, TransferError) as exc:
                wait = self.step.wait(account, month)
                if isinstance(exc, ResultNotReady) and wait.over(services.clock.now()):
                    label = files.RECURRING_FILE[self.step.when.kind].label
                    reason = wait.reason(label, str(exc.detail.get("path")))
                    await notify_overdue(
                        services,
                        job=job,
                        account=account,
                        month=month,
                        step=self.step.name,
                        reason=reason,
                    )
                    out.append(ItemResult(str(key), ItemStatus.FAILED, reason, data))
                    continue
                await notify_failure(
                    services,
                    job=job,
                    account=account,
                    month=month,
                    step=self.step.name,
                    reason=exc.message,
                    retry_until=None,
                )
                out.append(ItemResult(str(key), ItemStatus.FAILED, exc.message, data))
                continue
            out.append(ItemResult(str(key), ItemStatus.SUCCEEDED, message, data))
        return out


# kind and name are properties here, attributes in the JobKind protocol.
register(RecurringJob(SEND, _send))  # type: ignore[arg-type]
register(RecurringJob(RESULT, _result))  # type: ignore[arg-type]
register(RecurringJob(CHECK, _check))  # type: ignore[arg-type]


async def overdue_count(services: "Services", now: datetime, since: date) -> int:
    """Account-months from `since` whose 売上結果 or 有効性チェック結果 file is past its day
    and grace (待機超過) and still not in: its orders wait in that month's file meanwhile."""
    async with transaction(services.sessions) as s:
        batches = list(
            (
                await s.scalars(
                    select(RecurringBatch).where(
                        RecurringBatch.month >= f"{since:%Y-%m}",
                        RecurringBatch.status != service.SELECTED,
                        RecurringBatch.checked_at.is_(None),
                    )
                )
            ).all()
        )
    accounts = {a.id: a for a in await recurring_accounts(services)}
    count = 0
    for b in batches:
        account, month = accounts.get(b.account_id), date.fromisoformat(f"{b.month}-01")
        if account is None:
            continue
        waiting = [CHECK] + ([RESULT] if b.status == service.SENT else [])
        count += any(step.wait(account, month).over(now) for step in waiting)
    return count
