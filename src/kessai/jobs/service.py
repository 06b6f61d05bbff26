"""Submitting a job: written and committed first, then sent to whoever runs jobs."""

from typing import TYPE_CHECKING, Any

from kessai.core.db import transaction
from kessai.jobs import repository as repo
from kessai.jobs.kinds import kind_of
from kessai.jobs.models import Job
from kessai.jobs.status import JobStatus

if TYPE_CHECKING:
    from kessai.services import Services


async def submit(
    services: "Services",
    kind: str,
    *,
    created_by: str,
    params: dict[str, Any] | None = None,
    name: str | None = None,
    dedupe_key: str | None = None,
) -> tuple[Job, bool]:
    """The job and whether it is new; with a dedupe_key already used, the existing job."""
    job_kind = kind_of(kind)
    async with transaction(services.sessions) as s:
        job_id = await repo.insert_job(
            s,
            {
                "kind": kind,
                "name": name or job_kind.name,
                "status": JobStatus.QUEUED.value,
                "params": params or {},
                "dedupe_key": dedupe_key,
                "total": 0,
                "processed": 0,
                "succeeded": 0,
                "failed": 0,
                "skipped": 0,
                "created_by": created_by,
                "created_at": services.clock.now(),
            },
        )
        if job_id is None:
            assert dedupe_key is not None
            existing = await repo.job_by_dedupe_key(s, dedupe_key)
            assert existing is not None
            return existing, False
        job = await repo.get_job(s, job_id)
    await services.dispatcher.send_plan(job.id)  # after commit: the worker will find it
    return job, True
