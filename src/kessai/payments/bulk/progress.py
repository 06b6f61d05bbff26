"""Items a job already finished, so a chunk run again does not do them twice.

The runner records a chunk's items when the whole chunk is done; a worker that dies
halfway leaves the orders it did without a record. Jobs that call providers therefore
record each item as soon as it is done, and a second run answers from that record.
"""

from collections.abc import Iterable
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
