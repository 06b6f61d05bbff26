"""What every fault test checks afterwards: the provider's own count of charges, the job's
counts and CSV, and each order's 決済状況."""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from starlette.applications import Starlette

from kessai.core.clock import tokyo_date
from kessai.core.db import transaction
from kessai.jobs import repository as jobs_repo
from kessai.jobs.models import Job, JobItem
from kessai.jobs.service import submit
from kessai.orders.models import Order
from kessai.providers.simulator.faults import InjectError
from kessai.services import Services
from tests.subscriptions.gmo_shop import seed_subscriptions


def provider_calls(simulator: Starlette, api: str) -> Counter[tuple[str, str]]:
    """(OrderID, result) of every call `api` the simulator answered (or processed)."""
    calls = simulator.state.simulator.calls  # the simulator base's call log
    return Counter((c.ref, c.result) for c in calls if c.api == api)


def done_at_provider(simulator: Starlette, api: str) -> Counter[str]:
    """How many times the provider did `api` for each of its OrderIDs."""
    return Counter(
        order_id
        for (order_id, result), n in provider_calls(simulator, api).items()
        for _ in range(n)
        if result == "ok"
    )


async def when(condition: Callable[[], bool], within: float = 120) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "the run never got there"
        await asyncio.sleep(0.02)


async def job_and_items(services: Services, job_id: int) -> tuple[Job, list[JobItem]]:
    async with transaction(services.sessions) as s:
        return await jobs_repo.get_job(s, job_id), list(await jobs_repo.items(s, job_id))


def counts(job: Job) -> tuple[str, int, int, int, int, int]:
    return (job.status, job.total, job.processed, job.succeeded, job.failed, job.skipped)


async def orders_by_number(services: Services) -> dict[str, Order]:
    async with transaction(services.sessions) as s:
        return {o.number: o for o in (await s.execute(select(Order))).scalars()}


async def run_with_fault(
    services: Services,
    kind: str,
    params: dict[str, Any],
    simulator: Starlette,
    api: str,
    after: int,
    fault: Callable[[], Awaitable[object]],
) -> tuple[Job, list[JobItem]]:
    """A job run in this process; once the provider has done `api` `after` times (some
    answers written down, most calls still waiting on it), the fault, beside the run."""
    job, _ = await submit(services, kind, created_by="test", params=params)
    run = asyncio.ensure_future(services.dispatcher.drain())
    await when(lambda: sum(done_at_provider(simulator, api).values()) >= after)
    await fault()
    await run
    return await job_and_items(services, job.id)


CHARGED = frozenset({"AUTH", "SALES", "CAPTURE"})


def live_charges(simulator: Starlette, order: Order) -> list[str]:
    """The provider's live transactions (仮売上 or 売上) for a kessai order, whatever
    OrderID each call used (a 再オーソリ adds -2, -3 …): charged once is exactly one."""
    ref = order.number
    state = simulator.state.simulator.state
    return [
        t.status
        for (_, order_id), t in state.transactions.items()
        if (order_id == ref or order_id.startswith(f"{ref}-")) and t.status in CHARGED
    ]


async def billed(
    services: Services, app: Starlette, url: str, count: int, declined: int = 0
) -> list[int]:
    """`count` 定期受注 billed today, the first `declined` of them declined by the card
    company (a decline the next day may pass: 42G020000); their child orders' ids."""
    now = services.clock.now()
    today = tokyo_date(now)
    await seed_subscriptions(services, url, count, today, now)
    app.state.simulator.config.inject_error = (
        InjectError(info="42G020000", count=declined, api="ExecTran") if declined else None
    )
    job, _ = await submit(
        services, "billing", created_by="test", params={"date": today.isoformat()}
    )
    await services.dispatcher.drain()
    job, _ = await job_and_items(services, job.id)
    assert (job.succeeded, job.failed) == (count - declined, declined)
    return sorted(o.id for o in (await orders_by_number(services)).values())
