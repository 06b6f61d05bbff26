"""The two monthly jobs of 自動洗替 and when they run (Asia/Tokyo, each account's settings).

- 「GMO 洗替依頼」 (card_updater_request): from the request day (default the 1st, 01:00), one
  item per GMO PG account with 自動洗替 on whose month is still 送信待ち. Tried again every
  hour until the deadline day (default the 10th); each failure fails that hour's job with
  the reason and mails the shop (once a day).
- 「GMO 洗替結果取得」 (card_updater_result): from the result day and hour (default the 27th,
  0時), fetches and applies each 結果待ち month's result file; its CSV lists every target
  customer with the 洗替判定結果. A file not there yet, or rejected, fails the job with the
  reason and is tried again the next hour; nothing of a rejected file is applied. When a
  month ends still 送信待ち or 結果待ち, its first run of the next month marks it 未実施 and
  fails loudly (cardupdater.missed).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from kessai.accounts.models import ProviderAccount
from kessai.cardupdater import missed
from kessai.cardupdater import repository as repo
from kessai.cardupdater.notices import notify_failure, notify_result
from kessai.cardupdater.overdue import Wait, notify_overdue, wait_days
from kessai.cardupdater.request import send_request
from kessai.cardupdater.result import ResultNotReady, fetch_and_apply
from kessai.cardupdater.status import RunStatus
from kessai.cardupdater.transfer import TransferError
from kessai.core.clock import TOKYO, to_tokyo
from kessai.core.db import transaction
from kessai.core.errors import KessaiError
from kessai.customers.updater import UpdaterResult, updater_label
from kessai.jobs import repository as jobs_repo
from kessai.jobs.kinds import ItemResult, register
from kessai.jobs.models import Job
from kessai.jobs.status import ItemStatus
from kessai.providers import gmo_files as files
from kessai.providers.installed import offering

if TYPE_CHECKING:
    from kessai.services import Services

log = logging.getLogger("kessai.cardupdater")

REQUEST_KIND, REQUEST_NAME = "card_updater_request", "GMO 洗替依頼"
RESULT_KIND, RESULT_NAME = "card_updater_result", "GMO 洗替結果取得"
NEEDS_CHANGE = "支払い方法またはクレジットカード情報の変更が必要です"
FETCH_STEP = "自動洗替(洗替結果の取得)"


def _number(settings: dict[str, Any], key: str, default: int) -> int:
    value = settings.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass(frozen=True)
class Calendar:
    """An account's 自動洗替 dates for one month (Tokyo)."""

    request_from: datetime
    request_until: date
    result_from: datetime
    result_wait_days: int = files.DEFAULT_RESULT_WAIT_DAYS

    @property
    def result_wait(self) -> Wait:
        return Wait(self.result_from, self.result_wait_days)

    @classmethod
    def of(cls, settings: dict[str, Any], month: date) -> "Calendar":
        def at(day: int, hour: int) -> datetime:
            return datetime.combine(month.replace(day=day), time(hour), tzinfo=TOKYO)

        return cls(
            request_from=at(
                _number(settings, "updater_request_day", files.DEFAULT_REQUEST_DAY),
                files.DEFAULT_REQUEST_HOUR,
            ),
            request_until=month.replace(
                day=_number(
                    settings, "updater_request_deadline_day", files.DEFAULT_REQUEST_DEADLINE_DAY
                )
            ),
            result_from=at(
                _number(settings, "updater_result_day", files.DEFAULT_RESULT_DAY),
                _number(settings, "updater_result_hour", files.DEFAULT_RESULT_HOUR),
            ),
            result_wait_days=wait_days(
                settings, "updater_result_wait_days", files.DEFAULT_RESULT_WAIT_DAYS
            ),
        )


def month_of(now: datetime) -> date:
    return to_tokyo(now).date().replace(day=1)


def month_label(month: date) -> str:
    return f"{month.year}年{month.month}月"


async def enabled_accounts(services: "Services") -> list[ProviderAccount]:
    """Accounts with 自動洗替 on, at providers that run it (GMO PG)."""
    async with transaction(services.sessions) as s:
        rows = await s.scalars(
            select(ProviderAccount)
            .where(ProviderAccount.provider.in_(offering("card_updater")))
            .order_by(ProviderAccount.id)
        )
        return [a for a in rows.all() if (a.settings or {}).get("auto_card_update") is True]


