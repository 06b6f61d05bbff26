"""Batcher: items from many tasks written together, each task getting its own result."""

import asyncio

import pytest

from kessai.core.batcher import Batcher


class Writes:
    def __init__(self, fail: Exception | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        return [i * 10 for i in items]


async def test_a_full_batch_is_written_at_once_and_each_task_gets_its_result():
    writes = Writes()
    batcher = Batcher(writes, size=3, wait=60)  # the wait would never end the test

    results = await asyncio.gather(*(batcher.add(i) for i in range(6)))

    assert results == [0, 10, 20, 30, 40, 50]
    assert writes.batches == [[0, 1, 2], [3, 4, 5]]


async def test_a_partial_batch_is_written_after_the_wait():
    writes = Writes()
    batcher = Batcher(writes, size=100, wait=0.01)

    results = await asyncio.wait_for(asyncio.gather(batcher.add(1), batcher.add(2)), 5)

    assert results == [10, 20]
    assert writes.batches == [[1, 2]]


async def test_a_failed_write_reaches_every_task_of_its_batch_only():
    writes = Writes(fail=ConnectionError("gone"))
    batcher = Batcher(writes, size=2, wait=60)

    first = await asyncio.gather(batcher.add(1), batcher.add(2), return_exceptions=True)
    writes.fail = None
    second = await asyncio.gather(batcher.add(3), batcher.add(4))

    assert [type(r) for r in first] == [ConnectionError, ConnectionError]
    assert second == [30, 40]


async def test_a_write_cancelled_midway_cancels_the_waits_of_its_batch():
    started = asyncio.Event()

    async def hangs(items: list[int]) -> list[int]:
        started.set()
        await asyncio.Event().wait()
        return items

    batcher = Batcher(hangs, size=2, wait=60)
    waiting = asyncio.create_task(batcher.add(1))
    await asyncio.sleep(0)
    writer = asyncio.create_task(batcher.add(2))  # fills the batch: this task writes it
    await started.wait()
    writer.cancel()

    with pytest.raises(asyncio.CancelledError):
        await writer
    with pytest.raises(asyncio.CancelledError):
        await waiting
