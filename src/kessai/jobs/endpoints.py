"""/api/v1/jobs: ジョブ管理 (status, counts, log) and each job's per-item CSV."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from kessai.core.db import transaction
from kessai.core.errors import InvalidInput
from kessai.jobs import csvout
from kessai.jobs import repository as repo
from kessai.jobs.kinds import kind_of
from kessai.jobs.schemas import JobOut
from kessai.jobs.status import JobStatus
from kessai.orders.schemas import MAX_ID
from kessai.web.deps import OffsetQuery, PrincipalDep, ServicesDep

router = APIRouter(prefix="/api/v1/jobs", tags=["ジョブ管理"])

JobIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="ジョブID")]


@router.get("", summary="ジョブ一覧", response_model=list[JobOut])
async def list_jobs(
    services: ServicesDep,
    _: PrincipalDep,
    kind: str | None = None,
    status: Annotated[str | None, Query(description="queued, running, succeeded, …")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: OffsetQuery = 0,
) -> list[JobOut]:
    if status is not None and status not in {s.value for s in JobStatus}:
        raise InvalidInput(
            f"ジョブの状態「{status}」はありません",
            code="invalid_job_status",
            detail={"allowed": [s.value for s in JobStatus]},
        )
    async with transaction(services.sessions) as s:
        jobs = await repo.list_jobs(s, kind=kind, status=status, limit=limit, offset=offset)
    return [JobOut.of(j) for j in jobs]


@router.get("/{job_id}", summary="ジョブ詳細 (件数・ログ)", response_model=JobOut)
async def get_job(services: ServicesDep, _: PrincipalDep, job_id: JobIdPath) -> JobOut:
    async with transaction(services.sessions) as s:
        job = await repo.get_job(s, job_id)
        log = await repo.logs(s, job_id)
    return JobOut.of(job, log)


@router.get(
    "/{job_id}/items.csv",
    summary="ジョブの処理結果CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def job_csv(
    services: ServicesDep,
    _: PrincipalDep,
    job_id: JobIdPath,
    encoding: Annotated[str, Query(description="utf-8 (BOM付き) または cp932")] = "utf-8",
) -> Response:
    async with transaction(services.sessions) as s:
        job = await repo.get_job(s, job_id)
        items = await repo.items(s, job_id)
    body = csvout.render(kind_of(job.kind), items, encoding)
    charset = "shift_jis" if encoding.lower() == "cp932" else "utf-8"
    filename = f"job-{job.id}-{job.kind}.csv"
    return Response(
        body,
        media_type=f"text/csv; charset={charset}",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
