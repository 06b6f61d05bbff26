"""core.db.driver_connection: the hot paths' connections, kept between statements."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kessai.core.db import create_engine, driver_connection
from kessai.core.errors import Conflict


@pytest.fixture
async def engine(pg_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_database)
    yield engine
    await engine.dispose()


async def test_a_connection_is_kept_for_the_next_statement_and_closed_by_dispose(
    pg_database: str,
) -> None:
    engine = create_engine(pg_database)
    async with driver_connection(engine) as first:
        assert await first.fetchval("SELECT 1") == 1
    async with driver_connection(engine) as again:
        assert again is first

    await engine.dispose()

    assert first.is_closed()


async def test_an_error_of_ours_keeps_the_connection(engine: AsyncEngine) -> None:
    used = []

    async def refused() -> None:
        async with driver_connection(engine) as conn:
            used.append(conn)
            await conn.fetchval("SELECT 1")
            raise Conflict("refused by a rule")

    with pytest.raises(Conflict):
        await refused()
    async with driver_connection(engine) as again:
        assert again is used[0]
        assert await again.fetchval("SELECT 2") == 2


async def test_a_statement_cancelled_midway_never_reaches_the_next_user(
    engine: AsyncEngine,
) -> None:
    started = asyncio.Event()
    seen = []

    async def slow() -> None:
        async with driver_connection(engine) as conn:
            seen.append(conn)
            started.set()
            await conn.fetchval("SELECT pg_sleep(30)")

    task = asyncio.create_task(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert seen[0].is_closed()
    async with driver_connection(engine) as conn:
        assert conn is not seen[0]
        assert await conn.fetchval("SELECT 3") == 3


async def test_at_most_half_the_pool_is_kept(pg_database: str) -> None:
    engine = create_engine(pg_database, pool_size=4, max_overflow=0)
    try:
        held: list[object] = []
        ready, release = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with driver_connection(engine) as conn:
                held.append(conn)
                if len(held) == 4:
                    ready.set()
                await release.wait()

        tasks = [asyncio.create_task(hold()) for _ in range(4)]
        await ready.wait()
        release.set()
        await asyncio.gather(*tasks)

        status = engine.sync_engine.pool.status()
        assert "Current Checked out connections: 2" in status  # kept: 4 // 2
    finally:
        await engine.dispose()
