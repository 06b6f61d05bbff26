"""A KOMOJU account on the simulator, kessai's API and the simulator both served over real
HTTP on loopback (the end-to-end and webhook tests)."""

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
from kessai.providers.komoju.provider import SANDBOX_WEBHOOK_SECRET, sandbox_settings
from kessai.providers.komoju.sim import TEST_PUBLISHABLE_KEY, SimulatorConfig, create_simulator
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

    async def session(self, amount: int, outcome: str = "pay", kind: str = "wechatpay") -> str:
        """The storefront opens a session; the customer pays (or not) on KOMOJU's page."""
        r = await self.sim.post(
            "/api/v1/sessions",
            json={"amount": amount, "currency": "JPY", "payment_types": [kind]},
            auth=(str(sandbox_settings("")["secret_key"]), ""),
        )
        assert r.status_code == 200, r.text
        session = str(r.json()["id"])
        if outcome:
            paid = await self.sim.post(
                f"/sessions/{session}", data={"payment_type": kind, "outcome": outcome}
            )
            assert paid.status_code == 200, paid.text
        return session

    async def token(self, card: str) -> str:
        r = await self.sim.post(
            "/api/v1/tokens",
            json={"payment_details": {"type": "credit_card", "number": card}},
            auth=(TEST_PUBLISHABLE_KEY, ""),
        )
        assert r.status_code == 200, r.text
        return str(r.json()["id"])

    async def order(self, method: str, amount: int, source: dict[str, str]) -> dict[str, Any]:
        r = await self.api.post(
            "/api/v1/orders",
            json={
                "payment_method": method,
                "amount": amount,
                "tax": amount // 11,
                "customer": {"name": "王 小明"},
                "payment_source": source,
            },
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def act(self, order_id: int, action: str, **body: Any) -> httpx.Response:
        return await self.api.post(f"/api/v1/orders/{order_id}/payment/{action}", json=body)

    async def status(self, order_id: int) -> str:
        return str((await self.api.get(f"/api/v1/orders/{order_id}")).json()["payment_status"])

    async def calls(self, api: str | None = None) -> list[dict[str, Any]]:
        params = {"api": api} if api else {}
        return list((await self.sim.get("/_calls", params=params)).json()["calls"])

    async def control(self, **switches: Any) -> None:
        r = await self.sim.post("/_control", json=switches)
        assert r.status_code == 200, r.text

    def payments(self) -> list[dict[str, Any]]:
        return list(self.simulator.state.kind("payment").values())

    async def events(self) -> list[InboundEvent]:
        async with transaction(self.services.sessions) as s:
            return list((await s.scalars(select(InboundEvent).order_by(InboundEvent.id))).all())


@pytest.fixture
async def shop(live_services: Services) -> AsyncIterator[Shop]:
    svc = live_services
    sim_app = create_simulator(SimulatorConfig(now=svc.clock.now, webhook_delay_seconds=0.01))
    async with serve(sim_app) as sim_url, serve(create_app(svc)) as api_url:
        values = dict(sandbox_settings(sim_url))
        secret = set(secret_keys(integration("komoju")))
        now = svc.clock.now()
        async with transaction(svc.sessions) as s:
            account = ProviderAccount(
                provider="komoju",
                integration="komoju",
                name="KOMOJU",
                connector="komoju",
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
            for code, method_type in (("wechat", "wechat_pay"), ("alipay", "alipay")):
                s.add(
                    PaymentMethod(
                        code=code,
                        name=method_type,
                        provider="komoju",
                        method_type=method_type,
                        account_id=account.id,
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
            await sim.post(
                "/_control",
                json={
                    "webhook_url": f"{api_url}/webhooks/komoju/{account_id}",
                    "webhook_secret": SANDBOX_WEBHOOK_SECRET,
                },
            )
            yield Shop(api, sim, sim_app, svc, account_id, api_url)
            await sim_app.state.simulator.idle()
