"""A KOMOJU account on the simulator, kessai's API and the simulator both served over real
HTTP on loopback (tests.providers.served; the end-to-end and webhook tests)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kessai.providers.komoju.provider import PROVIDER, SANDBOX_WEBHOOK_SECRET, sandbox_settings
from kessai.providers.komoju.sim import TEST_PUBLISHABLE_KEY
from kessai.services import Services
from tests.providers.served import Served, served_on


class Shop(Served):
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

    def payments(self) -> list[dict[str, Any]]:
        return list(self.simulator.state.kind("payment").values())


@pytest.fixture
async def shop(live_services: Services) -> AsyncIterator[Shop]:
    # cancel_api_link off, as a shop leaves it: WeChat Pay / Alipay link the cancel anyway.
    methods = [
        {"code": "wechat", "method_type": "wechat_pay"},
        {"code": "alipay", "method_type": "alipay"},
    ]
    async with served_on(PROVIDER, live_services, methods, resend_pauses=[0.01] * 3) as served:
        shop = Shop(served.harness, served.api, served.sim, served.api_url)
        await shop.control(
            webhook_url=f"{shop.api_url}/webhooks/komoju/{shop.account_id}",
            webhook_secret=SANDBOX_WEBHOOK_SECRET,
        )
        yield shop
        await shop.simulator.notices.drain()
