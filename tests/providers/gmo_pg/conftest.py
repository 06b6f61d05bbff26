"""Fixtures of the connector tests: a loopback GMO answering recorded bodies, a reference
store (in memory or SQLite) and a connector on them. The simulator tests define their own
`gmo` (a client of the simulator), which takes precedence in their modules."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kessai.providers.gmo_pg.connector import GmoPgConnector
from kessai.providers.store import ReferenceStore
from tests.providers.gmo_pg.test_connector_http import (
    FakeGmo,
    MemoryStore,
    connector_for,
    reference_store,
)


@pytest.fixture
async def gmo() -> AsyncIterator[FakeGmo]:
    async with FakeGmo().running() as server:
        yield server


@pytest.fixture
def store() -> ReferenceStore:
    return MemoryStore()


@pytest.fixture
async def db_store(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[ReferenceStore]:
    async with reference_store(sqlite_template, tmp_path) as s:
        yield s


@pytest.fixture
async def conn(gmo: FakeGmo, store: ReferenceStore) -> AsyncIterator[GmoPgConnector]:
    async with connector_for(gmo, store) as c:
        yield c
