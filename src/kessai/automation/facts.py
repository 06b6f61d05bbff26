"""What a rule's 条件 and its mails read of the order (or 定期受注) an event is about."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod
from kessai.automation.rules import Conditions
from kessai.core.clock import tokyo_date
from kessai.customers.models import Customer, CustomerCard
from kessai.customers.updater import updater_label
from kessai.orders.models import Order, OrderLabel
from kessai.payments.status import HandlingStatus, PaymentStatus
from kessai.subscriptions.models import Subscription


@dataclass(frozen=True)
class Facts:
    order: Order | None
    subscription: Subscription | None
    method: PaymentMethod | None
    customer: Customer | None
    labels: frozenset[str]
    card: CustomerCard | None = None  # a card event's card
    card_subscriptions: tuple[Subscription, ...] = field(default=())  # the 定期受注 it pays

    @property
    def amount(self) -> int | None:
        if self.order is not None:
            return self.order.amount
        return None if self.subscription is None else self.subscription.amount

    def meets(self, c: Conditions) -> bool:
        if c.empty:
            return True
        if self.order is None and self.subscription is None and self.card is None:
            return False
        if c.payment_methods and (self.method is None or self.method.code not in c.payment_methods):
            return False
        amount = self.amount
        if c.amount_min is not None and (amount is None or amount < c.amount_min):
            return False
        if c.amount_max is not None and (amount is None or amount > c.amount_max):
            return False
        if c.subscription is not None:
            is_sub = self.subscription is not None or (
                self.order is not None and self.order.subscription_id is not None
            )
            if is_sub != c.subscription:
                return False
        if c.labels and not set(c.labels) <= self.labels:
            return False
        if c.customer_email_domain:
            email = (self.customer.email or "") if self.customer else ""
            if email.rpartition("@")[2].lower() != c.customer_email_domain.lower():
                return False
        return True


async def labels_of(s: AsyncSession, order_id: int) -> frozenset[str]:
    rows = await s.scalars(select(OrderLabel.label).where(OrderLabel.order_id == order_id))
    return frozenset(rows.all())


async def _card(s: AsyncSession, card_id: int) -> Facts:
    """A card, its customer and the 定期受注 it pays (the first of them for the 条件)."""
    card = await s.get(CustomerCard, card_id, populate_existing=True)
    if card is None:
        return Facts(None, None, None, None, frozenset())
    subs = (
        await s.scalars(
            select(Subscription).where(Subscription.card_id == card.id).order_by(Subscription.id)
        )
    ).all()
    method = await s.get(PaymentMethod, card.payment_method_id)
    customer = await s.get(Customer, card.customer_id)
    first = subs[0] if subs else None
    return Facts(None, first, method, customer, frozenset(), card, tuple(subs))


async def load(s: AsyncSession, subject: str) -> Facts:
    """The facts of an event's subject (order:12, subscription:3, card:4, job:5)."""
    entity, _, raw = subject.partition(":")
    ident = int(raw)
    if entity == "card":
        return await _card(s, ident)
    order = subscription = None
    if entity == "order":
        order = await s.get(Order, ident, populate_existing=True)
    elif entity == "subscription":
        subscription = await s.get(Subscription, ident, populate_existing=True)
    row = order or subscription
    if row is None:
        return Facts(None, None, None, None, frozenset())
    method = await s.get(PaymentMethod, row.payment_method_id)
    customer = await s.get(Customer, row.customer_id)
    labels = await labels_of(s, order.id) if order is not None else frozenset()
    return Facts(order, subscription, method, customer, labels)


def _japanese_date(moment: Any) -> str:
    day = tokyo_date(moment)
    return f"{day.year}年{day.month}月{day.day}日"


def subscriptions_of(facts: Facts) -> tuple[Subscription, ...]:
    """The 定期受注 an event without an order is about: a card's, or the one itself."""
    if facts.card is not None:
        return facts.card_subscriptions
    return () if facts.subscription is None else (facts.subscription,)


def mail_context(facts: Facts, rule_name: str, card_change_allowed: bool) -> dict[str, Any]:
    """The variables of 自動化設定's templates (templates.AUTOMATION_VARIABLES)."""
    o, c, m = facts.order, facts.customer, facts.method
    sub = facts.subscription
    return {
        "customer_name": c.name if c else "",
        "customer_id": c.id if c else None,
        "customer_email": c.email if c else None,
        "order_id": o.id if o else None,
        "order_number": o.number if o else "",
        "ordered_on": _japanese_date(o.ordered_at) if o else "",
        "amount": facts.amount or 0,
        "tax": o.tax if o else (sub.tax if sub else 0),
        "payment_method_name": m.name if m else "",
        "payment_status_label": PaymentStatus(o.payment_status).label if o else "",
        "handling_status_label": HandlingStatus(o.handling_status).label if o else "",
        "subscription_id": (o.subscription_id if o else (sub.id if sub else None)),
        "card_change_allowed": card_change_allowed,
        "rule_name": rule_name,
        **card_context(facts),
    }


def deadline_context(event_data: dict[str, Any]) -> dict[str, Any]:
    """期限のイベント: which deadline and when (blank for every other event)."""
    closing = event_data.get("deadline") or {}
    return {
        "deadline_label": closing.get("label", ""),
        "deadline_at": closing.get("shown", ""),
    }


def card_context(facts: Facts) -> dict[str, Any]:
    card = facts.card
    return {
        "card_number": card.masked_number if card else "",
        "card_expire": card.expire if card else "",
        "updater_result_label": updater_label(card.updater_result) if card else "",
        "subscription_numbers": [x.number for x in facts.card_subscriptions],
    }
