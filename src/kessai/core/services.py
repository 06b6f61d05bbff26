"""Everything a process builds once at start: settings, database, clock, connectors, engine."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kessai.core.clock import Clock
from kessai.core.db import create_engine, session_factory, transaction
from kessai.core.models import AppSetting
from kessai.core.settings import Settings
from kessai.payments.engine import PaymentEngine
from kessai.providers.registry import ConnectorRegistry, default_registry

SANDBOX_CLOCK_KEY = "sandbox_clock"


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    registry: ConnectorRegistry
    payments: PaymentEngine

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
        await self.engine.dispose()


def build_services(
    settings: Settings | None = None, registry: ConnectorRegistry | None = None
) -> Services:
    settings = settings or Settings.from_env()
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    clock = Clock(movable=settings.sandbox)
    registry = registry or default_registry(sandbox=settings.sandbox)
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        registry=registry,
        payments=PaymentEngine(sessions, registry, clock, settings),
    )
