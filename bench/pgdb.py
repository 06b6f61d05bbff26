"""A throw-away PostgreSQL database for a benchmark run: created, then always dropped."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator

import asyncpg


@contextlib.contextmanager
def temporary_pg_database(pg_admin: str) -> Iterator[tuple[str, str]]:
    """(async SQLAlchemy URL, name) of a new empty database on the server of `pg_admin`."""
    name = f"kessai_bench_{secrets.token_hex(5)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(pg_admin, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        base = pg_admin.rsplit("/", 1)[0].split("://", 1)[1]
        yield f"postgresql+asyncpg://{base}/{name}", name
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
