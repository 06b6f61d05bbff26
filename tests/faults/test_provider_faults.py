"""The provider failing under a billing run: 503 from its front (with the call processed
behind it, or not), answers slow to come, no answer at all after the request was sent,
and connections refused. Each ends with every 定期受注 charged exactly once at the
provider, the job's counts and each order's 決済状況 true, and what could not be charged
left for the next run, which charges it once."""

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from kessai.accounts.models import ProviderAccount
from kessai.core.clock import tokyo_date
from kessai.core.db import transaction
from kessai.jobs.service import submit
from kessai.payments.status import PaymentStatus
from kessai.providers.simulator.faults import LoseResponse, ServerError
from kessai.services import Services
from tests.faults.helpers import counts, job_and_items, live_charges, orders_by_number
from tests.faults.postgres import free_port
from tests.subscriptions.gmo_shop import seed_subscriptions

pytestmark = pytest.mark.faults

SUBSCRIPTIONS = 12
REFUSED = "オーソリ: 決済サービスに接続できませんでした(送信されていません)"


@dataclass(frozen=True)
class Fault:
    switches: dict[str, Any]
    timeout_seconds: float = 60.0


FAULTS = {
    # The provider's front answers 503: the first five calls never reached it.
    "503": Fault({"server_error": ServerError(503, count=5, api="ExecTran")}),
    # 503 again, but the five calls were processed behind the error page.
    "503_processed": Fault(
        {"server_error": ServerError(503, count=5, api="ExecTran", commit=True)}
    ),
    # Slow: two seconds an answer, inside the account's timeout.
    "slow": Fault({"latency_seconds": 2.0}, timeout_seconds=5),
    # Silent: five calls are processed and then nothing comes back; kessai times out.
    "silent": Fault(
        {"lose_response": LoseResponse(count=5, api="ExecTran", mode="hang", hang_seconds=8)},
        timeout_seconds=1,
    ),
}


async def point_account(services: Services, **settings: object) -> None:
    async with transaction(services.sessions) as s:
        account = (await s.execute(select(ProviderAccount))).scalar_one()
        await s.execute(
            update(ProviderAccount)
            .where(ProviderAccount.id == account.id)
            .values(settings={**account.settings, **settings})
        )
    await services.registry.forget(account.id)  # as saving the account does


async def bill(services: Services) -> tuple[object, ...]:
    today = tokyo_date(services.clock.now())
    job, _ = await submit(
        services, "billing", created_by="test", params={"date": today.isoformat()}
    )
    await services.dispatcher.drain()
    job, items = await job_and_items(services, job.id)
    return (*counts(job), sorted({i.message for i in items if i.status != "succeeded"}))


async def assert_each_charged_once(services: Services, app: Starlette) -> None:
    children = [o for o in (await orders_by_number(services)).values() if o.subscription_id]
    assert len(children) == SUBSCRIPTIONS
    for order in children:
        assert live_charges(app, order) == ["AUTH"], order.number
        assert (order.payment_status, order.in_flight_attempt_id) == (
            PaymentStatus.AUTHORIZED.value,
            None,
        )


@pytest.mark.parametrize("name", list(FAULTS))
async def test_billing_through_a_failing_provider_charges_each_once(
    services: Services, simulator: tuple[Starlette, str], name: str
) -> None:
    app, url = simulator
    fault = FAULTS[name]
    now = services.clock.now()
    await seed_subscriptions(services, url, SUBSCRIPTIONS, tokyo_date(now), now)
    await point_account(services, timeout_seconds=fault.timeout_seconds)
    config = app.state.simulator.config
    for key, value in fault.switches.items():
        setattr(config, key, value)

    n = SUBSCRIPTIONS
    assert await bill(services) == ("succeeded", n, n, n, 0, 0, [])
    await assert_each_charged_once(services, app)


async def test_billing_while_the_provider_refuses_connections_charges_on_the_next_run(
    services: Services, simulator: tuple[Starlette, str]
) -> None:
    app, url = simulator
    now = services.clock.now()
    await seed_subscriptions(services, url, SUBSCRIPTIONS, tokyo_date(now), now)
    await point_account(services, endpoint=f"http://127.0.0.1:{free_port()}")  # nobody there

    n = SUBSCRIPTIONS
    assert await bill(services) == ("failed", n, n, 0, n, 0, [REFUSED])
    children = [o for o in (await orders_by_number(services)).values() if o.subscription_id]
    assert {live_charges(app, o) == [] for o in children} == {True}
    assert {o.payment_status for o in children} == {PaymentStatus.PENDING.value}

    await point_account(services, endpoint=url)  # the provider is back: the next run
    assert await bill(services) == ("succeeded", n, n, n, 0, 0, [])
    await assert_each_charged_once(services, app)
