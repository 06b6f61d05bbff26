"""ジョブ管理: a job plans its items, runs them in chunks, counts them and writes its CSV.

A toy kind squares numbers so the runner is tested without any domain: it records how
often each item really ran, which is how "a chunk run twice is harmless" is checked.
"""

import asyncio
from typing import Any

import pytest

from kessai.core.db import transaction
from kessai.jobs import repository as repo
from kessai.jobs import runner
from kessai.jobs.kinds import KINDS, register
from kessai.jobs.models import Job
from kessai.jobs.service import submit
from kessai.jobs.status import JobStatus
from kessai.services import Services
from tests.jobs.toy_kinds import Squares
from tests.web.conftest import client_for, new_key


@pytest.fixture
def squares() -> Any:
    kind = Squares()
    register(kind)
    yield kind
    KINDS.pop(kind.kind, None)


async def _job(services: Services, job_id: int) -> Job:
    async with transaction(services.sessions) as s:
        return await repo.get_job(s, job_id)


async def test_job_runs_every_item_once_and_counts_them(services: Services, squares: Squares):
    job, new = await submit(services, "test_squares", created_by="admin:山田", params={"count": 10})
    assert new
    assert job.status == JobStatus.QUEUED.value
    await services.dispatcher.drain()
    done = await _job(services, job.id)
    assert (done.total, done.processed) == (10, 10)
    assert (done.succeeded, done.failed, done.skipped) == (7, 2, 1)
    assert done.status == JobStatus.PARTIALLY_FAILED.value
    assert done.finished_at is not None
    assert done.started_at is not None
    assert set(squares.ran) == set(range(1, 11))
    assert max(squares.ran.values()) == 1


async def test_all_succeeded_is_complete_and_empty_job_finishes(
    services: Services, squares: Squares
):
    job, _ = await submit(services, "test_squares", created_by="t", params={"count": 4})
    empty, _ = await submit(services, "test_squares", created_by="t", params={"count": 0})
    await services.dispatcher.drain()
    assert (await _job(services, job.id)).status == JobStatus.SUCCEEDED.value
    finished = await _job(services, empty.id)
    assert finished.status == JobStatus.SUCCEEDED.value
    assert finished.total == 0


async def test_chunk_and_plan_run_twice_change_nothing(services: Services, squares: Squares):
    job, _ = await submit(services, "test_squares", created_by="t", params={"count": 6})
    await services.dispatcher.drain()
    before = await _job(services, job.id)
    # A redelivered message: the same plan and the same chunk again.
    await runner.plan_job(services, job.id)
    await runner.run_chunk(services, job.id, 0)
    await services.dispatcher.drain()
    after = await _job(services, job.id)
    assert (after.total, after.processed, after.succeeded) == (
        before.total,
        before.processed,
        before.succeeded,
    )
    assert max(squares.ran.values()) == 1
    async with transaction(services.sessions) as s:
        assert len(await repo.items(s, job.id)) == 6


async def test_chunk_rerun_after_crash_before_done_overwrites_items(
    services: Services, squares: Squares
):
    """A worker that died after recording but before marking the chunk done."""
    job, _ = await submit(services, "test_squares", created_by="t", params={"count": 3})
    await services.dispatcher.drain()
    async with transaction(services.sessions) as s:
        chunk = await repo.get_chunk(s, job.id, 0)
        assert chunk is not None
        chunk.status = "pending"
    await runner.run_chunk(services, job.id, 0)
    async with transaction(services.sessions) as s:
        items = await repo.items(s, job.id)
    assert [i.key for i in items] == ["1", "2", "3"]
    assert (await _job(services, job.id)).processed == 3


async def test_concurrent_chunks_finish_the_job_exactly_once(services: Services, squares: Squares):
    squares.chunk_size = 1
    job, _ = await submit(services, "test_squares", created_by="t", params={"count": 8})
    await services.dispatcher.drain()
    done = await _job(services, job.id)
    assert done.status != JobStatus.RUNNING.value
    assert done.processed == 8


async def test_a_chunk_that_fails_once_is_run_again(services: Services, squares: Squares):
    services.dispatcher.retry_pause = 0.01  # type: ignore[attr-defined]
    squares.broken_chunk_with, squares.breaks = 4, 1  # the second chunk fails its first run
    job, _ = await submit(services, "test_squares", created_by="t", params={"count": 6})
    await services.dispatcher.drain()
    done = await _job(services, job.id)
    assert (done.status, done.succeeded, done.failed) == (JobStatus.PARTIALLY_FAILED.value, 5, 1)
    async with transaction(services.sessions) as s:
        logs = await repo.logs(s, job.id)
        runs = (await repo.get_chunk(s, job.id, 1)).runs  # type: ignore[union-attr]
    assert runs == 2
    assert any("一時的なエラーのため再実行します" in log.message for log in logs)


