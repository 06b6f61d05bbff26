"""SBPS end to end (tests.providers.served): the tests drive kessai's API only, on SQLite and
PostgreSQL."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kessai.providers.sbps.provider import PROVIDER
from kessai.providers.sbps.sandbox import SUCCESS_CARD
from kessai.services import Services
from tests.providers.served import Served, served_on

SHIPMENT = {"shipped_on": "2026-03-02", "tracking_number": "4412-3456-7890"}


class Sbps(Served):
    def held(self, reference: str) -> dict[str, Any]:
        """What SBPS holds for our order_id."""
        state = self.harness.sim_app.state.simulator
        (found,) = [t for t in state.transactions.values() if t["order_id"] == reference]
        return dict(found)

    async def notice(self, reference: str) -> dict[str, Any]:
        """The 結果CGI SBPS posted for our order_id, with its attempts (GET /_records)."""
        kept = (await self.sim.get("/_records", params={"kind": "notice"})).json()
        (found,) = [n for n in kept.get("notice", {}).values() if n["ref"] == reference]
        return dict(found)

    async def token(self, card: str = SUCCESS_CARD) -> dict[str, str]:
        issued = (await self.sim.post("/token", json={"cc_number": card})).json()["tokenResponse"]
        return {"token": issued["token"], "token_key": issued["tokenKey"]}

    async def order(self, amount: int = 1000, card: str = SUCCESS_CARD) -> int:
        created = await self.api.post(
            "/api/v1/orders",
            json={
                "payment_method": self.harness.method.code,
                "amount": amount,
                "customer": {"name": "決済 太郎"},
                "payment_source": await self.token(card),
            },
        )
        assert created.status_code == 201, created.text
        return int(created.json()["id"])


@pytest.fixture
async def sbps(live_services: Services) -> AsyncIterator[Sbps]:
    """On each backend (SQLite, PostgreSQL): the simulator keeps its records in that database."""
    async with served_on(PROVIDER, live_services) as shop:
        yield Sbps(shop.harness, shop.api, shop.sim, shop.api_url)
