"""Items a job already finished, so a chunk run again does not do them twice.

The runner records a chunk's items when the whole chunk is done; a worker that dies
halfway leaves the orders it did without a record. Jobs that call providers therefore
record each item as soon as it is done, and a second run answers from that record.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from kessai.core.db import transaction
from kessai.jobs import repository as jobs_repo
from kessai.jobs.kinds import ItemResult
from kessai.jobs.models import JobItem
from kessai.jobs.status import ItemStatus

if TYPE_CHECKING:
    from kessai.services import Services


async def recorded(services: "Services", job_id: int, keys: Iterable[str]) -> dict[str, ItemResult]:
    wanted = list(keys)
    if not wanted:
        return {}
    async with transaction(services.sessions) as s:
        rows = await s.execute(
            select(JobItem).where(JobItem.job_id == job_id, JobItem.key.in_(wanted))
        )
        return {
            item.key: ItemResult(item.key, ItemStatus(item.status), item.message, item.data)
            for item in rows.scalars()
        }


async def record(services: "Services", job_id: int, seq: int, result: ItemResult) -> None:
    """Record one finished item at its place in the job's CSV (`seq`)."""
    async with transaction(services.sessions) as s:
        await jobs_repo.record_items(s, job_id, seq, [result], services.clock.now())


class _NotStarted(Exception):
    """An item left for the chunk's next run because a sibling failed first."""


async def run_items(
    services: "Services",
    job_id: int,
    items: Sequence[tuple[int, str]],
    do: Callable[[int, str], Awaitable[ItemResult]],
    concurrency: int,
) -> list[ItemResult]:
    """Run a chunk's items (place in the CSV, key) at most `concurrency` at once, each
    recorded as soon as it is done and answered from that record when the chunk runs again.

    When an item raises, items not yet started stay for the chunk's next run and those
    already calling their provider finish and are recorded before the chunk fails: none is
    left running beside the next run, which would act on its order a second time.
    """
    done = await recorded(services, job_id, (key for _, key in items))
    slots, failed = asyncio.Semaphore(concurrency), asyncio.Event()

    async def one(seq: int, key: str) -> ItemResult:
        if key in done:  # this chunk ran before and got this far
            return done[key]
        async with slots:
            if failed.is_set():
                raise _NotStarted
            try:
                result = await do(seq, key)
            except BaseException:
                failed.set()  # before the slot is freed for an item not yet started
                raise
        await record(services, job_id, seq, result)
        return result

    tasks = [asyncio.ensure_future(one(seq, key)) for seq, key in items]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        failed.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
