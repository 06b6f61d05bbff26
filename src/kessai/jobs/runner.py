"""Planning a job and running its chunks: the same code in-process and in a Dramatiq worker.

Planning fixes the job's items in one transaction (a crash before commit plans again;
a redelivered message after commit only re-sends the chunks). A chunk runs its items,
records them by key (so a second run overwrites, never adds) and marks itself done.
Messages are sent only after the transaction that wrote what they point at commits.
"""

import logging
from collections import Counter
from typing import TYPE_CHECKING

from kessai.core import metrics
from kessai.core.db import transaction
from kessai.core.errors import KessaiError, in_words
from kessai.core.logging import bound
from kessai.jobs import repository as repo
from kessai.jobs.kinds import ItemResult, kind_of
from kessai.jobs.status import ChunkStatus, ItemStatus

if TYPE_CHECKING:
    from kessai.services import Services

log = logging.getLogger("kessai.jobs")

# A chunk that raises is run again (by Dramatiq's retries, or the in-process dispatcher);
# after this many runs its items are reported failed instead.
MAX_CHUNK_RUNS = 4


async def plan_job(services: "Services", job_id: int) -> None:
    with bound(job_id=job_id):  # on every log line of the planning
        await _plan_job(services, job_id)


async def _plan_job(services: "Services", job_id: int) -> None:
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        job = await repo.get_job(s, job_id)
        if job.finished_at is not None:
            return
        fresh = await repo.start(s, job_id, now)
    if not fresh:  # planned before: the chunks may not all have been sent
        await _send_pending(services, job_id)
        return
    kind = kind_of(job.kind)
    try:
        keys = await kind.plan(services, job)
    except KessaiError as exc:  # a refusal the kind words for the operator
        log.warning("job %s planning failed: %s", job_id, exc.code)
        await _fail(services, job_id, exc.message)
        return
    except Exception as exc:
        log.exception("job %s planning failed", job_id)
        await _fail(services, job_id, f"対象の抽出に失敗しました: {in_words(exc)}")
        return
    async with transaction(services.sessions) as s:
        job = await repo.get_job(s, job_id, lock=True)
        if job.planned_at is not None:  # a concurrent planner won
            return
        count = await repo.add_chunks(s, job_id, keys, kind.chunk_size, services.clock.now())
        await repo.add_log(
            s, job_id, "info", f"対象 {len(keys)} 件を {count} 個に分けて処理します", now
        )
        await s.refresh(job)  # planned_at and total, just written
        await repo.refresh(s, job, services.clock.now())
    await _send_pending(services, job_id)


class RetryChunk(Exception):
    """The chunk failed for a reason that may pass (database, network): run it again later."""


async def run_chunk(services: "Services", job_id: int, seq: int) -> None:
    with bound(job_id=job_id):  # on every log line of the chunk, its payments' included
        await _run_chunk(services, job_id, seq)


async def _run_chunk(services: "Services", job_id: int, seq: int) -> None:
    async with transaction(services.sessions) as s:
        job = await repo.get_job(s, job_id)
        chunk = await repo.get_chunk(s, job_id, seq)
        if chunk is None or chunk.status == ChunkStatus.DONE.value:
            return  # run before: nothing to do twice
        await repo.count_run(s, chunk.id)
        kind = kind_of(job.kind)
        keys, first = list(chunk.keys), chunk.seq * kind.chunk_size
        runs, started = chunk.runs + 1, job.started_at
    try:
        results = await kind.run(services, job, keys)
        outcome = "done"
    except Exception as exc:
        log.exception("job %s chunk %s failed (run %s)", job_id, seq, runs)
        reason = in_words(exc)
        if runs < MAX_CHUNK_RUNS:
            metrics.JOB_CHUNKS.labels(kind.kind, "retry").inc()
            await _log(services, job_id, "warning", f"一時的なエラーのため再実行します: {reason}")
            raise RetryChunk(reason) from exc
        # Out of tries: the chunk reports each of its items, so the job still ends and the
        # CSV says which items were not processed.
        message = f"処理中にエラーが発生しました: {reason}"
        results = [ItemResult(str(k), ItemStatus.FAILED, message) for k in keys]
        outcome = "failed"
        await _log(services, job_id, "error", message)
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        # The job row first: the items' foreign keys would otherwise share-lock it and two
        # chunks finishing together would deadlock upgrading to the lock finish_chunk takes.
        await repo.get_job(s, job_id, lock=True)
        await repo.record_items(s, job_id, first, results, now)
        finished = await repo.finish_chunk(s, job_id, seq, now)
    # Counted once the chunk is recorded: a chunk run again after this returns above.
    metrics.JOB_CHUNKS.labels(kind.kind, outcome).inc()
    for status, n in Counter(r.status.value for r in results).items():
        metrics.JOB_ITEMS.labels(kind.kind, status).inc(n)
    if finished is not None and started is not None:
        metrics.JOB_DURATION.labels(kind.kind, finished).observe((now - started).total_seconds())


async def _log(services: "Services", job_id: int, level: str, message: str) -> None:
    async with transaction(services.sessions) as s:
        await repo.add_log(s, job_id, level, message, services.clock.now())


async def _send_pending(services: "Services", job_id: int) -> None:
    async with transaction(services.sessions) as s:
        seqs = await repo.pending_chunks(s, job_id)
    for seq in seqs:
        await services.dispatcher.send_chunk(job_id, seq)


async def _fail(services: "Services", job_id: int, error: str) -> None:
    async with transaction(services.sessions) as s:
        await repo.fail_job(s, job_id, error, services.clock.now())
    await _log(services, job_id, "error", error)


async def resend_stalled(services: "Services", grace_seconds: int = 600) -> int:
    """Re-send what a lost message or a crash between commit and send left waiting.

    Safe because planning and chunks are safe to run twice; the scheduler calls it.
    """
    from datetime import timedelta

    now = services.clock.now()
    before = now - timedelta(seconds=grace_seconds)
    async with transaction(services.sessions) as s:
        jobs, chunks = await repo.stalled(s, before, before)
        for job_id, seq in chunks:
            await repo.mark_sent(s, job_id, seq, now)
    for job_id in jobs:
        await services.dispatcher.send_plan(job_id)
    for job_id, seq in chunks:
        await services.dispatcher.send_chunk(job_id, seq)
    return len(jobs) + len(chunks)
