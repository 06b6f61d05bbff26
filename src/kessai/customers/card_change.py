"""マイページのクレジットカード変更 (seed 004: allowed only when the shop's マイページ設定 says
「クレジットカード変更: 許可する」).

The new card is saved at the provider first; until that succeeded nothing else changes, so a
refused or unreachable provider leaves the old card and every 定期受注 as they were. Then,
in one transaction, the 定期受注 move to the new card and 決済方法変更完了通知 is queued for
the customer and the shop; orders waiting for 再オーソリ take the new card at their next try.
Only then is the old card removed at the provider (unless asked to keep it).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod
from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.core.errors import InvalidInput, KessaiError, NotFound
from kessai.customers.models import Customer, CustomerCard
from kessai.customers.schemas import CardChange, CardCreate
from kessai.customers.service import delete_card, get_customer, register_card
from kessai.notifications.delivery import deliver_pending
from kessai.notifications.service import queue_for_all
from kessai.notifications.templates import MailKind
from kessai.orders.models import Order
from kessai.services import Services
from kessai.shop.service import get_shop_settings
from kessai.subscriptions.models import Subscription
from kessai.subscriptions.reauthorization import OPEN_LABELS
from kessai.subscriptions.service import switch_card
from kessai.subscriptions.status import SubscriptionStatus


class CardChangeNotAllowed(KessaiError):
    status_code = 403
    code = "card_change_not_allowed"


@dataclass(frozen=True)
class CardChanged:
    card: CustomerCard
    method_code: str
    replaced_card_id: int
    subscriptions_switched: int
    old_card_deleted: bool
    old_card_message: str | None
    reauthorization_orders: list[int]


async def change_card(services: Services, customer_id: int, data: CardChange) -> CardChanged:
    async with transaction(services.sessions) as s:
        shop = await get_shop_settings(s)
        if not shop.card_change_allowed:
            raise CardChangeNotAllowed(
                "クレジットカードの変更は許可されていません"
                "(ショップ設定「マイページ設定: クレジットカード変更」が「許可しない」です)",
                detail={"setting": "card_change_allowed"},
            )
        await get_customer(s, customer_id)
        old = await _old_card(s, customer_id, data.card_id)
        method_code = await _method_code(s, old, data.payment_method)
    # 1. The new card at the provider; any failure ends here, with nothing changed.
    card, method_code = await register_card(
        services, customer_id, CardCreate(payment_method=method_code, token=data.token)
    )
    # 2. The 定期受注 on the new card and the mails, in one transaction.
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        customer = await get_customer(s, customer_id)
        moved = await switch_card(s, customer_id, old.id, card.id, now)
        waiting = await _waiting_orders(s, customer_id)
        subscriptions = await _subscription_numbers(s, card.id)
        shop = await get_shop_settings(s)
        await queue_for_all(
            s,
            kind=MailKind.PAYMENT_METHOD_CHANGED,
            shop=shop,
            customer_email=customer.email,
            context=_mail_context(customer, card, old, now, subscriptions, waiting),
            now=now,
            dedupe_key=f"{MailKind.PAYMENT_METHOD_CHANGED.value}:card:{card.id}",
            customer_id=customer_id,
        )
    # 3. The old card, no longer used by anything kessai bills.
    deleted, message = False, None
    if not data.keep_old_card:
        try:
            await delete_card(services, customer_id, old.id)
            deleted = True
        except KessaiError as exc:  # the change stands; the old card stays registered
            message = f"変更前のカードを削除できませんでした: {exc.message}"
    await deliver_pending(services)
    return CardChanged(
        card=card,
        method_code=method_code,
        replaced_card_id=old.id,
        subscriptions_switched=moved,
        old_card_deleted=deleted,
        old_card_message=message,
        reauthorization_orders=[o.id for o in waiting],
    )


async def _old_card(s: AsyncSession, customer_id: int, card_id: int | None) -> CustomerCard:
    query = select(CustomerCard).where(
        CustomerCard.customer_id == customer_id, CustomerCard.deleted_at.is_(None)
    )
    if card_id is not None:
        query = query.where(CustomerCard.id == card_id)
    card = await s.scalar(query.order_by(CustomerCard.id.desc()).limit(1))
    if card is None:
        what = f" (id: {card_id})" if card_id is not None else ""
        raise NotFound(f"変更するカードが見つかりませんでした{what}", code="card_not_found")
    return card


async def _method_code(s: AsyncSession, old: CustomerCard, requested: str | None) -> str:
    """The new card's 支払い方法: the old card's, or one on the same provider account (the
    定期受注 billed with the old card must be able to use the new one)."""
    if requested is None:
        method = await s.get(PaymentMethod, old.payment_method_id)
        assert method is not None
        return method.code
    method = await s.scalar(select(PaymentMethod).where(PaymentMethod.code == requested))
    if method is None:
        raise InvalidInput(
            f"支払い方法「{requested}」は登録されていません", code="unknown_payment_method"
        )
    if method.account_id != old.account_id:
        raise InvalidInput(
            f"支払い方法「{method.name}」は変更前のカードと別の外部連携アカウントです。"
            "同じアカウントの支払い方法を指定してください",
            code="card_account_mismatch",
        )
    return method.code


async def _waiting_orders(s: AsyncSession, customer_id: int) -> list[Order]:
    """Orders the 再オーソリバッチ still retries: their next try uses the new card."""
    rows = await s.scalars(
        select(Order)
        .where(
            Order.customer_id == customer_id,
            Order.reauthorization_label.in_([label.value for label in OPEN_LABELS]),
        )
        .order_by(Order.id)
    )
    return list(rows.all())


async def _subscription_numbers(s: AsyncSession, card_id: int) -> list[str]:
    rows = await s.scalars(
        select(Subscription.number)
        .where(
            Subscription.card_id == card_id,
            Subscription.status != SubscriptionStatus.CANCELED.value,
        )
        .order_by(Subscription.id)
    )
    return list(rows.all())


def _mail_context(
    customer: Customer,
    card: CustomerCard,
    old: CustomerCard,
    now: datetime,
    subscriptions: list[str],
    waiting: list[Order],
) -> dict[str, object]:
    at = to_tokyo(now)
    expire = f"{card.expire[2:4]}/{card.expire[0:2]}" if len(card.expire) == 4 else card.expire
    return {
        "customer_name": customer.name,
        "customer_id": customer.id,
        "customer_email": customer.email,
        "changed_at": f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}",
        "masked_number": card.masked_number,
        "expire": expire,
        "new_card_id": card.id,
        "old_card_id": old.id,
        "subscriptions": subscriptions,
        "waiting_orders": [o.number for o in waiting],
    }