async def _runs(services: "Services", month: date) -> dict[int, str]:
    async with transaction(services.sessions) as s:
        rows = await s.execute(
            select(repo.runs_t.c.account_id, repo.runs_t.c.status).where(
                repo.runs_t.c.month == repo.month_key(month)
            )
        )
        return {int(a): str(st) for a, st in rows.all()}


async def _busy(services: "Services", kind: str) -> bool:
    async with transaction(services.sessions) as s:
        return await jobs_repo.kind_busy(s, kind)


async def accounts_to_request(services: "Services", now: datetime) -> list[ProviderAccount]:
    month, local = month_of(now), to_tokyo(now)
    runs = await _runs(services, month)
    due = []
    for account in await enabled_accounts(services):
        cal = Calendar.of(account.settings or {}, month)
        sent = runs.get(account.id) not in (None, RunStatus.SELECTED.value)
        if not sent and cal.request_from <= local and local.date() <= cal.request_until:
            due.append(account)
    return due


def result_day_reached(account: ProviderAccount, month: date, moment: datetime) -> bool:
    """Whether the month's result may be fetched at this moment (from the 27th, 0時)."""
    return Calendar.of(account.settings or {}, month).result_from <= to_tokyo(moment)


async def accounts_to_fetch(services: "Services", now: datetime) -> list[ProviderAccount]:
    month = month_of(now)
    runs = await _runs(services, month)
    return [
        account
        for account in await enabled_accounts(services)
        if runs.get(account.id) == RunStatus.UPLOADED.value
        and result_day_reached(account, month, now)
    ]


async def overdue_count(services: "Services", now: datetime) -> int:
    """This month's accounts still 結果待ち past the 洗替結果's day and grace (待機超過);
    earlier months are closed as 未実施 and counted as such."""
    month = month_of(now)
    runs = await _runs(services, month)
    return sum(
        1
        for account in await enabled_accounts(services)
        if runs.get(account.id) == RunStatus.UPLOADED.value
        and Calendar.of(account.settings or {}, month).result_wait.over(now)
    )


def _hourly_key(kind: str, now: datetime) -> str:
    local = to_tokyo(now)
    return f"{kind}:{local:%Y-%m}:{local:%d%H}"


async def request_due(services: "Services", now: datetime) -> str | None:
    if await accounts_to_request(services, now) and not await _busy(services, REQUEST_KIND):
        return _hourly_key(REQUEST_KIND, now)
    return None


async def result_due(services: "Services", now: datetime) -> str | None:
    work = await accounts_to_fetch(services, now) or await missed.any_open(services, month_of(now))
    if work and not await _busy(services, RESULT_KIND):
        return _hourly_key(RESULT_KIND, now)
    return None


def month_params(now: datetime) -> dict[str, Any]:
    return {"month": repo.month_key(month_of(now))}


def job_month(services: "Services", job: Job) -> date:
    raw = (job.params or {}).get("month")
    if raw is None:
        return month_of(services.clock.now())
    try:
        return date.fromisoformat(f"{raw}-01")
    except ValueError:
        raise KessaiError(
            f"対象月「{raw}」は 2026-12 の形で指定してください", code="invalid_month"
        ) from None


async def _account(services: "Services", account_id: int) -> ProviderAccount:
    async with transaction(services.sessions) as s:
        account = await s.get(ProviderAccount, account_id)
    if account is None:
        raise KessaiError(f"外部連携アカウント {account_id} が見つかりません")
    return account


@dataclass
class UpdaterRequestJob:
    kind: str = REQUEST_KIND
    name: str = REQUEST_NAME
    columns: Sequence[tuple[str, str]] = (
        ("account", "外部連携アカウント"),
        ("month", "対象月"),
        ("targets", "洗替対象件数"),
        ("path", "ファイル名"),
    )
    chunk_size: int = 1

    async def plan(self, services: "Services", job: Job) -> list[Any]:
        month = job_month(services, job)
        runs = await _runs(services, month)
        return [
            a.id
            for a in await enabled_accounts(services)
            if runs.get(a.id) in (None, RunStatus.SELECTED.value)
        ]

    async def run(self, services: "Services", job: Job, keys: list[Any]) -> list[ItemResult]:
        month = job_month(services, job)
        results = []
        for account_id in keys:
            account = await _account(services, int(account_id))
            data: dict[str, Any] = {"account": account.name, "month": month_label(month)}
            try:
                sent = await send_request(services, account, month)
            except TransferError as exc:
                await self._failed(services, job, account, month, exc.message)
                results.append(ItemResult(str(account_id), ItemStatus.FAILED, exc.message, data))
                continue
            data |= {"targets": sent.targets, "path": sent.path}
            message = "送信済みです" if sent.already else f"{sent.targets}件を送信しました"
            if sent.first and not sent.already:
                message += "(初回洗替: 登録済みのすべてのカード)"
            results.append(ItemResult(str(account_id), ItemStatus.SUCCEEDED, message, data))
        return results

    async def _failed(
        self, services: "Services", job: Job, account: ProviderAccount, month: date, why: str
    ) -> None:
        from kessai.cardupdater.request import note_failure

        await note_failure(services, account, month, why)
        cal = Calendar.of(account.settings or {}, month)
        await notify_failure(
            services,
            job=job,
            account=account,
            month=month,
            step="自動洗替(洗替依頼ファイルの送信)",
            reason=why,
            retry_until=f"{cal.request_until.month}月{cal.request_until.day}日",
        )


