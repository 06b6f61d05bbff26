"""A provider's room end to end: kessai served over loopback with an account on the
provider's simulator (also over loopback), an API client carrying an admin key, and a
client of the simulator itself (its /_control and /_calls, the simulator base's).

`served_on` runs on the test's own services (SQLite or PostgreSQL, kessai's clock shared with
the simulator) and yields a `Served` with the helpers every room's tests use.
"""

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from kessai.accounts.models import PaymentMethod
from kessai.core.db import transaction
from kessai.inbox.models import InboundEvent
from kessai.providers.kit import Provider
from kessai.services import Services
from kessai.web.app import create_app
from tests.loopback import serve
from tests.providers.conformance.harness import Harness, harness_on
from tests.web.conftest import new_key

TIMEOUT = 120.0


@dataclass
class Served:
    """kessai's API and the provider's simulator, an account on it (the harness's)."""

    harness: Harness
    api: httpx.AsyncClient
    sim: httpx.AsyncClient
    api_url: str

    @property
    def services(self) -> Services:
        return self.harness.services

    @property
    def account_id(self) -> int:
        return self.harness.account.id

    @property
    def sim_app(self) -> Any:
        return self.harness.sim_app

    @property
    def simulator(self) -> Any:
        """The simulator object itself (app.state.simulator)."""
        return self.harness.sim_app.state.simulator

    async def act(self, order_id: int, action: str, **body: Any) -> httpx.Response:
        return await self.api.post(f"/api/v1/orders/{order_id}/payment/{action}", json=body)

    async def status(self, order_id: int) -> str:
        return str((await self.api.get(f"/api/v1/orders/{order_id}")).json()["payment_status"])

    async def history(self, order_id: int) -> list[dict[str, Any]]:
        """決済履歴 as the API shows it."""
        found = await self.api.get(f"/api/v1/orders/{order_id}/payment-history")
        rows: list[dict[str, Any]] = found.json()
        return rows

    async def calls(self, api: str | None = None) -> list[dict[str, Any]]:
        params = {"api": api} if api else {}
        return list((await self.sim.get("/_calls", params=params)).json()["calls"])

    async def control(self, **switches: Any) -> None:
        r = await self.sim.post("/_control", json=switches)
        assert r.status_code == 200, r.text

    async def events(self) -> list[InboundEvent]:
        async with transaction(self.services.sessions) as s:
            return list((await s.scalars(select(InboundEvent).order_by(InboundEvent.id))).all())


@contextlib.asynccontextmanager
async def served_on(
    provider: Provider,
    services: Services,
    methods: Sequence[Mapping[str, Any]] = (),
    **switches: Any,
) -> AsyncIterator[Served]:
    """The provider on the test's services; `methods` adds payment methods on its account
    (PaymentMethod fields: code, name, method_type …), `switches` go to the simulator's
    /_control first."""
    async with harness_on(provider, services, clock=True) as h:
        await _add_methods(h, methods)
        async with _clients(h) as (url, api, sim):
            shop = Served(h, api, sim, url)
            if switches:
                await shop.control(**switches)
            yield shop


async def _add_methods(h: Harness, methods: Sequence[Mapping[str, Any]]) -> None:
    now = h.services.clock.now()
    async with transaction(h.services.sessions) as s:
        for given in methods:
            fields = {"provider": h.account.provider, "name": given["code"], **given}
            s.add(PaymentMethod(account_id=h.account.id, created_at=now, updated_at=now, **fields))


@contextlib.asynccontextmanager
async def _clients(
    h: Harness,
) -> AsyncIterator[tuple[str, httpx.AsyncClient, httpx.AsyncClient]]:
    key = await new_key(h.services)
    async with (
        serve(create_app(h.services)) as base,
        # Generous timeouts: a loaded machine is slow, and a slow answer is not a failure.
        httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT
        ) as api,
        httpx.AsyncClient(base_url=h.sim_url, timeout=TIMEOUT) as sim,
    ):
        yield base, api, sim
