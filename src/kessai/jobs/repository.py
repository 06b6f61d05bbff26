"""Every query of ジョブ管理 (Core statements: jobs write many rows at once)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.core.errors import NotFound
from kessai.core.upsert import dialect_insert
from kessai.jobs.kinds import ItemResult
from kessai.jobs.models import Job, JobChunk, JobItem, JobLog
from kessai.jobs.status import ChunkStatus, ItemStatus, JobStatus, final_status
from kessai.webhooks.events import emit, event_row, state_of

chunks_t: Table = JobChunk.__table__  # type: ignore[assignment]
logs_t: Table = JobLog.__table__  # type: ignore[assignment]


async def get_job(s: AsyncSession, job_id: int, *, lock: bool = False) -> Job:
    stmt = select(Job).where(Job.id == job_id)
    if lock:
        stmt = stmt.with_for_update()
    job = (await s.execute(stmt)).scalar_one_or_none()
    if job is None:
        raise NotFound(f"ジョブ {job_id} は見つかりませんでした", code="job_not_found")
    return job


async def insert_job(s: AsyncSession, values: dict[str, Any]) -> int | None:
    """The new job's id, or None when a job with the same dedupe_key already exists."""
    stmt = dialect_insert(s, Job).values(**values)
    if values.get("dedupe_key") is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
    row = (await s.execute(stmt.returning(Job.id))).first()
    return None if row is None else int(row[0])


async def kind_busy(s: AsyncSession, kind: str) -> bool:
    """Whether a job of this kind is still waiting or running (a schedule waits for it)."""
    return await busy_job(s, kind) is not None


async def busy_job(s: AsyncSession, kind: str) -> int | None:
    """The id of a job of this kind still waiting or running, if any."""
    found = await s.scalar(
        select(Job.id)
        .where(Job.kind == kind, Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]))
        .order_by(Job.id)
        .limit(1)
    )
    return None if found is None else int(found)


async def job_by_dedupe_key(s: AsyncSession, key: str) -> Job | None:
    return (await s.execute(select(Job).where(Job.dedupe_key == key))).scalar_one_or_none()


