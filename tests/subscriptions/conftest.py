"""Builders for 定期受注 tests: a customer with a stored card, subscriptions, billing runs."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update

from kessai.accounts.models import PaymentMethod
from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.customers.models import Customer, CustomerCard
from kessai.jobs import repository as jobs_repo
from kessai.jobs.models import Job, JobItem
from kessai.jobs.service import submit
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt
from kessai.providers.fake.connector import FakeConnector
from kessai.services import Services
from kessai.subscriptions.models import Subscription
from kessai.subscriptions.schemas import CycleIn, ItemIn, SubscriptionCreate
from kessai.subscriptions.service import create_subscription
from tests.factories import make_method

# Billing day in these tests: 2026-11-22, twenty past midnight in Tokyo.
BILLING_DAY = date(2026, 11, 22)
BILLING_MOMENT = datetime(2026, 11, 22, 0, 20, tzinfo=TOKYO)


@pytest.fixture(autouse=True)
def billing_clock(services: Services) -> None:
    services.clock.set_now(BILLING_MOMENT)


async def card_method(services: Services, **flags: Any) -> PaymentMethod:
    return await make_method(services, provider="gmo_pg", method_type="credit_card", **flags)


def fake(services: Services, method: PaymentMethod) -> FakeConnector:
    assert method.account_id is not None
    conn = services.registry.fake(method.account_id)  # type: ignore[attr-defined]
    assert isinstance(conn, FakeConnector)
    return conn


@dataclass(frozen=True)
class Holder:
    customer_id: int
    card_id: int


async def customer_with_card(
    services: Services,
    method: PaymentMethod,
    *,
    name: str = "山田 太郎",
    updater_result: str | None = None,
) -> Holder:
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        customer = Customer(name=name, email="taro@example.jp", created_at=now)
        s.add(customer)
        await s.flush()
        assert method.account_id is not None
        card = CustomerCard(
            customer_id=customer.id,
            account_id=method.account_id,
            payment_method_id=method.id,
            member_id=f"kessai-{customer.id:010d}",
            card_seq=str(customer.id % 7),
            masked_number="411111******1111",
            expire="2812",
            created_at=now,
            updater_result=updater_result,
            updater_checked_at=now if updater_result is not None else None,
        )
        s.add(card)
        await s.flush()
        return Holder(customer.id, card.id)


async def add_card(services: Services, method: PaymentMethod, customer_id: int) -> int:
    async with transaction(services.sessions) as s:
        assert method.account_id is not None
        card = CustomerCard(
            customer_id=customer_id,
            account_id=method.account_id,
            payment_method_id=method.id,
            member_id=f"kessai-{customer_id:010d}",
            card_seq="9",
            masked_number="555555******4444",
            expire="2912",
            created_at=services.clock.now(),
        )
        s.add(card)
        await s.flush()
        return card.id


def body(method_code: str, holder: Holder, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "customer_id": holder.customer_id,
        "payment_method": method_code,
        "card_id": holder.card_id,
        "items": [{"name": "青汁 30包", "sku": "AOJIRU-30", "quantity": 2, "unit_price": 2_750}],
        "tax": 407,
        "cycle": {"kind": "months", "interval": 1},
        "next_ship_on": BILLING_DAY.isoformat(),
    }
    data.update(overrides)
    return data


async def make_subscription(
    services: Services,
    method: PaymentMethod,
    holder: Holder | None = None,
    *,
    next_ship_on: date = BILLING_DAY,
    amount: int | None = None,
    cycle: CycleIn | None = None,
    status: str | None = None,
    next_delivery_on: date | None = None,
) -> int:
    holder = holder or await customer_with_card(services, method)
    async with transaction(services.sessions) as s:
        sub = await create_subscription(
            s,
            SubscriptionCreate(
                customer_id=holder.customer_id,
                payment_method=method.code,
                card_id=holder.card_id,
                items=[ItemIn(name="青汁 30包", sku="AOJIRU-30", quantity=1, unit_price=5_500)],
                amount=amount,
                tax=500,
                cycle=cycle or CycleIn(kind="months", interval=1),
                next_ship_on=next_ship_on,
                next_delivery_on=next_delivery_on,
            ),
            services.clock.now(),
            "test",
        )
        if status is not None:
            await s.execute(
                update(Subscription).where(Subscription.id == sub.id).values(status=status)
            )
        return sub.id


async def set_updater(services: Services, card_id: int, result: str | None) -> None:
    async with transaction(services.sessions) as s:
        await s.execute(
            update(CustomerCard)
            .where(CustomerCard.id == card_id)
            .values(updater_result=result, updater_checked_at=services.clock.now())
        )


async def bill(services: Services, *, dedupe_key: str | None = None, **params: Any) -> Job:
    """Submit a billing run for the billing day and wait until it has finished."""
    job, _ = await submit(
        services,
        "billing",
        created_by="test",
        params={"date": BILLING_DAY.isoformat(), **params},
        dedupe_key=dedupe_key,
    )
    await services.dispatcher.drain()
    return await job_of(services, job.id)


async def job_of(services: Services, job_id: int) -> Job:
    async with transaction(services.sessions) as s:
        return await jobs_repo.get_job(s, job_id)


async def items_of(services: Services, job_id: int) -> list[JobItem]:
    async with transaction(services.sessions) as s:
        return await jobs_repo.items(s, job_id)


async def subscription(services: Services, sid: int) -> Subscription:
    async with transaction(services.sessions) as s:
        sub = await s.get(Subscription, sid, populate_existing=True)
        assert sub is not None
        return sub


async def child_orders(services: Services, sid: int) -> list[Order]:
    async with transaction(services.sessions) as s:
        rows = await s.scalars(
            select(Order).where(Order.subscription_id == sid).order_by(Order.subscription_cycle)
        )
        return list(rows.all())


async def authorize_attempts(services: Services) -> dict[int, int]:
    """Per order: how many authorizations 決済履歴 shows as sent to the provider."""
    async with transaction(services.sessions) as s:
        rows = await s.execute(
            select(PaymentAttempt.order_id, func.count())
            .where(PaymentAttempt.operation.in_(("authorize", "authorize_capture")))
            .group_by(PaymentAttempt.order_id)
        )
        return {int(o): int(n) for o, n in rows.all()}


def authorize_calls(conn: FakeConnector) -> dict[str, int]:
    """Per provider reference: how many authorizations reached the (fake) provider."""
    out: dict[str, int] = {}
    for call in conn.calls:
        if call.operation in ("authorize", "authorize_capture"):
            out[call.reference] = out.get(call.reference, 0) + 1
    return out
