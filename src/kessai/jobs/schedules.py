"""What runs by the calendar: daily billing, 再オーソリ on shipping days, the monthly 洗替 steps.

A schedule answers, for a moment in Asia/Tokyo, the dedupe key of the run that is due
(e.g. "billing:2026-11-22") or None. `tick` submits every due run; the key makes a second
tick, a second scheduler or a restart find the job already there. Time is the services'
clock, so moving the sandbox clock runs what became due.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from kessai.core.clock import to_tokyo

if TYPE_CHECKING:
    from kessai.services import Services

log = logging.getLogger("kessai.jobs")

SCHEDULER_ACTOR = "scheduler"


@dataclass(frozen=True)
class Schedule:
    name: str  # shown in logs, e.g. 「定期受注 一括決済 (毎日)」
    kind: str  # the job kind it submits
    # The dedupe key of the run due at this Tokyo moment, or None when nothing is due.
    due: Callable[["Services", datetime], Awaitable[str | None]]
    params: Callable[[datetime], dict[str, Any]] = field(default=lambda _now: {})


SCHEDULES: dict[str, Schedule] = {}
# Work done on every tick that is no job of its own (e.g. the events time alone makes).
TICK_STEPS: dict[str, Callable[["Services"], Awaitable[object]]] = {}


def register_schedule(schedule: Schedule) -> Schedule:
    SCHEDULES[schedule.name] = schedule
    return schedule


def daily_at(kind: str, at: time) -> Callable[["Services", datetime], Awaitable[str | None]]:
    """Due once a day from `at` (Tokyo) on: the key is `<kind>:<date>`."""

    async def due(_services: "Services", now: datetime) -> str | None:
        return f"{kind}:{now.date().isoformat()}" if now.time() >= at else None

    return due


async def tick(services: "Services") -> list[int]:
    """Submit every due run (ids of jobs created now) and re-send stalled work."""
    from kessai.jobs.runner import resend_stalled
    from kessai.jobs.service import submit
    from kessai.notifications.delivery import deliver_pending

    await services.load_clock()  # the API may have moved the sandbox clock
    now = to_tokyo(services.clock.now())
    created: list[int] = []
    for schedule in list(SCHEDULES.values()):
        try:
            key = await schedule.due(services, now)
            if key is None:
                continue
            job, new = await submit(
                services,
                schedule.kind,
                created_by=SCHEDULER_ACTOR,
                params=schedule.params(now),
                dedupe_key=key,
            )
        except Exception:  # one broken schedule must not stop the others
            log.exception("schedule %s failed", schedule.name)
            continue
        if new:
            log.info("scheduled %s: job %s (%s)", schedule.name, job.id, key)
            created.append(job.id)
    for name, step in list(TICK_STEPS.items()):
        try:
            await step(services)
        except Exception:  # like a schedule: one broken step must not stop the rest
            log.exception("tick step %s failed", name)
    await resend_stalled(services)
    try:
        await deliver_pending(services)  # mails whose first send failed, when due again
    except Exception:
        log.exception("mail delivery failed")
    await _webhooks(services)
    return created


async def _webhooks(services: "Services") -> None:
    """Relay and send what the serving processes left (none running, or a crash)."""
    from kessai.webhooks.delivery import Sender, pump

    sender = Sender(services)
    try:
        while (await pump(services, sender)).busy:
            pass
    except Exception:
        log.exception("webhook delivery failed")
    finally:
        await sender.aclose()


async def run_scheduler(services: "Services", interval_seconds: float) -> None:
    """Tick every few seconds until cancelled (APScheduler keeps the beat)."""
    import asyncio

    from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

    scheduler = AsyncIOScheduler(timezone="Asia/Tokyo")
    scheduler.add_job(
        tick,
        "interval",
        args=[services],
        seconds=interval_seconds,
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now().astimezone(),
    )
    scheduler.start()
    try:
        await asyncio.Event().wait()
    finally:
        scheduler.shutdown(wait=False)