async def start(s: AsyncSession, job_id: int, now: datetime) -> bool:
    """待機中 → 実行中; False when planning already ran (a redelivered message)."""
    result = await s.execute(
        update(Job)
        .where(Job.id == job_id, Job.planned_at.is_(None))
        .values(status=JobStatus.RUNNING.value, started_at=func.coalesce(Job.started_at, now))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def add_chunks(
    s: AsyncSession, job_id: int, keys: Sequence[Any], size: int, now: datetime
) -> int:
    rows = [
        {
            "job_id": job_id,
            "seq": n,
            "keys": list(keys[i : i + size]),
            "status": ChunkStatus.PENDING.value,
            "runs": 0,
            "sent_at": now,
        }
        for n, i in enumerate(range(0, len(keys), size))
    ]
    if rows:
        await s.execute(chunks_t.insert(), rows)
    await s.execute(update(Job).where(Job.id == job_id).values(planned_at=now, total=len(keys)))
    return len(rows)


async def pending_chunks(s: AsyncSession, job_id: int) -> list[int]:
    rows = await s.execute(
        select(JobChunk.seq)
        .where(JobChunk.job_id == job_id, JobChunk.status == ChunkStatus.PENDING.value)
        .order_by(JobChunk.seq)
    )
    return [int(r) for r in rows.scalars()]


async def get_chunk(s: AsyncSession, job_id: int, seq: int) -> JobChunk | None:
    return (
        await s.execute(select(JobChunk).where(JobChunk.job_id == job_id, JobChunk.seq == seq))
    ).scalar_one_or_none()


async def count_run(s: AsyncSession, chunk_id: int) -> None:
    await s.execute(update(JobChunk).where(JobChunk.id == chunk_id).values(runs=JobChunk.runs + 1))


async def record_items(
    s: AsyncSession, job_id: int, first_seq: int, results: Sequence[ItemResult], now: datetime
) -> None:
    """Upsert: a chunk run again overwrites its items instead of adding rows."""
    if not results:
        return
    rows = [
        {
            "job_id": job_id,
            "seq": first_seq + i,
            "key": r.key,
            "status": r.status.value,
            "message": r.message,
            "data": r.data,
            "recorded_at": now,
        }
        for i, r in enumerate(results)
    ]
    stmt = dialect_insert(s, JobItem)
    stmt = stmt.on_conflict_do_update(
        index_elements=["job_id", "key"],
        set_={
            "status": stmt.excluded.status,
            "message": stmt.excluded.message,
            "data": stmt.excluded.data,
            "recorded_at": stmt.excluded.recorded_at,
        },
    )
    await s.execute(stmt, rows)


async def finish_chunk(s: AsyncSession, job_id: int, seq: int, now: datetime) -> str | None:
    """Mark the chunk done, refresh the job's counts and, after the last chunk, its status
    (returned then, to the one finisher).

    The job row is locked first so two chunks finishing at once cannot both miss being
    the last one.
    """
    job = await get_job(s, job_id, lock=True)
    await s.execute(
        update(JobChunk)
        .where(JobChunk.job_id == job_id, JobChunk.seq == seq)
        .values(status=ChunkStatus.DONE.value, done_at=now)
    )
    return await refresh(s, job, now)


async def refresh(s: AsyncSession, job: Job, now: datetime) -> str | None:
    """Recount the job's items; set its final status once no chunk is pending (returned)."""
    counts = dict(
        (
            await s.execute(
                select(JobItem.status, func.count())
                .where(JobItem.job_id == job.id)
                .group_by(JobItem.status)
            )
        ).all()
    )
    ok = int(counts.get(ItemStatus.SUCCEEDED.value, 0))
    failed = int(counts.get(ItemStatus.FAILED.value, 0))
    skipped = int(counts.get(ItemStatus.SKIPPED.value, 0))
    values: dict[str, Any] = {
        "processed": ok + failed + skipped,
        "succeeded": ok,
        "failed": failed,
        "skipped": skipped,
    }
    remaining = await s.scalar(
        select(
            exists().where(JobChunk.job_id == job.id, JobChunk.status == ChunkStatus.PENDING.value)
        )
    )
    if job.planned_at is not None and not remaining and job.finished_at is None:
        values["status"] = final_status(ok, failed, skipped).value
        values["finished_at"] = now
        await emit(s, [_finished(job, values, now)])
    await s.execute(update(Job).where(Job.id == job.id).values(**values))
    return values.get("status")


def _finished(job: Job, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The job's event (job.succeeded, job.partially_failed, job.failed), in its outbox."""
    state = state_of("job", job, values)
    return event_row(f"job.{values['status']}", "job", job.id, now, state=state)


async def fail_job(s: AsyncSession, job_id: int, error: str, now: datetime) -> None:
    values = {"status": JobStatus.FAILED.value, "error": error, "finished_at": now}
    failed = await s.execute(
        update(Job)
        .where(Job.id == job_id, Job.finished_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if failed.rowcount == 1:  # type: ignore[attr-defined]
        job = await get_job(s, job_id)
        await emit(s, [_finished(job, values, now)])


async def add_log(s: AsyncSession, job_id: int, level: str, message: str, now: datetime) -> None:
    await s.execute(logs_t.insert().values(job_id=job_id, at=now, level=level, message=message))


async def logs(s: AsyncSession, job_id: int) -> list[JobLog]:
    rows = await s.execute(select(JobLog).where(JobLog.job_id == job_id).order_by(JobLog.id))
    return list(rows.scalars())


async def items(s: AsyncSession, job_id: int) -> list[JobItem]:
    rows = await s.execute(
        select(JobItem).where(JobItem.job_id == job_id).order_by(JobItem.seq, JobItem.id)
    )
    return list(rows.scalars())


async def list_jobs(
    s: AsyncSession, *, kind: str | None, status: str | None, limit: int, offset: int
) -> list[Job]:
    stmt = select(Job).order_by(Job.id.desc()).limit(limit).offset(offset)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    if status:
        stmt = stmt.where(Job.status == status)
    return list((await s.execute(stmt)).scalars())


async def stalled(
    s: AsyncSession, queued_before: datetime, sent_before: datetime
) -> tuple[list[int], list[tuple[int, int]]]:
    """Jobs never planned and chunks never finished, past their grace period."""
    jobs = await s.execute(
        select(Job.id).where(
            Job.planned_at.is_(None), Job.finished_at.is_(None), Job.created_at < queued_before
        )
    )
    chunks = await s.execute(
        select(JobChunk.job_id, JobChunk.seq).where(
            JobChunk.status == ChunkStatus.PENDING.value, JobChunk.sent_at < sent_before
        )
    )
    return [int(j) for j in jobs.scalars()], [(int(a), int(b)) for a, b in chunks.all()]


async def mark_sent(s: AsyncSession, job_id: int, seq: int, now: datetime) -> None:
    await s.execute(
        update(JobChunk).where(JobChunk.job_id == job_id, JobChunk.seq == seq).values(sent_at=now)
    )
