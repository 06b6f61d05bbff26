"""NP後払い end to end (tests.providers.served): the tests drive kessai's API only."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kessai.providers.np_atobarai.provider import PROVIDER
from kessai.providers.np_atobarai.sandbox import TEST_BUYER
from tests.providers.conformance.harness import Harness
from tests.providers.served import served

SHIPMENT = {
    "shipped_on": "2026-03-02",
    "tracking_number": "4412-3456-7890",
    "carrier": "ヤマト運輸",
}


@dataclass
class Np:
    harness: Harness
    api: httpx.AsyncClient
    sim: httpx.AsyncClient

    @property
    def records(self) -> dict[str, dict[str, Any]]:
        """What NP holds, by shop_transaction_id (our reference)."""
        state = self.harness.sim_app.state.simulator
        return {t["shop_transaction_id"]: t for t in state.transactions.values()}

    async def calls(self, api: str | None = None) -> list[dict[str, Any]]:
        reply = await self.sim.get("/_calls", params={"api": api} if api else {})
        calls: list[dict[str, Any]] = reply.json()["calls"]
        return calls

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

    async def act(self, order_id: int, action: str, **body: Any) -> httpx.Response:
        return await self.api.post(f"/api/v1/orders/{order_id}/payment/{action}", json=body)

    async def status(self, order_id: int) -> str:
        found = await self.api.get(f"/api/v1/orders/{order_id}")
        return str(found.json()["payment_status"])

    async def history(self, order_id: int) -> list[dict[str, Any]]:
        found = await self.api.get(f"/api/v1/orders/{order_id}/payment-history")
        rows: list[dict[str, Any]] = found.json()
        return rows

    async def fault(self, **switches: Any) -> None:
        reply = await self.sim.post("/_control", json=switches)
        assert reply.status_code == 200, reply.text


@pytest.fixture
async def np(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Np]:
    async with served(PROVIDER, sqlite_template, tmp_path) as (h, api, sim):
        yield Np(h, api, sim)
