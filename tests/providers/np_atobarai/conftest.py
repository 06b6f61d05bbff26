"""NP後払い end to end (tests.providers.served): the tests drive kessai's API only, on SQLite and
PostgreSQL."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kessai.providers.np_atobarai.provider import PROVIDER
from kessai.providers.np_atobarai.sandbox import TEST_BUYER
from kessai.services import Services
from tests.providers.served import Served, served_on

SHIPMENT = {
    "shipped_on": "2026-03-02",
    "tracking_number": "4412-3456-7890",
    "carrier": "ヤマト運輸",
}


class Np(Served):
    @property
    def records(self) -> dict[str, dict[str, Any]]:
        """What NP holds, by shop_transaction_id (our reference)."""
        state = self.harness.sim_app.state.simulator
        return {t["shop_transaction_id"]: t for t in state.transactions.values()}

    async def order(self, amount: int = 1000, **source: str) -> int:
        created = await self.api.post(
            "/api/v1/orders",
            json={
                "payment_method": self.harness.method.code,
                "amount": amount,
                "customer": {"name": "後払 花子"},
                "payment_source": {**TEST_BUYER, **source},
            },
        )
        assert created.status_code == 201, created.text
        return int(created.json()["id"])


@pytest.fixture
async def np(live_services: Services) -> AsyncIterator[Np]:
    """On each backend (SQLite, PostgreSQL): the simulator keeps its records in that database."""
    async with served_on(PROVIDER, live_services) as shop:
        yield Np(shop.harness, shop.api, shop.sim, shop.api_url)
