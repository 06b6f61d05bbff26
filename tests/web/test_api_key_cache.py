"""API keys are checked against the database once per CACHE_SECONDS per process."""

import httpx
import pytest
from sqlalchemy import update

from kessai.apikeys import service as apikeys
from kessai.apikeys.models import ApiKey
from kessai.apikeys.service import KeyCache, revoke_key
from kessai.core.db import transaction
from kessai.core.services import Services
from tests.web.conftest import client_for, new_key


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks(monkeypatch: pytest.MonkeyPatch) -> Ticks:
    ticks = Ticks()
    monkeypatch.setattr(apikeys, "KEY_CACHE", KeyCache(ttl=5.0, monotonic=ticks))
    return ticks


async def revoke_elsewhere(services: Services, name: str) -> None:
    """What `kessai apikey revoke` in another process does: this process is not told."""
    async with transaction(services.sessions) as s:
        await s.execute(
            update(ApiKey).where(ApiKey.name == name).values(revoked_at=services.clock.now())
        )


async def orders(client: httpx.AsyncClient) -> int:
    return (await client.get("/api/v1/orders")).status_code


async def test_a_key_revoked_by_another_process_stops_working_after_the_ttl(
    services: Services, ticks: Ticks
) -> None:
    key = await new_key(services, "elsewhere")
    async with client_for(services, key) as client:
        assert await orders(client) == 200
        await revoke_elsewhere(services, "elsewhere")
        ticks.now += 4.9
        assert await orders(client) == 200  # still trusted from the check 4.9 s ago
        ticks.now += 0.2
        assert await orders(client) == 401


async def test_a_revocation_in_this_process_takes_effect_at_once(
    services: Services, ticks: Ticks
) -> None:
    key = await new_key(services, "here")
    async with client_for(services, key) as client:
        assert await orders(client) == 200
        async with transaction(services.sessions) as s:
            assert await revoke_key(s, "here", services.clock.now()) == 1
        assert await orders(client) == 401


async def test_only_the_exact_token_is_trusted_from_the_cache(
    services: Services, ticks: Ticks
) -> None:
    key = await new_key(services)
    prefix, secret = key.rsplit("_", 1)
    async with client_for(services, key) as client:
        assert await orders(client) == 200
    wrong = f"{prefix}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"
    async with client_for(services, wrong) as client:
        assert await orders(client) == 401


async def test_a_failed_check_is_never_cached(services: Services, ticks: Ticks) -> None:
    key = await new_key(services, "late")
    async with transaction(services.sessions) as s:
        await revoke_key(s, "late", services.clock.now())
    async with client_for(services, key) as client:
        assert await orders(client) == 401
        async with transaction(services.sessions) as s:
            await s.execute(update(ApiKey).where(ApiKey.name == "late").values(revoked_at=None))
        assert await orders(client) == 200
