"""How job messages reach a runner: in this process (embedded default) or through Dramatiq.

Callers send only after the transaction that created the job or chunk has committed.
"""

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

if TYPE_CHECKING:
    from kessai.core.settings import Settings
    from kessai.services import Services

log = logging.getLogger("kessai.jobs")

RETRIES = 4  # as Dramatiq retries a failed message, with a growing pause


class Dispatcher(Protocol):
    async def send_plan(self, job_id: int) -> None: ...

    async def send_chunk(self, job_id: int, seq: int) -> None: ...

    async def drain(self) -> None: ...

    async def aclose(self) -> None: ...


class InProcessDispatcher:
    """Runs plans and chunks as tasks on this process's event loop, a few chunks at once."""

    def __init__(self, services: "Services", concurrency: int = 2) -> None:
        self.services = services
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self.retry_pause = 1.0  # seconds before the first re-run of a failed chunk

    async def send_plan(self, job_id: int) -> None:
        from kessai.jobs.runner import plan_job

        self._spawn(plan_job(self.services, job_id))

    async def send_chunk(self, job_id: int, seq: int) -> None:
        from kessai.jobs.runner import run_chunk

        async def limited() -> None:
            for attempt in range(RETRIES + 1):
                try:
                    async with self._slots:
                        await run_chunk(self.services, job_id, seq)
                    return
                except Exception:
                    if attempt == RETRIES:
                        raise  # left pending: the scheduler's sweep sends it again
                    await asyncio.sleep(min(self.retry_pause * 2.0**attempt, 30.0))

        self._spawn(limited())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job task failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait until every job sent so far (and what it sent in turn) has run."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


class DramatiqDispatcher:
    """Sends to the broker of KESSAI_BROKER_URL; `kessai worker` processes run the actors."""

    def __init__(self, settings: "Settings") -> None:
        assert settings.broker_url is not None
        self.queue = settings.broker_queue
        self.broker = make_broker(settings.broker_url)

    async def send_plan(self, job_id: int) -> None:
        await self._send("plan_job", job_id)

    async def send_chunk(self, job_id: int, seq: int) -> None:
        await self._send("run_chunk", job_id, seq)

    async def _send(self, actor: str, *args: int) -> None:
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=self.queue, actor_name=actor, args=args, kwargs={}, options={}
        )
        await asyncio.to_thread(self.broker.enqueue, message)

    async def drain(self) -> None:
        return None  # the workers' business

    async def aclose(self) -> None:
        await asyncio.to_thread(self.broker.close)


def make_broker(url: str | None) -> dramatiq.Broker:
    """RabbitMQ for amqp://, Redis for redis://; a stub (never used to send) otherwise."""
    broker: dramatiq.Broker
    if url and url.startswith("amqp"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
    elif url and url.startswith(("redis", "rediss")):
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=url)  # type: ignore[no-untyped-call]
    else:
        broker = StubBroker()
    broker.add_middleware(AsyncIO())
    return broker
