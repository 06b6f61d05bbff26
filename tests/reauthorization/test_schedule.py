"""The scheduler's tick submits the 再オーソリバッチ on shipping days, once a day, by the
sandbox clock: moving the clock to the next shipping day retries the order."""

from datetime import date

from sqlalchemy import select

from kessai.core.db import transaction
from kessai.jobs.models import Job
from kessai.jobs.schedules import tick
from kessai.services import Services
from tests.reauthorization.conftest import (
    Provider,
    at,
    card_method,
    failed_order,
    order_of,
    shop,
)


async def reauthorization_jobs(services: Services) -> list[Job]:
    async with transaction(services.sessions) as s:
        rows = await s.scalars(select(Job).where(Job.kind == "reauthorization").order_by(Job.id))
        return list(rows.all())


async def test_ticks_run_the_batch_once_per_shipping_day(services: Services):
    await shop(services, non_shipping_dates=["2026-11-23"])
    method = await card_method(services)
    provider = Provider(services, method)
    order_id = await failed_order(services, method, days_ago=3)
    provider.next("decline", "decline", "decline")

    services.clock.set_now(at(date(2026, 11, 23), 6))  # 勤労感謝の日: not a shipping day
    await tick(services)
    await services.dispatcher.drain()
    assert await reauthorization_jobs(services) == []

    services.clock.set_now(at(date(2026, 11, 24), 4, 59))
    await tick(services)
    assert await reauthorization_jobs(services) == []

    services.clock.set_now(at(date(2026, 11, 24), 5, 0))
    await tick(services)
    await tick(services)  # a second tick (or scheduler) finds the day's job
    await services.dispatcher.drain()
    [first] = await reauthorization_jobs(services)
    assert first.dedupe_key == "reauthorization:2026-11-24"
    assert first.params == {"date": "2026-11-24"}
    assert provider.authorizations == 2

    services.clock.set_now(at(date(2026, 11, 25), 5, 30))
    await tick(services)
    await services.dispatcher.drain()

    assert [j.dedupe_key for j in await reauthorization_jobs(services)] == [
        "reauthorization:2026-11-24",
        "reauthorization:2026-11-25",
    ]
    assert provider.authorizations == 3
    order = await order_of(services, order_id)
    assert (order.reauthorization_tries, order.reauthorization_tried_on) == (
        2,
        date(2026, 11, 25),
    )
