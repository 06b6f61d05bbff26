from collections.abc import AsyncIterator
from dataclasses import replace
from ipaddress import ip_address

import httpx
import pytest

from kessai.core.settings import Env
from kessai.services import Services, build_services
from kessai.webhooks import destination
from tests.web.conftest import client_for, new_key
from tests.webhooks.receiver import Receiver, receiver


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services, await new_key(services)) as client:
        yield client


@pytest.fixture
async def hooks() -> AsyncIterator[Receiver]:
    async with receiver() as running:
        yield running


class FakeDNS:
    """Stands in for the system's resolver: host → the addresses in `table` (none: the
    host does not resolve); every question is kept in `asked`."""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {}
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[destination.IPAddress]:
        self.asked.append(host)
        return [ip_address(a) for a in self.table.get(host, [])]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS()
    monkeypatch.setattr(destination, "system_resolve", fake)
    return fake


@pytest.fixture
async def strict(services: Services) -> AsyncIterator[Services]:
    """The same (emptied) database served with KESSAI_WEBHOOK_ALLOW_PRIVATE off; sandbox
    otherwise, so plain http stays allowed and a refusal is the address's alone."""
    svc = build_services(replace(services.settings, webhook_allow_private=False))
    yield svc
    await svc.close()


@pytest.fixture
async def strict_api(strict: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(strict, await new_key(strict, "strict")) as client:
        yield client


@pytest.fixture
async def production(services: Services) -> AsyncIterator[Services]:
    """The same database as KESSAI_ENV=production with no webhook setting given."""
    svc = build_services(replace(services.settings, env=Env.PRODUCTION))
    yield svc
    await svc.close()