@dataclass
class UpdaterResultJob:
    kind: str = RESULT_KIND
    name: str = RESULT_NAME
    columns: Sequence[tuple[str, str]] = (
        ("customer_id", "顧客ID"),
        ("customer_name", "顧客名"),
        ("member_id", "会員ID"),
        ("card_seq", "カード登録連番"),
        ("sent_masked_number", "洗替前カード番号"),
        ("sent_expire", "洗替前有効期限"),
        ("masked_number", "カード番号"),
        ("expire", "有効期限"),
        ("result", "洗替判定結果"),
    )
    chunk_size: int = 1000

    async def plan(self, services: "Services", job: Job) -> list[Any]:
        month = job_month(services, job)
        not_done = await missed.close_months_before(services, job, month)
        failures: list[str] = []
        async with transaction(services.sessions) as s:
            waiting = {r.account_id: r for r in await repo.runs_waiting_for_result(s)}
        for account in await enabled_accounts(services):
            run = waiting.get(account.id)
            if run is None or run.month != repo.month_key(month):
                continue
            # Only a job submitted from the result day fetches: the 1st's job, due to close
            # earlier months, must neither take the 27th's fetch (even when it runs late,
            # after a sandbox clock jump) nor try a file GMO has not returned yet.
            if not result_day_reached(account, month, job.created_at):
                continue
            try:
                applied = await fetch_and_apply(services, account, run, job.id)
            except (KessaiError, TransferError) as exc:
                wait = Calendar.of(account.settings or {}, month).result_wait
                if isinstance(exc, ResultNotReady) and wait.over(services.clock.now()):
                    message = wait.reason("洗替結果ファイル", str(exc.detail.get("path")))
                    failures.append(message)
                    await notify_overdue(
                        services,
                        job=job,
                        account=account,
                        month=month,
                        step=FETCH_STEP,
                        reason=message,
                    )
                    continue
                message = exc.message
                failures.append(message)
                await notify_failure(
                    services,
                    job=job,
                    account=account,
                    month=month,
                    step=FETCH_STEP,
                    reason=message,
                    retry_until=None,
                )
                continue
            if not applied.already:
                await notify_result(services, job=job, account=account, month=month)
        async with transaction(services.sessions) as s:
            runs = await repo.runs_applied_by(s, job.id)
            keys: list[Any] = []
            for run in runs:
                keys.extend(await repo.target_ids(s, run.id))
        if not_done:
            raise KessaiError(" / ".join(not_done + failures), code="card_updater_month_not_done")
        if failures and not runs:
            raise KessaiError(" / ".join(failures), code="card_updater_result_failed")
        return keys

    async def run(self, services: "Services", job: Job, keys: list[Any]) -> list[ItemResult]:
        async with transaction(services.sessions) as s:
            rows = await repo.target_rows(s, [int(k) for k in keys])
        return [_item(row) for row in rows]


def _item(row: Any) -> ItemResult:
    data = {
        "customer_id": row.customer_id,
        "customer_name": row.customer_name,
        "member_id": row.member_id,
        "card_seq": row.card_seq,
        "sent_masked_number": row.sent_masked_number,
        "sent_expire": row.sent_expire,
        "masked_number": row.masked_number,
        "expire": row.expire,
        "result": "" if row.result is None else f"{row.result}:{updater_label(row.result)}",
    }
    if row.result is None:
        return ItemResult(
            str(row.id), ItemStatus.FAILED, "洗替結果ファイルにこのカードの結果がありません", data
        )
    result = UpdaterResult(row.result)
    message = NEEDS_CHANGE if result.blocks_charging else ""
    return ItemResult(str(row.id), ItemStatus.SUCCEEDED, message, data)


register(UpdaterRequestJob())
register(UpdaterResultJob())
