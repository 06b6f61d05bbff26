"""An Amazon Pay account on the simulator, kessai's API and the simulator both served over
real HTTP on loopback (the end-to-end and IPN tests)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kessai.accounts.integrations import integration, secret_keys
from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.accounts.secrets import seal
from kessai.apikeys.service import create_key
from kessai.core.db import transaction
from kessai.inbox.models import InboundEvent
from kessai.providers.amazon_pay.provider import checkout, sandbox_settings
from kessai.providers.amazon_pay.sim import SimulatorConfig, create_simulator
from kessai.services import Services
from kessai.web.app import create_app
from tests.loopback import serve


@dataclass
class Shop:
    api: httpx.AsyncClient
    sim: httpx.AsyncClient
    sim_app: Any
    services: Services
    account_id: int
    api_url: str

    @property
    def simulator(self) -> Any:
        return self.sim_app.state.simulator

    async def order(self, amount: int = 5_500, method: str = "1111") -> dict[str, Any]:
        source = await checkout(str(self.sim.base_url).rstrip("/"), {"test_payment_method": method})
        r = await self.api.post(
            "/api/v1/orders",
            json={
                "payment_method": "amazon-pay",
                "amount": amount,
                "tax": amount // 11,
                "customer": {"name": "山田 花子"},
                "payment_source": dict(source),
            },
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def act(self, order_id: int, action: str, **body: Any) -> httpx.Response:
        return await self.api.post(f"/api/v1/orders/{order_id}/payment/{action}", json=body)

    async def calls(self, api: str | None = None) -> list[dict[str, Any]]:
        params = {"api": api} if api else {}
        return list((await self.sim.get("/_calls", params=params)).json()["calls"])

    async def control(self, **switches: Any) -> None:
        r = await self.sim.post("/_control", json=switches)
        assert r.status_code == 200, r.text

    def charges(self) -> list[dict[str, Any]]:
        return list(self.simulator.state.kind("charge").values())

    async def events(self) -> list[InboundEvent]:
        async with transaction(self.services.sessions) as s:
            return list((await s.scalars(select(InboundEvent).order_by(InboundEvent.id))).all())


@pytest.fixture
async def shop(live_services: Services) -> AsyncIterator[Shop]:
    svc = live_services
    sim_app = create_simulator(SimulatorConfig(now=svc.clock.now, ipn_delay_seconds=0.01))
    async with serve(sim_app) as sim_url, serve(create_app(svc)) as api_url:
        values = dict(sandbox_settings(sim_url))
        secret = set(secret_keys(integration("amazon_pay_v2")))
        now = svc.clock.now()
        async with transaction(svc.sessions) as s:
            account = ProviderAccount(
                provider="amazon",
                integration="amazon_pay_v2",
                name="Amazon Pay",
                connector="amazon_pay",
                settings={k: v for k, v in values.items() if k not in secret},
                secrets={},
                created_at=now,
                updated_at=now,
            )
            s.add(account)
            await s.flush()
            account.secrets = {
                k: seal(svc.keyring, account.id, k, str(v))
                for k, v in values.items()
                if k in secret
            }
            s.add(
                PaymentMethod(
                    code="amazon-pay",
                    name="Amazon Pay",
                    provider="amazon",
                    method_type="amazon_pay_v2",
                    account_id=account.id,
                    cancel_api_link=True,
                    created_at=now,
                    updated_at=now,
                )
            )
            key = await create_key(s, "storefront", now)
            account_id = account.id
        headers = {"Authorization": f"Bearer {key}"}
        async with (
            httpx.AsyncClient(base_url=api_url, headers=headers, timeout=20) as api,
            httpx.AsyncClient(base_url=sim_url, timeout=20) as sim,
        ):
            yield Shop(api, sim, sim_app, svc, account_id, api_url)
            await sim_app.state.simulator.ipn_idle()