async def test_a_chunk_that_crashes_reports_its_items_as_failed(
    services: Services, squares: Squares
):
    services.dispatcher.retry_pause = 0.01  # type: ignore[attr-defined]
    squares.broken_chunk_with = 4  # the second chunk (4, 5, 6) fails every run
    job, _ = await submit(services, "test_squares", created_by="t", params={"count": 6})
    await services.dispatcher.drain()
    done = await _job(services, job.id)
    assert done.status == JobStatus.PARTIALLY_FAILED.value
    assert (done.succeeded, done.failed) == (3, 3)
    async with transaction(services.sessions) as s:
        items = {i.key: i for i in await repo.items(s, job.id)}
        logs = await repo.logs(s, job.id)
    # Told in words: the driver's message (SQL and parameters) stays in the server's log.
    assert "データベースでエラーが発生しました" in items["4"].message
    assert any(log.level == "error" for log in logs)
    async with client_for(services, await new_key(services)) as api:
        shown = (await api.get(f"/api/v1/jobs/{job.id}")).text
        csv = (await api.get(f"/api/v1/jobs/{job.id}/items.csv")).text
    for text in (shown, csv, *(item.message for item in items.values())):
        assert "SELECT" not in text
        assert "no_such_table" not in text


async def test_a_plan_that_crashes_fails_the_job_with_the_reason(
    services: Services, squares: Squares
):
    job, _ = await submit(services, "test_squares", created_by="t", params={})  # no count
    await services.dispatcher.drain()
    failed = await _job(services, job.id)
    assert failed.status == JobStatus.FAILED.value
    assert failed.error is not None
    assert "対象の抽出に失敗しました" in failed.error


async def test_same_dedupe_key_makes_one_job(services: Services, squares: Squares):
    results = await asyncio.gather(
        *(
            submit(services, "test_squares", created_by="t", params={"count": 2}, dedupe_key="d1")
            for _ in range(3)
        )
    )
    assert len({job.id for job, _ in results}) == 1
    assert sum(new for _, new in results) == 1
    await services.dispatcher.drain()
    assert max(squares.ran.values()) == 1


async def test_stalled_plan_is_sent_again(services: Services, squares: Squares):
    """A crash between commit and send: the scheduler's sweep sends it later."""
    sent: list[int] = []

    async def lost(job_id: int) -> None:
        sent.append(job_id)

    real = services.dispatcher.send_plan
    services.dispatcher.send_plan = lost  # type: ignore[method-assign]
    job, _ = await submit(services, "test_squares", created_by="t", params={"count": 2})
    services.dispatcher.send_plan = real  # type: ignore[method-assign]
    assert sent == [job.id]
    assert (await _job(services, job.id)).status == "queued"
    assert await runner.resend_stalled(services, grace_seconds=3600) == 0  # still in grace
    from datetime import timedelta

    services.clock.advance(timedelta(hours=2))
    assert await runner.resend_stalled(services, grace_seconds=3600) == 1
    await services.dispatcher.drain()
    assert (await _job(services, job.id)).status == JobStatus.SUCCEEDED.value


async def test_api_shows_job_and_csv_in_both_encodings(services: Services, squares: Squares):
    job, _ = await submit(services, "test_squares", created_by="t", params={"count": 7})
    await services.dispatcher.drain()
    async with client_for(services, await new_key(services)) as api:
        listed = (await api.get("/api/v1/jobs")).json()
        assert [j["id"] for j in listed] == [job.id]
        detail = (await api.get(f"/api/v1/jobs/{job.id}")).json()
        assert detail["status_label"] == "一部失敗"
        assert (detail["succeeded"], detail["failed"], detail["skipped"]) == (5, 1, 1)
        assert any("7 件" in line["message"] for line in detail["log"])
        r = await api.get(detail["csv_url"])
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        assert r.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
        lines = r.content.decode("utf-8-sig").splitlines()
        assert lines[0] == "数,二乗,結果,メッセージ"
        assert lines[1] == "1,1,成功,"
        assert lines[5] == "5,,失敗,5の倍数は扱えません"
        assert lines[7] == "7,,対象外,対象外"
        sjis = await api.get(detail["csv_url"], params={"encoding": "cp932"})
        assert sjis.content.decode("cp932").splitlines()[0] == "数,二乗,結果,メッセージ"
        bad = await api.get(detail["csv_url"], params={"encoding": "latin1"})
        assert bad.status_code == 422
        assert bad.json()["code"] == "invalid_encoding"
        assert (await api.get("/api/v1/jobs/999")).json()["code"] == "job_not_found"
        assert (await api.get("/api/v1/jobs", params={"status": "x"})).status_code == 422
