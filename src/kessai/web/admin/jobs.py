"""ジョブ管理: every batch with its status, counts, times, log, results and CSV."""

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.datastructures import FormData

from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.jobs import csvout
from kessai.jobs import repository as repo
from kessai.jobs.kinds import kind_of
from kessai.jobs.models import Job
from kessai.jobs.status import ItemStatus, JobStatus
from kessai.users.service import Permission, Principal
from kessai.web.admin.core import AdminContext, render

MAX_ID = 2**63 - 1
JobId = Annotated[int, Path(ge=1, le=MAX_ID)]
PAGE_SIZE = 50
ITEMS_SHOWN = 200
# Shown next to the CSV buttons: what each encoding is for.
CSV_ENCODINGS = (("utf-8", "UTF-8 (BOM付き)"), ("cp932", "Shift_JIS (CP932)"))


SUBMISSION_FIELD = "submission"
_SUBMISSION = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def submission_token() -> str:
    """A token for one form that starts a job: a double click sends it twice, one job runs."""
    return secrets.token_urlsafe(16)


def dedupe_key(principal: Principal, form: FormData, what: str) -> str | None:
    token = form.get(SUBMISSION_FIELD)
    if not isinstance(token, str) or not _SUBMISSION.match(token):
        return None
    return f"admin:{principal.user_id}:{what}:{token}"


def when(moment: datetime | None) -> str:
    return "" if moment is None else to_tokyo(moment).strftime("%Y/%m/%d %H:%M:%S")


def status_label(code: str) -> str:
    try:
        return JobStatus(code).label
    except ValueError:  # written by a newer version
        return code


@dataclass(frozen=True)
class JobRow:
    id: int
    name: str
    status: str
    status_label: str
    finished: bool
    total: int
    processed: int
    succeeded: int
    failed: int
    skipped: int
    created_by: str
    created_at: str
    started_at: str
    finished_at: str
    filename: str
    error: str | None

    @classmethod
    def of(cls, job: Job) -> "JobRow":
        return cls(
            id=job.id,
            name=job.name,
            status=job.status,
            status_label=status_label(job.status),
            finished=job.finished_at is not None,
            total=job.total,
            processed=job.processed,
            succeeded=job.succeeded,
            failed=job.failed,
            skipped=job.skipped,
            created_by=job.created_by,
            created_at=when(job.created_at),
            started_at=when(job.started_at),
            finished_at=when(job.finished_at),
            filename=str((job.params or {}).get("filename") or ""),
            error=job.error,
        )


def _columns(kind: str) -> Sequence[tuple[str, str]]:
    try:
        return kind_of(kind).columns
    except LookupError:  # a kind this process does not know: its items still show
        return ()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def add_job_routes(router: APIRouter, ctx: AdminContext) -> None:
    view = Depends(ctx.require(Permission.ORDERS_VIEW))

    @router.get("/jobs", summary="ジョブ一覧")
    async def jobs(
        request: Request,
        _: Annotated[Principal, view],
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
        status: Annotated[str, Query(max_length=20)] = "",
    ) -> Response:
        shown = status if status in {j.value for j in JobStatus} else None
        async with transaction(ctx.services.sessions) as s:
            found = await repo.list_jobs(
                s, kind=None, status=shown, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
            )
        rows = [JobRow.of(j) for j in found[:PAGE_SIZE]]
        return render(
            request,
            "jobs.html",
            {
                "nav": "jobs",
                "rows": rows,
                "page": page,
                "more": len(found) > PAGE_SIZE,
                "running": any(not r.finished for r in rows),
                "status": shown,
                "status_label": status_label(shown) if shown else "",
            },
        )

    @router.get("/jobs/{job_id}", summary="ジョブ詳細")
    async def job_detail(
        request: Request, _: Annotated[Principal, view], job_id: JobId
    ) -> Response:
        async with transaction(ctx.services.sessions) as s:
            job = await repo.get_job(s, job_id)
            log = await repo.logs(s, job_id)
            items = await repo.items(s, job_id)
        columns = _columns(job.kind)
        shown = [
            {
                "cells": [_cell(item.data.get(key)) for key, _ in columns],
                "status": item.status,
                "status_label": _item_label(item.status),
                "message": item.message,
            }
            for item in items[:ITEMS_SHOWN]
        ]
        return render(
            request,
            "job.html",
            {
                "nav": "jobs",
                "job": JobRow.of(job),
                "log": [{"at": when(x.at), "level": x.level, "message": x.message} for x in log],
                "headers": [header for _, header in columns],
                "items": shown,
                "item_count": len(items),
                "items_shown": ITEMS_SHOWN,
                "encodings": CSV_ENCODINGS,
            },
        )

    @router.get("/jobs/{job_id}/items.csv", summary="ジョブの処理結果CSV")
    async def job_csv(
        _: Annotated[Principal, view],
        job_id: JobId,
        encoding: Annotated[str, Query(max_length=10)] = "utf-8",
    ) -> Response:
        async with transaction(ctx.services.sessions) as s:
            job = await repo.get_job(s, job_id)
            items = await repo.items(s, job_id)
        body = csvout.render(kind_of(job.kind), items, encoding)
        charset = "shift_jis" if encoding.lower() == "cp932" else "utf-8"
        suffix = "-sjis" if encoding.lower() == "cp932" else ""
        return Response(
            body,
            media_type=f"text/csv; charset={charset}",
            headers={
                "Content-Disposition": f'attachment; filename="job-{job.id}-{job.kind}{suffix}.csv"'
            },
        )


def _item_label(code: str) -> str:
    try:
        return ItemStatus(code).label
    except ValueError:
        return code
