"""Batcher: gathers items from many tasks and writes them together.

The tasks of a batch run (billing) each finish with a small write; written one by one
they cost a round trip and a commit each. Each task hands its item to add() and waits;
the batch is written when `size` items wait, or `wait` seconds after the first arrived,
and every task gets its own item's result (or the batch's error)."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        size: int,
        wait: float,
    ) -> None:
        self._write = write
        self._size = size
        self._wait = wait
        self._items: list[tuple[T, asyncio.Future[R]]] = []
        self._timer: asyncio.Task[None] | None = None

    async def add(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._items.append((item, future))
        if len(self._items) >= self._size:
            await self._flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())
        return await future

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._wait)
        self._timer = None
        await self._flush()

    async def _flush(self) -> None:
        batch, self._items = self._items, []
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
            self._timer = None
        if not batch:
            return
        try:
            results = await self._write([item for item, _ in batch])
        except Exception as exc:  # every waiting task learns what became of its item
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled mid-write: so are the items' waits
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
