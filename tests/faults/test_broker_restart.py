"""RabbitMQ restarted in the middle of a billing run worked by two `kessai worker`
processes (a RabbitMQ node and a PostgreSQL of the test's own). Messages being worked
when it stops are delivered again; the scheduler's sweep re-sends what was left waiting.
Every 定期受注 is charged exactly once, and the job's counts say so."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette

from kessai.core.clock import tokyo_date
from kessai.jobs.runner import resend_stalled
from kessai.jobs.service import submit
from kessai.payments.status import PaymentStatus
from kessai.services import Services, build_services
from tests.faults.conftest import LEASE_SECONDS, settings_for
from tests.faults.helpers import (
    counts,
    done_at_provider,
    job_and_items,
    live_charges,
    orders_by_number,
    when,
)
from tests.faults.postgres import PrivatePostgres
from tests.faults.rabbitmq import PrivateRabbitMQ
from tests.jobs.brokers import start_worker, worker_env, workers
from tests.subscriptions.gmo_shop import seed_subscriptions

pytestmark = [pytest.mark.faults, pytest.mark.slow]

SUBSCRIPTIONS = 600  # three chunks of the billing run
QUEUE = "kessai_faults"


@pytest.fixture
def rabbitmq() -> Iterator[PrivateRabbitMQ]:
    node = PrivateRabbitMQ()
    try:
        node.start()
        yield node
    finally:
        node.remove()


async def test_billing_through_a_rabbitmq_restart_charges_each_once(
    services: Services,
    simulator: tuple[Starlette, str],
    private_pg: PrivatePostgres,
    database: str,
    rabbitmq: PrivateRabbitMQ,
    tmp_path: Path,
) -> None:
    app, url = simulator
    now = services.clock.now()
    today = tokyo_date(now)
    await seed_subscriptions(services, url, SUBSCRIPTIONS, today, now)
    sender = build_services(
        settings_for(private_pg, database, broker_url=rabbitmq.url, broker_queue=QUEUE)
    )
    env = worker_env(
        private_pg.url(database),
        rabbitmq.url,
        QUEUE,
        KESSAI_ATTEMPT_LEASE_SECONDS=str(LEASE_SECONDS),
        KESSAI_DB_POOL_SIZE="12",
    )
    procs = [start_worker(env, log=tmp_path / f"worker{n}.log") for n in range(2)]
    try:
        with workers(procs):
            job, _ = await submit(
                sender, "billing", created_by="test", params={"date": today.isoformat()}
            )
            await when(lambda: sum(done_at_provider(app, "ExecTran").values()) >= 100, 180)
            await asyncio.to_thread(rabbitmq.stop)
            # Down mid-run (the node's VM gone): most of the run was still to do.
            assert sum(done_at_provider(app, "ExecTran").values()) < SUBSCRIPTIONS
            await asyncio.to_thread(rabbitmq.start)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 300
            while (await job_and_items(services, job.id))[0].finished_at is None:
                assert loop.time() < deadline, f"not finished: see the logs in {tmp_path}"
                # The scheduler's sweep: what waited past its grace is sent again.
                await resend_stalled(sender, grace_seconds=20)
                await asyncio.sleep(2)
    finally:
        await sender.close()

    job, items = await job_and_items(services, job.id)
    n = SUBSCRIPTIONS
    assert counts(job) == ("succeeded", n, n, n, 0, 0), [
        i.message for i in items if i.status != "succeeded"
    ]
    children = [o for o in (await orders_by_number(services)).values() if o.subscription_id]
    assert len(children) == n
    for order in children:
        assert live_charges(app, order) == ["AUTH"], order.number
        assert order.payment_status == PaymentStatus.AUTHORIZED.value
    assert max(done_at_provider(app, "ExecTran").values()) == 1
