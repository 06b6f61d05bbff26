"""The calendar: a due schedule submits its job once per key, by the (sandbox) clock."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kessai.core.db import transaction
from kessai.core.services import Services
from kessai.jobs.models import Job
from kessai.jobs.schedules import SCHEDULES, Schedule, daily_at, register_schedule, tick
from tests.jobs.test_jobs import Squares, squares  # noqa: F401  (the toy kind fixture)
from tests.web.conftest import client_for, new_key


@pytest.fixture
def five_am(squares: Squares) -> Any:  # noqa: F811
    schedule = register_schedule(
        Schedule(
            name="テスト: 毎朝5時",
            kind=squares.kind,
            due=daily_at(squares.kind, time(5, 0)),
            params=lambda now: {"count": 2},
        )
    )
    yield schedule
    SCHEDULES.pop(schedule.name, None)


async def _jobs(services: Services) -> list[Job]:
    async with transaction(services.sessions) as s:
        return list((await s.execute(select(Job).order_by(Job.id))).scalars())


def _tokyo(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=9)


async def test_due_schedule_submits_once_per_day(services: Services, five_am: Schedule):
    services.clock.set_now(_tokyo(2026, 12, 1, 4, 59))
    assert await tick(services) == []
    services.clock.set_now(_tokyo(2026, 12, 1, 5, 0))
    first = await tick(services)
    assert len(first) == 1
    services.clock.set_now(_tokyo(2026, 12, 1, 23, 0))
    assert await tick(services) == []  # same day: the dedupe key holds
    await services.dispatcher.drain()
    services.clock.set_now(_tokyo(2026, 12, 2, 6, 0))
    assert len(await tick(services)) == 1
    await services.dispatcher.drain()
    jobs = await _jobs(services)
    assert [j.dedupe_key for j in jobs] == ["test_squares:2026-12-01", "test_squares:2026-12-02"]
    assert all(j.status == "succeeded" and j.created_by == "scheduler" for j in jobs)


async def test_two_schedulers_ticking_at_once_make_one_job(services: Services, five_am: Schedule):
    import asyncio

    services.clock.set_now(_tokyo(2026, 12, 1, 5, 30))
    created = await asyncio.gather(tick(services), tick(services), tick(services))
    assert sum(len(c) for c in created) == 1
    await services.dispatcher.drain()
    assert len(await _jobs(services)) == 1


async def test_a_broken_schedule_does_not_stop_the_others(services: Services, five_am: Schedule):
    async def broken(_s: Services, _now: datetime) -> str | None:
        raise RuntimeError("calendar unreadable")

    register_schedule(Schedule(name="壊れた予定", kind="test_squares", due=broken))
    try:
        services.clock.set_now(_tokyo(2026, 12, 1, 5, 30))
        assert len(await tick(services)) == 1
    finally:
        SCHEDULES.pop("壊れた予定", None)
    await services.dispatcher.drain()


async def test_moving_the_sandbox_clock_runs_what_became_due(services: Services, five_am: Schedule):
    services.clock.set_now(_tokyo(2026, 12, 1, 4, 0))
    await services.save_clock()
    async with client_for(services, await new_key(services)) as api:
        assert await _jobs(services) == []
        r = await api.post("/api/v1/sandbox/clock", json={"advance_seconds": 3 * 3600})
        assert r.status_code == 200, r.text
        await services.dispatcher.drain()
        jobs = await _jobs(services)
        assert [j.dedupe_key for j in jobs] == ["test_squares:2026-12-01"]
        listed = (await api.get("/api/v1/jobs")).json()
        assert listed[0]["status_label"] == "完了"
