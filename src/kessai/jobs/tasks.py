"""Dramatiq actors for jobs, on RabbitMQ (amqp://) or Redis (redis://) from KESSAI_BROKER_URL.

`kessai worker` runs them. Actors take ids only and are safe to run twice; a worker that
dies mid-chunk leaves its message unacknowledged, so the broker gives it to another.
"""

import asyncio
from typing import Any

import dramatiq

from kessai.core.logging import configure as configure_logging
from kessai.core.settings import Settings
from kessai.jobs.dispatch import make_broker
from kessai.services import Services, build_services

# A chunk holds at most a few hundred provider calls; far longer means a hung worker.
CHUNK_TIME_LIMIT_MS = 30 * 60 * 1000

settings = Settings.from_env()
broker = make_broker(settings.broker_url)


class JsonLogs(dramatiq.Middleware):
    """Each worker process writes kessai's JSON lines (with job_id …) where dramatiq's go."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        configure_logging(settings.log_level, reuse=True)


broker.add_middleware(JsonLogs())
dramatiq.set_broker(broker)
QUEUE = settings.broker_queue

_services: Services | None = None
_lock = asyncio.Lock()


async def worker_services() -> Services:
    """One Services per worker process, built on the worker's event loop."""
    global _services
    async with _lock:
        if _services is None:
            _services = build_services(settings)
            await _services.load_clock()
        return _services


@dramatiq.actor(queue_name=QUEUE, max_retries=5, min_backoff=1000, max_backoff=60000)
async def plan_job(job_id: int) -> None:
    from kessai.jobs import runner

    await runner.plan_job(await worker_services(), job_id)


@dramatiq.actor(
    queue_name=QUEUE,
    max_retries=5,
    min_backoff=1000,
    max_backoff=60000,
    time_limit=CHUNK_TIME_LIMIT_MS,
)
async def run_chunk(job_id: int, seq: int) -> None:
    from kessai.jobs import runner

    services = await worker_services()
    await services.load_clock()  # the sandbox clock may have been moved by the API
    await runner.run_chunk(services, job_id, seq)


def actors() -> list[Any]:
    return [plan_job, run_chunk]
