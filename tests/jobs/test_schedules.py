"""The calendar: a due schedule submits its job once per key, by the (sandbox) clock."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kessai.core.db import transaction
from kessai.jobs.models import Job
from kessai.jobs.schedules import SCHEDULES, Schedule, daily_at, register_schedule, tick
from kessai.services import Services
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


async def _jobs(services: Services, kind: str = "test_squares") -> list[Job]:
    async with transaction(services.sessions) as s:
        rows = await s.execute(select(Job).where(Job.kind == kind).order_by(Job.id))
        return list(rows.scalars())


def _tokyo(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=9)


async def test_due_schedule_submits_once_per_day(services: Services, five_am: Schedule):
    services.clock.set_now(_tokyo(2026, 12, 1, 4, 59))
    await tick(services)
    assert await _jobs(services) == []
    services.clock.set_now(_tokyo(2026, 12, 1, 5, 0))
    await tick(services)
    assert len(await _jobs(services)) == 1
    services.clock.set_now(_tokyo(2026, 12, 1, 23, 0))
    await tick(services)
    assert len(await _jobs(services)) == 1  # same day: the dedupe key holds
    await services.dispatcher.drain()
    services.clock.set_now(_tokyo(2026, 12, 2, 6, 0))
    await tick(services)
    await services.dispatcher.drain()
    jobs = await _jobs(services)
    assert [j.dedupe_key for j in jobs] == ["test_squares:2026-12-01", "test_squares:2026-12-02"]
    assert all(j.status == "succeeded" and j.created_by == "scheduler" for j in jobs)


async def test_two_schedulers_ticking_at_once_make_one_job(services: Services, five_am: Schedule):
    import asyncio

    services.clock.set_now(_tokyo(2026, 12, 1, 5, 30))
    created = await asyncio.gather(tick(services), tick(services), tick(services))
    await services.dispatcher.drain()
    jobs = await _jobs(services)
    assert len(jobs) == 1
    assert sum(c.count(jobs[0].id) for c in created) == 1  # one tick created it


async def test_a_broken_schedule_does_not_stop_the_others(services: Services, five_am: Schedule):
    async def broken(_s: Services, _now: datetime) -> str | None:
        raise RuntimeError("calendar unreadable")

    register_schedule(Schedule(name="壊れた予定", kind="test_squares", due=broken))
    try:
        services.clock.set_now(_tokyo(2026, 12, 1, 5, 30))
        await tick(services)
        assert len(await _jobs(services)) == 1
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
        listed = (await api.get("/api/v1/jobs", params={"kind": "test_squares"})).json()
        assert listed[0]["status_label"] == "完了"


async def test_the_calendar_bills_daily_and_reauthorizes_on_shipping_days(services: Services):
    """The installation's own calendar: 00:10 billing every day, 再オーソリ at 05:00 weekdays."""
    services.clock.set_now(_tokyo(2026, 12, 5, 0, 5))  # a Saturday, before 00:10
    await tick(services)
    assert await _jobs(services, "billing") == []
    services.clock.set_now(_tokyo(2026, 12, 5, 6, 0))  # Saturday 06:00: billing, no 再オーソリ
    await tick(services)
    await services.dispatcher.drain()
    assert [j.dedupe_key for j in await _jobs(services, "billing")] == ["billing:2026-12-05"]
    assert await _jobs(services, "reauthorization") == []
    services.clock.set_now(_tokyo(2026, 12, 7, 5, 0))  # Monday 05:00
    await tick(services)
    await services.dispatcher.drain()
    reauth = await _jobs(services, "reauthorization")
    assert [j.dedupe_key for j in reauth] == ["reauthorization:2026-12-07"]
    assert [j.name for j in reauth] == ["再オーソリバッチ"]
