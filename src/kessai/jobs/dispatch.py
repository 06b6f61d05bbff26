"""How job messages reach a runner: in this process (embedded default) or through Dramatiq.

Callers send only after the transaction that created the job or chunk has committed.
"""

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kessai.core.services import Services

log = logging.getLogger("kessai.jobs")


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

    async def send_plan(self, job_id: int) -> None:
        from kessai.jobs.runner import plan_job

        self._spawn(plan_job(self.services, job_id))

    async def send_chunk(self, job_id: int, seq: int) -> None:
        from kessai.jobs.runner import run_chunk

        async def limited() -> None:
            async with self._slots:
                await run_chunk(self.services, job_id, seq)

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

    async def send_plan(self, job_id: int) -> None:
        from kessai.jobs import tasks

        await asyncio.to_thread(tasks.plan_job.send, job_id)

    async def send_chunk(self, job_id: int, seq: int) -> None:
        from kessai.jobs import tasks

        await asyncio.to_thread(tasks.run_chunk.send, job_id, seq)

    async def drain(self) -> None:
        return None  # the workers' business

    async def aclose(self) -> None:
        return None
