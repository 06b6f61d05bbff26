"""What the jobs API shows."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from kessai.jobs.models import Job, JobLog
from kessai.jobs.status import JobStatus


class JobLogOut(BaseModel):
    at: datetime
    level: str
    message: str


class JobOut(BaseModel):
    id: int
    kind: str
    name: str
    status: str
    status_label: str
    params: dict[str, Any]
    total: int
    processed: int
    succeeded: int
    failed: int
    skipped: int
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    csv_url: str
    log: list[JobLogOut] | None = None

    @classmethod
    def of(cls, job: Job, log: list[JobLog] | None = None) -> "JobOut":
        return cls(
            id=job.id,
            kind=job.kind,
            name=job.name,
            status=job.status,
            status_label=JobStatus(job.status).label,
            params=_shown(job.params),
            total=job.total,
            processed=job.processed,
            succeeded=job.succeeded,
            failed=job.failed,
            skipped=job.skipped,
            error=job.error,
            created_by=job.created_by,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            csv_url=f"/api/v1/jobs/{job.id}/items.csv",
            log=None
            if log is None
            else [JobLogOut(at=x.at, level=x.level, message=x.message) for x in log],
        )


def _shown(params: dict[str, Any]) -> dict[str, Any]:
    """The job's parameters without an imported file's rows (its CSV says what they became)."""
    shown = {k: v for k, v in params.items() if k != "rows"}
    if isinstance(params.get("rows"), list):
        shown["row_count"] = len(params["rows"])
    return shown
