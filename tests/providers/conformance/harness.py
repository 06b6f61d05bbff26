"""One provider under test: kessai's services on the test's database (SQLite or PostgreSQL,
`harness_on`), the provider's own simulator served over real loopback HTTP with its records
in that database, an account and a card method on it.

Everything provider-specific comes from the provider's declaration (its provider.py): the
account settings, the test inputs, the simulator and its fault switches, how charges are
counted. Nothing here names a provider.
"""

import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.accounts.secrets import write_values
from kessai.core.db import transaction
from kessai.orders.models import Order
from kessai.payments.engine import ActionResult
from kessai.payments.models import PaymentAttempt
from kessai.providers.kit import Provider, Sandbox, SandboxInput, SimulatorContext
from kessai.providers.simulator.base import Simulator
from kessai.services import Services
from tests.factories import SHIP, act, attempts, make_order
from tests.loopback import serve

# Wraps the connector the declaration built (to narrow or break it in the suite's own tests).
Wrap = Callable[[object], object]


@dataclass
class Harness:
    provider: Provider
    services: Services
    sim_url: str
    sim_app: Any
    account: ProviderAccount
    method: PaymentMethod
    wrap: Wrap | None = None
    # The options of the next engine call (the fake takes its faults as scenarios).
    next_options: dict[str, str] = field(default_factory=dict)
    # What the simulator was built from (kessai's database, maybe kessai's clock).
    sim_context: SimulatorContext = field(default_factory=SimulatorContext)

    @property
    def sandbox(self) -> Sandbox:
        assert self.provider.sandbox is not None
        return self.provider.sandbox

    # --- the connector -------------------------------------------------------------------
    def real_connector(self) -> object:
        """The connector exactly as the declaration builds it (under any wrapper)."""
        built = self.services.registry.connector_for(self.account)
        return getattr(built, "inner", built)

    async def use(self, wrap: Wrap | None) -> None:
        """Serve the account through `wrap(real connector)` from the next call on."""
        self.wrap = wrap
        await self.services.registry.forget(self.account.id)
        declared = self.provider

        def build(account_id: int, settings: Mapping[str, Any]) -> object:
            from kessai.providers.kit import ConnectorContext
            from kessai.providers.store import ReferenceStore

            store = ReferenceStore(self.services.sessions, self.services.clock, account_id)
            real = declared.connect(ConnectorContext(account_id, settings, store))
            return real if wrap is None else wrap(real)

        self.services.registry.register(declared.name, build)

    def charges(self) -> int:
        return self.sandbox.charges(self.sim_app, self.real_connector())

    # --- faults --------------------------------------------------------------------------
    async def lose_next_answer(self, operation: str) -> None:
        """The provider acts on the next `operation`, and its answer never arrives."""
        calls = self.sandbox.fault_calls
        if calls is None:
            self.next_options = {"scenario": "unknown"}
            return
        fault = {"count": 1, "api": calls[operation], "mode": "close", "commit": True}
        async with httpx.AsyncClient(base_url=self.sim_url) as client:
            reply = await client.post("/_control", json={"lose_response": fault})
        assert reply.status_code == 200, reply.text

    async def control(self, **switches: Any) -> dict[str, Any]:
        """The simulator's /_control (the simulator base's): set `switches`, get what it shows."""
        async with httpx.AsyncClient(base_url=self.sim_url) as client:
            reply = await client.post("/_control", json=switches)
        assert reply.status_code == 200, reply.text
        shown: dict[str, Any] = reply.json()
        return shown

    async def calls(self, api: str) -> list[dict[str, Any]]:
        """The simulator's call log for one call name (the simulator base's /_calls)."""
        async with httpx.AsyncClient(base_url=self.sim_url) as client:
            reply = await client.get("/_calls", params={"api": api})
        assert reply.status_code == 200, reply.text
        calls: list[dict[str, Any]] = reply.json()["calls"]
        return calls

    async def server_error_on_next(self, operation: str, *, commit: bool) -> bool:
        """A 5xx from the provider's front on the next `operation` (processed behind it when
        `commit`); False for a connector that talks to no server."""
        calls = self.sandbox.fault_calls
        if calls is None:
            return False
        fault = {"status": 503, "count": 1, "api": calls[operation], "commit": commit}
        async with httpx.AsyncClient(base_url=self.sim_url) as client:
            reply = await client.post("/_control", json={"server_error": fault})
        assert reply.status_code == 200, reply.text
        return True

    @contextlib.asynccontextmanager
    async def connection_refused(self) -> AsyncIterator[None]:
        """Within the block nothing listens where the account points (or the fake's
        not_sent scenario): every call is refused before it is sent."""
        if self.sandbox.fault_calls is None:
            self.next_options = {"scenario": "not_sent"}
            yield
            self.next_options = {}
            return
        await self._point_at(_closed_port_url())
        try:
            yield
        finally:
            await self._point_at(self.sim_url)

    @contextlib.asynccontextmanager
    async def restarted(self) -> AsyncIterator[None]:
        """Within the block the account's simulator is a new process on the same database:
        it holds only what the simulator base's store kept."""
        assert self.provider.simulator is not None
        old_url, old_app = self.sim_url, self.sim_app
        app = self.provider.simulator(self.sim_context)
        async with serve(app) as url:
            self.sim_url, self.sim_app = url, app
            await self._point_at(url)
            try:
                yield
            finally:
                self.sim_url, self.sim_app = old_url, old_app
                await self._point_at(old_url)
                await _stop_notices(app)  # that process ends here, its re-sends with it

    async def _point_at(self, base_url: str) -> None:
        settings = dict(self.account.settings)
        settings.update(
            {k: v for k, v in self.sandbox.account_settings(base_url).items() if k in settings}
        )
        async with transaction(self.services.sessions) as s:
            row = await s.get(ProviderAccount, self.account.id)
            assert row is not None
            row.settings = settings
        self.account.settings = settings
        await self.use(self.wrap)

    # --- other methods on the account (a provider's per-method conformance files) -----------
    async def with_method(self, code: str, method_type: str, **settings: str) -> "Harness":
        """This harness on a new method of the account's; `settings` added to the account's
        (what the method needs beyond the card's)."""
        now = self.services.clock.now()
        async with transaction(self.services.sessions) as s:
            row = await s.get(ProviderAccount, self.account.id)
            assert row is not None
            row.settings = {**row.settings, **settings}
            self.account.settings = row.settings
            method = PaymentMethod(
                code=code,
                name=code,
                provider=self.method.provider,
                method_type=method_type,
                account_id=self.account.id,
                enabled=True,
                cancel_api_link=True,
                created_at=now,
                updated_at=now,
            )
            s.add(method)
            await s.flush()
            s.expunge_all()
        await self.use(self.wrap)
        return replace(self, method=method)

    async def order_paid_with(self, source: Mapping[str, str], amount: int = 1000) -> int:
        """An order of this method with the payment source as the shop sends it."""
        order_id = await make_order(self.services, self.method, amount=amount, tax=0)
        async with transaction(self.services.sessions) as s:
            row = await s.get(Order, order_id)
            assert row is not None
            row.payment_source = dict(source)
        return order_id

    async def sim(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A request to the simulator (its pages, /_control, /_calls) over loopback."""
        async with httpx.AsyncClient(base_url=self.sim_url, timeout=10) as client:
            return await client.request(method, path, **kw)

    async def redirect_url(self, order_id: int) -> str:
        async with transaction(self.services.sessions) as s:
            row = await s.get(Order, order_id)
            assert row is not None
            assert row.redirect_url is not None
            return row.redirect_url

    # --- payments ------------------------------------------------------------------------
    async def order(self, given: SandboxInput) -> int:
        source = dict(given.source)
        if self.sandbox.prepare is not None:
            source = dict(await self.sandbox.prepare(self.sim_url, source))
        order_id = await make_order(self.services, self.method, amount=given.amount, tax=0)
        async with transaction(self.services.sessions) as s:
            row = await s.get(Order, order_id)
            assert row is not None
            row.payment_source = source
        return order_id

    async def run(self, order_id: int, action: str, **kw: Any) -> ActionResult:
        if action == "capture":  # a carrier too: 後払い's 出荷報告 names it
            kw = {**SHIP, "carrier": "ヤマト運輸", **kw}
        req = act(action, **kw)
        if self.next_options:
            req.options.update(self.next_options)
            self.next_options = {}
        return await self.services.payments.run(order_id, req)

    async def status(self, order_id: int) -> str:
        async with transaction(self.services.sessions) as s:
            row = await s.get(Order, order_id)
            assert row is not None
            return row.payment_status

    async def reference(self, order_id: int) -> str:
        async with transaction(self.services.sessions) as s:
            row = await s.get(Order, order_id)
            assert row is not None
            return row.provider_reference or row.number

    async def history(self, order_id: int) -> list[PaymentAttempt]:
        return await attempts(self.services, order_id)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # closed again: connecting is refused


@contextlib.asynccontextmanager
async def harness_on(
    provider: Provider, services: Services, *, clock: bool = False
) -> AsyncIterator[Harness]:
    """The provider on `services` (their database, SQLite or PostgreSQL): its simulator on
    loopback with its records in that database (and on kessai's clock when `clock`)."""
    sandbox = provider.sandbox
    assert sandbox is not None, f"{provider.name} declares no sandbox"
    context = SimulatorContext(
        now=services.clock.now if clock else None, sessions=services.sessions
    )
    sim_app = provider.simulator(context) if provider.simulator else None
    async with contextlib.AsyncExitStack() as stack:
        sim_url = await stack.enter_async_context(serve(sim_app)) if sim_app else ""
        account, method = await _account_and_method(services, provider, sandbox, sim_url)
        h = Harness(provider, services, sim_url, sim_app, account, method, sim_context=context)
        try:
            yield h
        finally:  # a notice still to be posted again goes no further than the test
            await _stop_notices(h.sim_app)


async def _stop_notices(sim_app: Any) -> None:
    """Stop the re-sends a simulator still has to come (the simulator base's notices)."""
    simulator = getattr(getattr(sim_app, "state", None), "simulator", None)
    if isinstance(simulator, Simulator):
        await simulator.notices.close()


async def _account_and_method(
    services: Services, provider: Provider, sandbox: Sandbox, sim_url: str
) -> tuple[ProviderAccount, PaymentMethod]:
    values = dict(sandbox.account_settings(sim_url))
    code, method_type = sandbox.method
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        account = ProviderAccount(
            provider=code,
            integration=provider.integration,
            name=f"{provider.title} (適合性テスト)",
            connector=provider.name,
            settings={},
            secrets={},
            created_at=now,
            updated_at=now,
        )
        s.add(account)
        await s.flush()
        write_values(services.keyring, account, values)
        method = PaymentMethod(
            code=f"conformance-{provider.name}",
            name=f"{provider.title} テスト",
            provider=code,
            method_type=method_type,
            account_id=account.id,
            enabled=True,
            cancel_api_link=True,
            created_at=now,
            updated_at=now,
        )
        s.add(method)
        await s.flush()
        s.expunge_all()
    return account, method
