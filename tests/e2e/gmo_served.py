"""One GMO PG shop served over loopback for the end-to-end tests of GMO's methods: kessai's
API and GMO's simulator on their own ports, a GMO PG account on the simulator, the methods a
test file names, and an API key. The simulator sends its 結果通知 to kessai when asked."""

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx
from starlette.applications import Starlette

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.apikeys.service import create_key
from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.providers.gmo_pg.simulator import (
    TEST_SHOP_ID,
    TEST_SHOP_PASS,
    TEST_SITE_ID,
    TEST_SITE_PASS,
    SimulatorConfig,
    create_simulator,
)
from kessai.services import Services
from kessai.web.app import create_app
from tests.loopback import serve

# (code, name, method type) of each payment method the shop offers
Methods = Iterable[tuple[str, str, str]]
# 決済日時 of the method tests: windows such as d払い's 翌々月末 are counted from it.
NOV_10 = datetime(2026, 11, 10, 10, 0, tzinfo=TOKYO)


@dataclass
class GmoServed:
    api: httpx.AsyncClient
    sim: httpx.AsyncClient
    sim_app: Starlette
    account_id: int


@asynccontextmanager
async def gmo_served(
    svc: Services,
    methods: Methods,
    *,
    key_name: str = "storefront",
    notify: bool = False,
    site: bool = False,
    at: datetime | None = NOV_10,
) -> AsyncIterator[GmoServed]:
    """`site`: the account has GMO's サイトID too (members and stored cards); `at`: where the
    sandbox clock starts (None: as it is)."""
    if at is not None:
        svc.clock.set_now(at)
    if notify:  # kessai's inbox jobs retried quickly (the 結果通知 too: below)
        svc.dispatcher.retry_pause = 0.01  # type: ignore[attr-defined]
    simulator = create_simulator(SimulatorConfig(now=svc.clock.now))
    async with serve(simulator) as sim_url, serve(create_app(svc)) as api_url:
        now = svc.clock.now()
        async with transaction(svc.sessions) as s:
            account = ProviderAccount(
                provider="gmo_pg",
                name="GMO PG",
                connector="gmo_pg",
                settings={
                    "shop_id": TEST_SHOP_ID,
                    "shop_pass": TEST_SHOP_PASS,
                    **({"site_id": TEST_SITE_ID, "site_pass": TEST_SITE_PASS} if site else {}),
                    "endpoint": sim_url,
                    "e92_backoff_seconds": 0.01,
                },
                created_at=now,
                updated_at=now,
            )
            s.add(account)
            await s.flush()
            for code, name, method_type in methods:
                s.add(
                    PaymentMethod(
                        code=code,
                        name=name,
                        provider="gmo_pg",
                        method_type=method_type,
                        account_id=account.id,
                        cancel_api_link=True,
                        created_at=now,
                        updated_at=now,
                    )
                )
            key = await create_key(s, key_name, now)
            account_id = account.id
        headers = {"Authorization": f"Bearer {key}"}
        async with (
            httpx.AsyncClient(base_url=api_url, headers=headers, timeout=90) as api,
            httpx.AsyncClient(base_url=sim_url, timeout=90) as sim,
        ):
            if notify:  # GMO's 結果通知 to kessai, re-sent twice 10 ms apart when not taken
                r = await sim.post(
                    "/_control",
                    json={
                        "notify_url": f"{api_url}/webhooks/gmo-pg/{account_id}",
                        "resend_pauses": [0.01, 0.01],
                    },
                )
                assert r.status_code == 200, r.text
            yield GmoServed(api, sim, simulator, account_id)
