"""An Amazon Pay account on the simulator, kessai's API and the simulator both served over
real HTTP on loopback (tests.providers.served; the end-to-end and IPN tests)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kessai.providers.amazon_pay.provider import PROVIDER, checkout
from kessai.services import Services
from tests.providers.served import Served, served_on


class Shop(Served):
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

    def charges(self) -> list[dict[str, Any]]:
        return list(self.simulator.state.kind("charge").values())


@pytest.fixture
async def shop(live_services: Services) -> AsyncIterator[Shop]:
    method = {"code": "amazon-pay", "name": "Amazon Pay", "method_type": "amazon_pay_v2"}
    async with served_on(
        PROVIDER, live_services, [{**method, "cancel_api_link": True}], resend_pauses=[0.01] * 3
    ) as served:
        yield Shop(served.harness, served.api, served.sim, served.api_url)
        await served.simulator.notices.drain()
