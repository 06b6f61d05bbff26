"""Jobs on real Dramatiq workers over RabbitMQ and Redis: the same runner as in-process.

The API side (these services) only writes the job and sends a message after commit; the
worker processes, started as separate programs, plan and run the chunks.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kessai.core.db import transaction
from kessai.core.settings import Settings
from kessai.jobs import repository as repo
from kessai.jobs.kinds import register
from kessai.jobs.models import Job
from kessai.jobs.service import submit
from kessai.services import Services, build_services
from tests.jobs.brokers import (
    broker_url,
    delete_queue,
    queue_name,
    start_worker,
    worker_env,
    workers,
)
from tests.jobs.toy_kinds import Squares


async def wait_finished(services: Services, job_id: int, within: float = 90) -> Job:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with transaction(services.sessions) as s:
            job = await repo.get_job(s, job_id)
        if job.finished_at is not None or loop.time() > deadline:
            return job
        await asyncio.sleep(0.2)


def _logs(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.glob("worker*.log"))


@pytest.fixture(params=["rabbitmq", "redis"])
async def sender(
    request: pytest.FixtureRequest, services: Services
) -> AsyncIterator[tuple[Services, dict[str, str]]]:
    """Services that send to a broker (a fresh queue) instead of running jobs themselves."""
    url = broker_url(request.param)
    queue = queue_name()
    settings = Settings(
        database_url=services.settings.database_url,
        env=services.settings.env,
        secret_key=services.settings.secret_key,
        broker_url=url,
        broker_queue=queue,
    )
    svc = build_services(settings)
    register(Squares())  # this process must know the kind to submit it
    yield svc, worker_env(services.settings.database_url, url, queue)
    await svc.close()
    delete_queue(url, queue)


async def test_two_workers_run_a_job_from_the_broker(
    sender: tuple[Services, dict[str, str]], tmp_path: Path
) -> None:
    svc, env = sender
    procs = [
        start_worker(env, "tests.jobs.worker_kinds", log=tmp_path / f"worker{n}.log")
        for n in range(2)
    ]
    with workers(procs):
        job, _ = await submit(svc, "test_squares", created_by="t", params={"count": 20})
        done = await wait_finished(svc, job.id)
        assert done.finished_at is not None, _logs(tmp_path)
    assert (done.total, done.processed, done.succeeded, done.failed, done.skipped) == (
        20,
        20,
        14,
        4,
        2,
    )
    assert done.status == "partially_failed"
    async with transaction(svc.sessions) as s:
        items = await repo.items(s, job.id)
    assert sorted(int(i.key) for i in items) == list(range(1, 21))
