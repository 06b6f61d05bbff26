"""Billing day across worker processes: 1,000 due 定期受注 charged through GMO PG (the
simulator, 50 ms a call) by two `kessai worker` processes on RabbitMQ; one worker is killed
(SIGKILL) mid-run and started again. Every subscription must be charged exactly once (one
successful ExecTran per child order at the simulator), none skipped, and the job's counts
and CSV must say so. The embedded default (no broker) is held to the same in one process.
"""

import asyncio
import csv
import io
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from kessai.core.clock import tokyo_date
from kessai.core.db import transaction
from kessai.core.settings import Settings
from kessai.jobs import csvout
from kessai.jobs import repository as jobs_repo
from kessai.jobs.kinds import kind_of
from kessai.jobs.models import Job
from kessai.jobs.runner import resend_stalled
from kessai.jobs.service import submit
from kessai.orders.models import Order
from kessai.payments.status import PaymentStatus
from kessai.providers.gmo_pg.simulator import SimulatorConfig, create_simulator
from kessai.services import Services, build_services
from kessai.subscriptions.models import Subscription
from tests.jobs.brokers import (
    ROOT,
    broker_url,
    delete_queue,
    kill_worker,
    queue_name,
    start_worker,
    worker_env,
    workers,
)
from tests.loopback import serve
from tests.subscriptions.gmo_shop import exec_tran_results, seed_subscriptions

SUBSCRIPTIONS = 1_000
LATENCY = 0.05
LEASE_SECONDS = "5"  # a killed worker's calls in flight are looked up after this


@pytest.fixture
async def simulator() -> AsyncIterator[tuple[Starlette, str]]:
    app = create_simulator(SimulatorConfig(latency_seconds=LATENCY))
    async with serve(app) as url:
        yield app, url


async def wait_for(services: Services, job_id: int, done: bool, within: float) -> Job:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with transaction(services.sessions) as s:
            job = await jobs_repo.get_job(s, job_id)
        if (job.finished_at is not None) == done or loop.time() > deadline:
            return job
        await asyncio.sleep(0.1)


async def assert_billed_once(
    services: Services, app: Starlette, job_id: int, sub_ids: list[int], today: date
) -> None:
    async with transaction(services.sessions) as s:
        job = await jobs_repo.get_job(s, job_id)
        items = await jobs_repo.items(s, job_id)
        orders = list(
            (await s.execute(select(Order).where(Order.subscription_id.isnot(None)))).scalars()
        )
        subs = list((await s.execute(select(Subscription))).scalars())
    # The job: every subscription charged, counted once.
    assert job.status == "succeeded", Counter(i.message for i in items).most_common(5)
    assert (job.total, job.processed, job.succeeded, job.failed, job.skipped) == (
        SUBSCRIPTIONS,
        SUBSCRIPTIONS,
        SUBSCRIPTIONS,
        0,
        0,
    )
    rows = list(
        csv.DictReader(io.StringIO(csvout.render(kind_of("billing"), items).decode("utf-8-sig")))
    )
    assert len(rows) == SUBSCRIPTIONS
    assert {r["定期受注番号"] for r in rows} == {s.number for s in subs}
    assert {r["結果"] for r in rows} == {"成功"}
    # One child order per subscription for this cycle, each authorized.
    assert sorted(o.subscription_id for o in orders) == sorted(sub_ids)
    assert {o.subscription_cycle for o in orders} == {1}
    assert {o.payment_status for o in orders} == {PaymentStatus.AUTHORIZED.value}
    # At the provider: exactly one successful ExecTran per child order.
    results = exec_tran_results(app)
    ok = {order_id: n for (order_id, result), n in results.items() if result == "ok"}
    assert len(ok) == SUBSCRIPTIONS, f"{len(ok)} orders charged"
    assert max(ok.values()) == 1, "an order was charged twice"
    # Next cycle scheduled a month on.
    assert {s.cycle for s in subs} == {1}
    assert {s.next_ship_on for s in subs} == {next_month(today)}


