"""Shared by the bulk and import tests: orders in a chosen 決済状況, jobs and their CSV."""

import csv
import io
from typing import Any

import httpx

from kessai.accounts.models import PaymentMethod
from kessai.core.db import transaction
from kessai.jobs import repository as jobs_repo
from kessai.jobs.models import Job
from kessai.services import Services
from tests.factories import act, make_order


async def authorized(services: Services, method: PaymentMethod, count: int, **kw: Any) -> list[int]:
    ids = []
    for _ in range(count):
        order_id = await make_order(services, method, **kw)
        result = await services.payments.run(order_id, act("authorize"))
        assert result.outcome == "succeeded", result
        ids.append(order_id)
    return ids


async def job_of(services: Services, job_id: int) -> Job:
    async with transaction(services.sessions) as s:
        return await jobs_repo.get_job(s, job_id)


async def finished(services: Services, job_id: int) -> Job:
    await services.dispatcher.drain()
    job = await job_of(services, job_id)
    assert job.finished_at is not None, job.status
    return job


async def csv_rows(
    api: httpx.AsyncClient, job_id: int, encoding: str = "utf-8"
) -> list[dict[str, str]]:
    """The job's CSV as operators download it, one dict per row by header."""
    r = await api.get(f"/api/v1/jobs/{job_id}/items.csv", params={"encoding": encoding})
    assert r.status_code == 200, r.text
    text = r.content.decode("utf-8-sig" if encoding == "utf-8" else "cp932")
    return list(csv.DictReader(io.StringIO(text)))


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)
