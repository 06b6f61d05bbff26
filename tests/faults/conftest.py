"""The fault suite's fixtures: a PostgreSQL of its own (restarted and cut off at will),
the GMO PG simulator on loopback, and kessai's services on that database."""

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from kessai.core.migrate import upgrade
from kessai.core.settings import Env, Settings
from kessai.providers.gmo_pg.simulator import SimulatorConfig, create_simulator
from kessai.services import Services, build_services
from tests.conftest import TEST_SECRET_KEY
from tests.faults.postgres import PrivatePostgres, running
from tests.faults.rabbitmq import STARTED, stop_node

# A call left written ahead by a run that failed is looked up after this many seconds.
LEASE_SECONDS = 3


@pytest.fixture(scope="session", autouse=True)
def no_node_left() -> Iterator[None]:
    """Whatever a test did (or failed to do), no RabbitMQ node of ours outlives the run."""
    yield
    for name in sorted(STARTED):
        stop_node(name)


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    # Not under pytest's tmp_path: its parents are private to root, and the server may
    # run as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="kessai-faults-pg-"))
    pg = running(root)
    try:
        yield pg
    finally:
        try:
            pg.stop("immediate")
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def database(private_pg: PrivatePostgres) -> str:
    name = f"kessai_faults_{uuid.uuid4().hex[:8]}"
    await private_pg.create_database(name)
    url = private_pg.url(name)
    await asyncio.to_thread(upgrade, url)
    return name


def settings_for(private_pg: PrivatePostgres, database: str, **extra: object) -> Settings:
    return Settings(
        database_url=private_pg.url(database),
        env=Env.SANDBOX,
        secret_key=TEST_SECRET_KEY,
        attempt_lease_seconds=LEASE_SECONDS,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
async def services(private_pg: PrivatePostgres, database: str) -> AsyncIterator[Services]:
    svc = build_services(settings_for(private_pg, database))
    yield svc
    await svc.close()


@pytest.fixture
async def simulator() -> AsyncIterator[tuple[Starlette, str]]:
    """GMO PG's simulator, slow enough (0.3 s a call) for a fault to land mid-run."""
    app = create_simulator(SimulatorConfig(latency_seconds=0.3))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the simulator did not start"
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield app, f"http://127.0.0.1:{port}"
    finally:
        # A fault may hold an answer back for minutes: those requests are not waited for.
        server.should_exit = server.force_exit = True
        await asyncio.wait_for(task, timeout=30)