def next_month(day: date) -> date:
    year, month = divmod(day.month, 12)
    return date(day.year + year, month + 1, min(day.day, 28))


async def test_two_workers_on_rabbitmq_one_killed_mid_run_charge_each_once(
    live_services: Services, simulator: tuple[Starlette, str], tmp_path: Path
) -> None:
    services = live_services
    if not services.settings.database_url.startswith("postgresql"):
        pytest.skip("worker processes share the database: PostgreSQL (SQLite: the embedded test)")
    app, sim_url = simulator
    url = broker_url("rabbitmq")
    queue = queue_name()
    sender = build_services(
        Settings(
            database_url=services.settings.database_url,
            env=services.settings.env,
            secret_key=services.settings.secret_key,
            broker_url=url,
            broker_queue=queue,
        )
    )
    now = services.clock.now()
    today = tokyo_date(now)
    sub_ids = await seed_subscriptions(services, sim_url, SUBSCRIPTIONS, today, now)
    env = worker_env(
        services.settings.database_url,
        url,
        queue,
        KESSAI_ATTEMPT_LEASE_SECONDS=LEASE_SECONDS,
        KESSAI_DB_POOL_SIZE="12",  # two workers and the test within max_connections
    )
    log = tmp_path / "worker{}.log"
    try:
        procs = [start_worker(env, log=Path(str(log).format(n))) for n in range(2)]
        with workers(procs):
            job, _ = await submit(
                sender, "billing", created_by="test", params={"date": today.isoformat()}
            )
            # Mid-run: some charges made, most not.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 120
            while sum(n for (_, r), n in exec_tran_results(app).items() if r == "ok") < 200:
                assert loop.time() < deadline, _logs(tmp_path)
                await asyncio.sleep(0.05)
            kill_worker(procs[0])
            charged_at_kill = sum(n for (_, r), n in exec_tran_results(app).items() if r == "ok")
            assert charged_at_kill < SUBSCRIPTIONS, "the run ended before the kill"
            procs.append(start_worker(env, log=Path(str(log).format(2))))
            done = await wait_for(sender, job.id, True, within=300)
            assert done.finished_at is not None, _logs(tmp_path)
        await assert_billed_once(services, app, job.id, sub_ids, today)
    finally:
        await sender.close()
        delete_queue(url, queue)


async def test_embedded_run_killed_and_resumed_charges_each_once(
    live_services: Services, simulator: tuple[Starlette, str]
) -> None:
    """No broker: the one process running the job is killed mid-run (SIGKILL); the next
    process's sweep (the scheduler's, after a restart) sends the stalled chunks again."""
    services = live_services
    app, sim_url = simulator
    now = services.clock.now()
    today = tokyo_date(now)
    sub_ids = await seed_subscriptions(services, sim_url, SUBSCRIPTIONS, today, now)
    env = worker_env(services.settings.database_url, "", "")
    del env["KESSAI_BROKER_URL"], env["KESSAI_BROKER_QUEUE"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.subscriptions.embedded_run",
        today.isoformat(),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    job_id = int((await asyncio.wait_for(proc.stdout.readline(), 60)).strip())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while sum(n for (_, r), n in exec_tran_results(app).items() if r == "ok") < 200:
        assert loop.time() < deadline
        assert proc.returncode is None
        await asyncio.sleep(0.05)
    proc.kill()  # everything in flight dies here
    await proc.wait()
    assert (await wait_for(services, job_id, True, within=0)).finished_at is None
    # The next process: past the attempts' lease, its sweep re-sends what was left.
    services.clock.advance(timedelta(seconds=services.settings.attempt_lease_seconds + 700))
    assert await resend_stalled(services) > 0
    await services.dispatcher.drain()
    await assert_billed_once(services, app, job_id, sub_ids, today)


def _logs(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in folder.glob("worker*.log"))
