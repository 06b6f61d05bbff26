"""Mails to the shop about 自動洗替: a failure (at most once a day per account and step) and
each month's result with the customers whose card can no longer be charged."""

from datetime import date
from typing import TYPE_CHECKING, Any

from kessai.accounts.models import ProviderAccount
from kessai.cardupdater import repository as repo
from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.customers.updater import UpdaterResult, updater_label
from kessai.jobs.models import Job
from kessai.notifications.service import MailTo, queue_mail
from kessai.notifications.templates import MailKind, Recipient
from kessai.shop.service import get_shop_settings

if TYPE_CHECKING:
    from kessai.services import Services

LISTED = 50  # customers named in the result mail; the job's CSV has them all


def _month_label(month: date) -> str:
    return f"{month.year}年{month.month}月"


async def notify_failure(
    services: "Services",
    *,
    job: Job,
    account: ProviderAccount,
    month: date,
    step: str,
    reason: str,
    retry_until: str | None,
    once: str | None = None,
) -> None:
    """Mailed at most once a day per account and step, or once ever for `once`."""
    now = services.clock.now()
    when = once or str(to_tokyo(now).date())
    async with transaction(services.sessions) as s:
        shop = await get_shop_settings(s)
        await queue_mail(
            s,
            kind=MailKind.CARD_UPDATER_FAILED,
            to=MailTo(Recipient.SHOP, shop.notification_email),
            shop=shop,
            context={
                "account_name": account.name,
                "month_label": _month_label(month),
                "step": step,
                "reason": reason,
                "retry_until": retry_until,
                "job_name": job.name,
                "job_id": job.id,
            },
            now=now,
            dedupe_key=f"{MailKind.CARD_UPDATER_FAILED.value}:{account.id}:{step}:{when}",
        )
    await _deliver(services)


async def notify_result(
    services: "Services", *, job: Job, account: ProviderAccount, month: date
) -> None:
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        run = await repo.run_of(s, account.id, month)
        assert run is not None
        counts = await repo.result_counts(s, run.id)
        blocked = await repo.blocked_targets(s, run.id, LISTED + 1)
        shop = await get_shop_settings(s)
        context: dict[str, Any] = {
            "account_name": account.name,
            "month_label": _month_label(month),
            "total": sum(counts.values()),
            "counts": [(f"{r.value}:{r.label}", counts.get(r.value, 0)) for r in UpdaterResult]
            + ([("結果なし", counts[""])] if counts.get("") else []),
            "needs_change": [
                {
                    "customer_id": row.customer_id,
                    "customer_name": row.customer_name,
                    "result_label": updater_label(row.result),
                }
                for row in blocked[:LISTED]
            ],
            "more": max(
                0, sum(counts.get(r.value, 0) for r in UpdaterResult if r.blocks_charging) - LISTED
            ),
            "job_id": job.id,
        }
        await queue_mail(
            s,
            kind=MailKind.CARD_UPDATER_RESULT,
            to=MailTo(Recipient.SHOP, shop.notification_email),
            shop=shop,
            context=context,
            now=now,
            dedupe_key=f"{MailKind.CARD_UPDATER_RESULT.value}:{run.id}",
        )
    await _deliver(services)


async def _deliver(services: "Services") -> None:
    from kessai.notifications.delivery import deliver_pending

    await deliver_pending(services)
