"""Fixtures: a migrated database per backend (SQLite and PostgreSQL), services, an API client.

PostgreSQL tests run against 127.0.0.1:5432 (database `test` holds nothing of ours: each
session creates its own database and drops it after); when the server is unreachable the
PostgreSQL half of every parametrized test is skipped with the reason shown.
"""

import asyncio
import base64
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kessai.all_models import Base
from kessai.core.db import transaction
from kessai.core.migrate import upgrade
from kessai.core.settings import Env, Settings, normalize_database_url
from kessai.providers.fake.connector import FakeConnector
from kessai.providers.registry import ConnectorRegistry
from kessai.services import Services, build_services
from kessai.web.app import create_app

PG_ADMIN_DSN = os.environ.get("KESSAI_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgres"]
# A fixed master key for the tests' sealed account secrets (never a real one).
TEST_SECRET_KEY = base64.b64encode(b"kessai-test-master-key-32-bytes!").decode()


# `make test` runs the suite on two workers (pytest-xdist, --dist loadgroup). These run on
# one worker each, one test after another: a module whose server is module-scoped starts it
# once, and the fault suite's private PostgreSQL and RabbitMQ restarts never overlap.
ONE_WORKER = ("tests/test_run.py", "tests/test_api_contract.py", "tests/faults/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = item.nodeid.split("::", 1)[0]
        for prefix in ONE_WORKER:
            if where.startswith(prefix):
                item.add_marker(pytest.mark.xdist_group(prefix.rstrip("/")))


def _pg_reachable() -> str | None:
    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:  # any failure to connect is a reason to skip, shown to the reader
        return f"PostgreSQL unreachable at {PG_ADMIN_DSN}: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def new_pg_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (postgresql://… as a user writes it), dropped after;
    the test skips with the reason when the server is unreachable."""
    reason = _pg_reachable()
    if reason:
        pytest.skip(reason)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    with new_pg_database("kessai_test") as plain:
        url = normalize_database_url(plain)
        upgrade(url)
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "kessai.db"
        shutil.copy(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    return url


class FakeRegistry(ConnectorRegistry):
    """The default registry, keeping a handle on the fake connectors it builds."""

    def fake(self, account_id: int) -> FakeConnector:
        conn = self.for_account("fake", account_id, {})
        assert isinstance(conn, FakeConnector)
        return conn


# Every sequence back at its start, as on a freshly migrated database (ids from 1 again).
RESTART_SEQUENCES = text(
    "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false)"
    " FROM pg_sequences WHERE schemaname = current_schema()"
)


async def _emptied(svc: Services) -> Services:
    """PostgreSQL's database is shared by the session's tests: start each one empty.
    DELETE, children first, not TRUNCATE: a TRUNCATE of every table makes new files for
    each and waits on the disk (about a second a test); a DELETE of a few rows does not."""
    if svc.settings.database_url.startswith("postgresql"):
        async with transaction(svc.sessions) as s:
            for table in reversed(Base.metadata.sorted_tables):
                await s.execute(table.delete())
            await s.execute(RESTART_SEQUENCES)
    return svc


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[Services]:
    registry = FakeRegistry()
    registry.register("fake", lambda account_id, settings: FakeConnector(account_id, settings))
    svc = await _emptied(
        build_services(
            Settings(database_url=database_url, env=Env.SANDBOX, secret_key=TEST_SECRET_KEY),
            registry,
        )
    )
    yield svc
    await svc.close()


@pytest.fixture
def sessions(services: Services) -> async_sessionmaker[AsyncSession]:
    """The test's database (SQLite or PostgreSQL, empty) as sessions alone: what a simulator's
    store is built on."""
    return services.sessions


@pytest.fixture
async def live_services(database_url: str) -> AsyncIterator[Services]:
    """Services as `kessai serve` builds them: every real connector, sandbox mode."""
    svc = await _emptied(
        build_services(
            Settings(database_url=database_url, env=Env.SANDBOX, secret_key=TEST_SECRET_KEY)
        )
    )
    yield svc
    await svc.close()


@pytest.fixture
async def prod_services(services: Services) -> AsyncIterator[Services]:
    """The same (migrated, empty) database served as KESSAI_ENV=production."""
    prod = build_services(
        Settings(
            database_url=services.settings.database_url,
            env=Env.PRODUCTION,
            secret_key=services.settings.secret_key,
        )
    )
    yield prod
    await prod.close()


@pytest.fixture
async def app_client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kessai.test") as client:
        yield client
