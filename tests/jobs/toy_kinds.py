"""A toy job kind (squares of numbers) for testing the job runner without any domain.

It counts how often each item really ran, which is how "a chunk run twice is harmless"
is checked. Imported by a Dramatiq worker (`tests.jobs.worker_kinds`) it registers itself.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from kessai.jobs.kinds import ItemResult
from kessai.jobs.models import Job
from kessai.jobs.status import ItemStatus
from kessai.services import Services


@dataclass
class Squares:
    kind: str = "test_squares"
    name: str = "テスト: 二乗"
    columns: tuple[tuple[str, str], ...] = (("n", "数"), ("square", "二乗"))
    chunk_size: int = 3
    ran: Counter[int] = field(default_factory=Counter)
    broken_chunk_with: int | None = None
    breaks: int = 10**9  # how many runs of the broken chunk fail before it works

    async def plan(self, services: Services, job: Job) -> list[Any]:
        return list(range(1, int(job.params["count"]) + 1))

    async def run(self, services: Services, job: Job, keys: list[Any]) -> list[ItemResult]:
        if self.broken_chunk_with in keys and self.breaks > 0:
            self.breaks -= 1
            # A driver error, whose text holds the SQL statement and its parameters.
            async with services.sessions() as s:
                await s.execute(
                    text("SELECT secret_column FROM no_such_table WHERE n = :n"), {"n": keys[0]}
                )
        out = []
        for n in keys:
            self.ran[n] += 1
            if n % 5 == 0:
                out.append(ItemResult(str(n), ItemStatus.FAILED, "5の倍数は扱えません", {"n": n}))
            elif n % 7 == 0:
                out.append(ItemResult(str(n), ItemStatus.SKIPPED, "対象外", {"n": n}))
            else:
                out.append(ItemResult(str(n), ItemStatus.SUCCEEDED, "", {"n": n, "square": n * n}))
        return out
