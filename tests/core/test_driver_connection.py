"""core.db.driver_connection: the hot paths' connections, kept between statements."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kessai.core.db import create_engine, database_failure, driver_connection
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


async def test_connections_lost_together_are_each_discarded_once(pg_database: str) -> None:
    """A database restart breaks every connection at once: each user sees the database as
    gone (never an error of the pool's own bookkeeping), and the next statement works."""
    engine = create_engine(pg_database, pool_size=8, max_overflow=0)
    try:
        held: list[int] = []
        ready, go = asyncio.Event(), asyncio.Event()

        async def use() -> None:
            async with driver_connection(engine) as conn:
                held.append(await conn.fetchval("SELECT pg_backend_pid()"))
                if len(held) == 4:
                    ready.set()
                await go.wait()
                await conn.fetchval("SELECT 1")

        tasks = [asyncio.create_task(use()) for _ in range(4)]
        await ready.wait()
        async with driver_connection(engine) as admin:
            await admin.execute("SELECT pg_terminate_backend(p) FROM unnest($1::int[]) p", held)
        go.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)

        # Each is a database failure, so the work is run again, never reported as failed.
        assert all(isinstance(o, Exception) and database_failure(o) for o in outcomes), outcomes
        async with driver_connection(engine) as conn:
            assert await conn.fetchval("SELECT 4") == 4
    finally:
        await engine.dispose()
