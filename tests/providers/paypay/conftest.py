"""A PayPay simulator on loopback sharing a movable business clock with a connector on it,
whose reference store lives in memory (the tests here are about the wire)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from kessai.core.clock import Clock
from kessai.providers.paypay.connector import PayPayConnector
from kessai.providers.paypay.provider import sandbox_settings
from kessai.providers.paypay.sim import create_simulator
from kessai.providers.paypay.sim.app import Simulator
from kessai.providers.paypay.sim.state import SimulatorConfig
from kessai.providers.store import ReferenceStore
from tests.loopback import serve

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo


class MemoryStore(ReferenceStore):
    def __init__(self, clock: Clock) -> None:
        super().__init__(None, clock, 1)  # type: ignore[arg-type]
        self.data: dict[str, dict[str, Any]] = {}

    async def get(self, reference: str) -> dict[str, Any] | None:
        found = self.data.get(reference)
        return None if found is None else dict(found)

    async def put(self, reference: str, **fields: Any) -> None:
        self.data[reference] = {**self.data.get(reference, {}), **fields}


async def _no_wait(_seconds: float) -> None:
    return None


@dataclass
class PayPay:
    url: str
    sim: Simulator
    clock: Clock
    conn: PayPayConnector

    async def control(self, **body: Any) -> None:
        async with httpx.AsyncClient(base_url=self.url) as client:
            reply = await client.post("/_control", json=body)
        assert reply.status_code == 200, reply.text

    def calls(self, api: str | None = None) -> list[tuple[str, str]]:
        return [(c.api, c.result) for c in self.sim.calls if api is None or c.api == api]

    async def customer(self, url: str, action: str = "pay") -> httpx.Response:
        """The customer opens the QR code's URL and pays (or their wallet refuses)."""
        async with httpx.AsyncClient() as client:
            page = await client.get(url)
            assert page.status_code == 200, page.text
            assert "お支払い金額" in page.text
            return await client.post(url, data={"action": action})


@pytest.fixture
async def paypay() -> AsyncIterator[PayPay]:
    clock = Clock(movable=True)
    clock.set_now(NOW)
    app = create_simulator(SimulatorConfig(now=clock.now, sleep=_no_wait))
    async with serve(app) as url:
        settings = {**sandbox_settings(url), "backoff_seconds": 0}
        conn = PayPayConnector(1, settings, MemoryStore(clock))
        try:
            yield PayPay(url, app.state.simulator, clock, conn)
        finally:
            await conn.aclose()
