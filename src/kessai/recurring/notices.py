"""再決済・決済方法変更のご案内: to the customer and the shop when the 有効性チェック finds a
card NG — by the 27th's job, or in bulk from the 定期受注 list."""

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.customers.models import Customer, CustomerCard
from kessai.customers.updater import blocks_charging, updater_label
from kessai.notifications.service import queue_for_all
from kessai.notifications.templates import MailKind
from kessai.shop.service import get_shop_settings
from kessai.subscriptions.models import Subscription
from kessai.subscriptions.status import SubscriptionStatus

if TYPE_CHECKING:
    from kessai.services import Services


def deadline(now: datetime) -> date:
    """Seed 002: an NG card not re-registered by the 7th of next month is not sent."""
    local = to_tokyo(now).date()
    return date(local.year + local.month // 12, local.month % 12 + 1, 7)


async def queue_change_notices(
    s: AsyncSession, card_ids: list[int], now: datetime, *, key: str
) -> int:
    """Queue the mail for each NG card still used by a 定期受注; how many customers."""
    shop = await get_shop_settings(s)
    due = deadline(now)
    sent = 0
    for card_id in card_ids:
        card = await s.get(CustomerCard, card_id)
        if card is None or not blocks_charging(card.updater_result):
            continue
        customer = await s.get(Customer, card.customer_id)
        assert customer is not None
        numbers = list(
            (
                await s.scalars(
                    select(Subscription.number)
                    .where(
                        Subscription.card_id == card_id,
                        Subscription.status != SubscriptionStatus.CANCELED.value,
                    )
                    .order_by(Subscription.id)
                )
            ).all()
        )
        if not numbers:
            continue
        await queue_for_all(
            s,
            kind=MailKind.RECURRING_CARD_INVALID,
            shop=shop,
            customer_email=customer.email,
            context={
                "customer_name": customer.name,
                "customer_id": customer.id,
                "customer_email": customer.email,
                "masked_number": card.masked_number,
                "result_label": updater_label(card.updater_result),
                "subscriptions": numbers,
                "card_change_allowed": shop.card_change_allowed,
                "deadline": f"{due.month}月{due.day}日",
            },
            now=now,
            dedupe_key=f"{MailKind.RECURRING_CARD_INVALID.value}:card:{card_id}:{key}",
            customer_id=customer.id,
        )
        sent += 1
    return sent


async def send_change_notices(services: "Services", subscription_ids: list[int]) -> int:
    """The 定期受注 list's bulk send: one mail per NG card of the chosen 定期受注."""
    from kessai.notifications.delivery import deliver_pending

    now = services.clock.now()
    async with transaction(services.sessions) as s:
        card_ids = sorted(
            {
                c
                for c in (
                    await s.scalars(
                        select(Subscription.card_id).where(Subscription.id.in_(subscription_ids))
                    )
                ).all()
                if c is not None
            }
        )
        count = await queue_change_notices(s, card_ids, now, key=f"{to_tokyo(now):%Y%m%d}")
    await deliver_pending(services)
    return count
