"""progress.run_items: a chunk's items, each recorded once, and a failing item ending the chunk."""

import asyncio

import pytest

from kessai.core.db import transaction
from kessai.jobs.kinds import ItemResult
from kessai.jobs.models import Job
from kessai.jobs.status import ItemStatus
from kessai.payments.bulk import progress
from kessai.services import Services


class Died(Exception):
    pass


async def test_an_item_that_raises_leaves_nothing_running_beside_the_next_run(
    services: Services,
) -> None:
    """The item already calling finishes and is recorded; the one not started waits for
    the next run instead of starting after the chunk has failed."""
    busy, later = "busy", "later"
    job_id = await _job(services)
    calling, release, ran = asyncio.Event(), asyncio.Event(), []

    async def do(seq: int, key: str) -> ItemResult:
        ran.append(key)
        if key == "dies":
            await calling.wait()  # the sibling is mid-call when this one dies
            raise Died
        if key == busy:
            calling.set()
            await release.wait()
        return ItemResult(key, ItemStatus.SUCCEEDED, "done")

    chunk = asyncio.ensure_future(
        progress.run_items(services, job_id, [(0, busy), (1, "dies"), (2, later)], do, 2)
    )
    await calling.wait()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not chunk.done()  # the chunk waits for the call in flight
    release.set()
    with pytest.raises(Died):
        await chunk
    for _ in range(5):
        await asyncio.sleep(0)
    assert ran == [busy, "dies"]  # `later` never started, now or after the failure
    recorded = await progress.recorded(services, job_id, [busy, "dies", later])
    assert list(recorded) == [busy]


async def _job(services: Services) -> int:
    async with transaction(services.sessions) as s:
        job = Job(
            kind="bulk_payment_action",
            name="決済状況一括変更",
            status="running",
            params={},
            created_by="test",
            created_at=services.clock.now(),
        )
        s.add(job)
        await s.flush()
        return job.id
