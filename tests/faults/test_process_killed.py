"""The process running a 再オーソリバッチ killed (SIGKILL) after the provider authorized
an order and before kessai heard back: the call was written ahead and today's try
claimed on the order, so the next run settles it by a lookup and never authorizes it
again. Every order ends 再与信完了 with exactly one live authorization at the provider."""

import asyncio
import json
import sys
from datetime import timedelta

import pytest
from starlette.applications import Starlette

from kessai.core.clock import tokyo_date
from kessai.jobs.runner import resend_stalled
from kessai.providers.simulator.faults import LoseResponse
from kessai.services import Services
from tests.faults.conftest import LEASE_SECONDS
from tests.faults.helpers import (
    billed,
    counts,
    job_and_items,
    live_charges,
    orders_by_number,
    provider_calls,
    when,
)
from tests.faults.postgres import PrivatePostgres
from tests.jobs.brokers import ROOT, worker_env

pytestmark = pytest.mark.faults

ORDERS = 5


async def test_reauthorization_killed_between_the_charge_and_its_record_charges_once(
    services: Services, simulator: tuple[Starlette, str], private_pg: PrivatePostgres, database: str
) -> None:
    app, url = simulator
    await billed(services, app, url, ORDERS, declined=ORDERS)
    # The next 再オーソリ is authorized at the provider, whose answer never comes back.
    app.state.simulator.config.lose_response = LoseResponse(
        count=1, api="ExecTran", mode="hang", hang_seconds=120
    )
    today = tokyo_date(services.clock.now())
    env = worker_env(
        private_pg.url(database), "", "", KESSAI_ATTEMPT_LEASE_SECONDS=str(LEASE_SECONDS)
    )
    del env["KESSAI_BROKER_URL"], env["KESSAI_BROKER_QUEUE"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.faults.run_job",
        "reauthorization",
        json.dumps({"date": today.isoformat()}),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    job_id = int((await asyncio.wait_for(proc.stdout.readline(), 60)).strip())
    await when(lambda: any(r == "lost" for _, r in provider_calls(app, "ExecTran")), 60)
    proc.kill()  # between the provider's charge and kessai's record of it
    await proc.wait()

    orders = await orders_by_number(services)
    (cut,) = [o for o in orders.values() if live_charges(app, o)]
    assert cut.in_flight_attempt_id is not None  # written ahead, never answered
    assert cut.payment_status == "pending"
    job, items = await job_and_items(services, job_id)
    assert job.finished_at is None
    assert items == []

    # The next process: the scheduler's sweep, once the attempt's lease has passed.
    services.clock.advance(timedelta(seconds=LEASE_SECONDS + 700))
    assert await resend_stalled(services) > 0
    await services.dispatcher.drain()

    job, items = await job_and_items(services, job_id)
    assert counts(job) == ("succeeded", ORDERS, ORDERS, ORDERS, 0, 0), [i.message for i in items]
    assert {i.message for i in items} == {"再与信完了"}
    for order in (await orders_by_number(services)).values():
        assert live_charges(app, order) == ["AUTH"], order.number
        assert (order.payment_status, order.reauthorization_label) == ("authorized", "completed")
        assert (order.reauthorization_tries, order.in_flight_attempt_id) == (1, None)
    # The one cut off was authorized once: its 再オーソリ's OrderID was never sent again.
    sent = [oid for (oid, r), n in provider_calls(app, "ExecTran").items() for _ in range(n)]
    assert sent.count(f"{cut.number}-2") == 1
