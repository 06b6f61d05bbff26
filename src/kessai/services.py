"""The composition root: everything a process builds once at start (settings, database,
clock, connectors, payment engine, job dispatcher) and the catalog of every job kind.

It sits above the domains so that they need not know each other to be wired together:
`core/` imports nothing of kessai outside itself, and a domain names `Services` only for
typing (under TYPE_CHECKING) unless it is an endpoint that FastAPI must resolve.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import kessai.catalog  # noqa: F401  (every job kind and schedule, known to every process)
from kessai.accounts.secrets import connector_settings
from kessai.core.clock import Clock
from kessai.core.crypto import Keyring
from kessai.core.db import create_engine, session_factory, transaction
from kessai.core.keyring import load_keyring
from kessai.core.models import AppSetting
from kessai.core.settings import Settings
from kessai.jobs.dispatch import Dispatcher, DramatiqDispatcher, InProcessDispatcher
from kessai.payments.engine import PaymentEngine
from kessai.providers.registry import ConnectorEnv, ConnectorRegistry, default_registry

SANDBOX_CLOCK_KEY = "sandbox_clock"


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    registry: ConnectorRegistry
    payments: PaymentEngine
    # Where jobs run: this process (embedded default) or Dramatiq workers.
    dispatcher: Dispatcher = field(init=False, repr=False)
    # The master keys sealing account secrets; read by `keyring` on first use.
    _keyring: Keyring | None = field(default=None, repr=False)

    @property
    def keyring(self) -> Keyring:
        """KESSAI_SECRET_KEY (+ KESSAI_SECRET_KEY_PREVIOUS), or the sandbox key file.

        Loaded when a secret is first needed, so a process that never touches one (a
        production API without accounts yet, `kessai db upgrade`) starts without a key;
        a missing or bad key is then a ConfigurationError saying what to set.
        """
        if self._keyring is None:
            self._keyring = load_keyring(self.settings)
        return self._keyring

    async def load_clock(self) -> None:
        """Take up the sandbox clock where the last process left it."""
        if not self.settings.sandbox:
            return
        async with transaction(self.sessions) as s:
            row = await s.get(AppSetting, SANDBOX_CLOCK_KEY)
            if row is not None:
                self.clock.set_offset(timedelta(seconds=float(row.value["offset_seconds"])))

    async def save_clock(self) -> None:
        async with transaction(self.sessions) as s:
            row = await s.get(AppSetting, SANDBOX_CLOCK_KEY)
            value = {"offset_seconds": self.clock.offset.total_seconds()}
            if row is None:
                s.add(AppSetting(key=SANDBOX_CLOCK_KEY, value=value))
            else:
                row.value = value

    async def close(self) -> None:
        await self.dispatcher.aclose()
        await self.registry.aclose()
        await self.engine.dispose()


def build_services(
    settings: Settings | None = None,
    registry: ConnectorRegistry | None = None,
    *,
    keyring: Keyring | None = None,
) -> Services:
    settings = settings or Settings.from_env()
    pool = {} if settings.db_pool_size is None else {"pool_size": settings.db_pool_size}
    engine = create_engine(settings.database_url, **pool)
    sessions = session_factory(engine)
    clock = Clock(movable=settings.sandbox)
    registry = registry or default_registry(
        sandbox=settings.sandbox, env=ConnectorEnv(sessions, clock)
    )
    services = Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        registry=registry,
        payments=PaymentEngine(sessions, registry, clock, settings),
        _keyring=keyring,
    )
    registry.settings_of = lambda account: connector_settings(account, services.keyring)
    services.dispatcher = (
        DramatiqDispatcher(settings) if settings.broker_url else InProcessDispatcher(services)
    )
    return services
