"""API keys are checked against the database once per CACHE_SECONDS per process."""

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from kessai.apikeys import service as apikeys
from kessai.apikeys.models import ApiKey
from kessai.apikeys.service import KeyCache, revoke_key
from kessai.core.db import transaction
from kessai.services import Services
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


async def test_requests_that_find_the_entry_expired_ask_the_database_once(
    services: Services, ticks: Ticks, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await new_key(services, "busy")
    checks = []
    original = apikeys.authenticate

    async def authenticate(session: Any, header: str | None) -> apikeys.Principal:
        checks.append(header)
        await asyncio.sleep(0.01)  # the query in flight while the others arrive
        return await original(session, header)

    monkeypatch.setattr(apikeys, "authenticate", authenticate)
    async with client_for(services, key) as client:
        assert await orders(client) == 200
        ticks.now += 5.1
        assert await asyncio.gather(*(orders(client) for _ in range(8))) == [200] * 8
    assert len(checks) == 2  # the first request, then one for the eight


async def test_a_shared_check_that_fails_fails_for_every_request(
    services: Services, ticks: Ticks
) -> None:
    key = await new_key(services, "gone")
    async with transaction(services.sessions) as s:
        await revoke_key(s, "gone", services.clock.now())
    async with client_for(services, key) as client:
        assert await asyncio.gather(*(orders(client) for _ in range(4))) == [401] * 4


async def test_a_check_running_when_the_cache_is_cleared_is_not_kept() -> None:
    """A revocation in this process while a check of the key is in flight."""
    cache = KeyCache()
    release = asyncio.Event()
    found = apikeys.Principal(1, "racing")

    async def slow_check() -> apikeys.Principal:
        await release.wait()
        return found

    running = asyncio.create_task(cache.check("db", "ks_a_b", slow_check))
    await asyncio.sleep(0)
    cache.clear()
    release.set()

    assert await running == found  # the request in flight keeps its answer
    assert cache.get("db", "ks_a_b") is None  # later requests ask again
