"""A month whose 自動洗替 did not happen does not stay 送信待ち or 結果待ち: when the next month
begins, the run becomes 未実施, the shop is mailed and 「GMO 洗替結果取得」 fails with the
reason (seed 000: 連携情報に入力ミスなどがあった場合の該当月は自動洗替が行われません).

No card changed that month; the next month selects by seed 000's rule as always: a card's
前回の洗替結果 is the last one applied, and a month whose request reached GMO counts as done
for the 初回洗替 (repository.had_run_before) while one never sent does not.
"""

from datetime import date
from typing import TYPE_CHECKING

from kessai.accounts.models import ProviderAccount
from kessai.cardupdater import repository as repo
from kessai.cardupdater.notices import notify_failure
from kessai.cardupdater.status import RunStatus
from kessai.core.db import transaction
from kessai.jobs.models import Job

if TYPE_CHECKING:
    from kessai.services import Services


def _label(month: str) -> str:
    year, number = month.split("-")
    return f"{year}年{int(number)}月"


REASONS = {
    RunStatus.NOT_SENT.value: "洗替依頼ファイルを送信できないまま月が替わりました",
    RunStatus.MISSED.value: "洗替結果ファイルを取得できないまま月が替わりました",
}


async def any_open(services: "Services", month: date) -> bool:
    async with transaction(services.sessions) as s:
        return await repo.open_past_months(s, month)


async def close_months_before(services: "Services", job: Job, month: date) -> list[str]:
    """Mark earlier months still open 未実施, mail the shop for each; the reasons."""
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        closed = await repo.close_past_months(s, month, now)
        accounts = {
            a.id: a
            for a in [await s.get(ProviderAccount, r.account_id) for r in closed]
            if a is not None
        }
    reasons = []
    for run in closed:
        account = accounts[run.account_id]
        reason = (
            f"{account.name} {_label(run.month)}: {REASONS[run.status]}。"
            "この月の自動洗替は行われていません(カード情報は更新されていません)"
            + (f"。最後のエラー: {run.last_error}" if run.last_error else "")
        )
        reasons.append(reason)
        await notify_failure(
            services,
            job=job,
            account=account,
            month=date.fromisoformat(f"{run.month}-01"),
            step="自動洗替(月の締め)",
            reason=reason,
            retry_until=None,
        )
    return reasons
