"""Builders for the 再オーソリバッチ tests: failed orders, the fake provider's next answers, runs.

The run day is Tuesday 2026-11-24, 05:00 in Tokyo (the day after 勤労感謝の日).
"""

import dataclasses
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kessai.accounts.models import PaymentMethod
from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.jobs import repository as jobs_repo
from kessai.jobs.models import Job, JobItem
from kessai.jobs.service import submit
from kessai.notifications.models import OutboxMail
from kessai.orders.models import Order
from kessai.orders.schemas import OrderCreate
from kessai.orders.service import create_order
from kessai.providers.contract import AuthorizeRequest, Outcome
from kessai.providers.fake.connector import FakeConnector
from kessai.services import Services
from kessai.shop.schemas import ShopSettingsPatch
from kessai.shop.service import update_shop_settings
from kessai.subscriptions.models import Subscription
from kessai.subscriptions.service import pause_unpaid
from tests.factories import act, make_method, make_order
from tests.smtp_server import Inbox, smtp_server

RUN_DAY = date(2026, 11, 24)


def at(day: date, hour: int = 5, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TOKYO)


@pytest.fixture(autouse=True)
def run_clock(request: pytest.FixtureRequest) -> None:
    """Tests that use the database start on the run day; pure ones need no database."""
    if "services" in request.fixturenames:
        services: Services = request.getfixturevalue("services")
        services.clock.set_now(at(RUN_DAY))


@pytest.fixture
def smtp(services: Services) -> Iterator[Inbox]:
    with smtp_server() as (inbox, url):
        services.settings = dataclasses.replace(services.settings, smtp_url=url)
        yield inbox


async def shop(services: Services, **values: Any) -> None:
    async with transaction(services.sessions) as s:
        await update_shop_settings(
            s, ShopSettingsPatch(**values), actor="test", now=services.clock.now()
        )


class Provider:
    """The fake provider behind a method: its next answers to authorizations, and the
    payment sources it was asked to charge."""

    def __init__(self, services: Services, method: PaymentMethod) -> None:
        assert method.account_id is not None
        fake = services.registry.fake(method.account_id)  # type: ignore[attr-defined]
        assert isinstance(fake, FakeConnector)
        self.fake = fake
        self.answers: list[str] = []
        self.sources: list[dict[str, str]] = []
        original = fake.authorize

        async def authorize(request: AuthorizeRequest) -> Outcome:
            self.sources.append(dict(request.source))
            if self.answers:
                scenario = self.answers.pop(0)
                request = dataclasses.replace(
                    request, options={**request.options, "scenario": scenario}
                )
            return await original(request)

        fake.authorize = authorize  # type: ignore[method-assign]

    def next(self, *scenarios: str) -> None:
        self.answers.extend(scenarios)

    @property
    def authorizations(self) -> int:
        return sum(1 for c in self.fake.calls if c.operation in ("authorize", "authorize_capture"))


async def failed_order(
    services: Services,
    method: PaymentMethod,
    *,
    days_ago: int = 1,
    scenario: str = "decline",
    customer_id: int | None = None,
    subscription_id: int | None = None,
    source: dict[str, str] | None = None,
) -> int:
    """An order whose first オーソリ was declined `days_ago` days before the run day."""
    ordered_at = at(RUN_DAY, 0, 30) - timedelta(days=days_ago)
    if customer_id is None:
        order_id = await make_order(services, method, ordered_at=ordered_at)
    else:
        async with transaction(services.sessions) as s:
            order = await create_order(
                s,
                OrderCreate(
                    customer_id=customer_id,
                    payment_method=method.code,
                    amount=5_500,
                    tax=500,
                    ordered_at=ordered_at,
                    subscription_id=subscription_id,
                    payment_source=source or {"token": "tok_test"},
                ),
                services.clock.now(),
            )
            order_id = order.id
    await services.payments.run(order_id, act("authorize", scenario=scenario))
    if subscription_id is not None:
        async with transaction(services.sessions) as s:
            await pause_unpaid(
                s, subscription_id, services.clock.now(), actor="test", reason="決済失敗"
            )
    return order_id


async def card_method(services: Services, **kw: Any) -> PaymentMethod:
    return await make_method(services, provider="gmo_pg", method_type="credit_card", **kw)


async def run_batch(services: Services, day: date | None = None) -> tuple[Job, dict[int, JobItem]]:
    """One 再オーソリバッチ for `day` (the clock's day by default), run to the end."""
    day = day or services.clock.today()
    job, _ = await submit(
        services, "reauthorization", created_by="test", params={"date": day.isoformat()}
    )
    await services.dispatcher.drain()
    async with transaction(services.sessions) as s:
        done = await jobs_repo.get_job(s, job.id)
        items = await jobs_repo.items(s, job.id)
    return done, {int(i.key): i for i in items}


async def order_of(services: Services, order_id: int) -> Order:
    async with transaction(services.sessions) as s:
        order = await s.get(Order, order_id, populate_existing=True)
        assert order is not None
        return order


async def subscription_of(services: Services, sid: int) -> Subscription:
    async with transaction(services.sessions) as s:
        sub = await s.get(Subscription, sid, populate_existing=True)
        assert sub is not None
        return sub


async def mails(services: Services) -> list[OutboxMail]:
    async with transaction(services.sessions) as s:
        rows = await s.scalars(select(OutboxMail).order_by(OutboxMail.id))
        return list(rows.all())


def next_day(services: Services, days: int = 1) -> None:
    services.clock.advance(timedelta(days=days))
