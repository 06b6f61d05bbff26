"""The time-based event `order.deadline_closing`: an order's 取消期限 or 与信期限 closes within
the N days a 自動化設定 rule chose.

Nothing changes on the order when time passes, so the scheduler looks: on every tick, for each
(期限, N) an enabled rule asks for, the orders whose deadline is ahead but within N days (the
very windows of payments.deadlines, which the capability rules and the dashboard use) each
get one event. The event's webhook-id is derived from (order, 期限, its instant, N), so a
second tick, a second scheduler or a restart writes nothing new: one event per order, window
and N, never repeated. A window that moves (a capture starts a new one) is a new window.
"""

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.automation.models import AutomationRule
from kessai.automation.rules import DEADLINES, EventKind
from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.core.upsert import dialect_insert
from kessai.orders.models import Order
from kessai.payments.deadlines import Closing, DeadlineKind, closing_soon
from kessai.webhooks.events import event_row, state_of
from kessai.webhooks.models import Event

if TYPE_CHECKING:
    from kessai.services import Services

TYPE = "order.deadline_closing"
CHUNK = 1000


def uid_of(c: Closing, days: int) -> str:
    key = f"{TYPE}:{c.order_id}:{c.kind.value}:{c.deadline.isoformat()}:{days}"
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def shown(deadline: datetime) -> str:
    t = to_tokyo(deadline)
    return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"


async def wanted(s: AsyncSession) -> list[tuple[DeadlineKind, int]]:
    """The (期限, N) pairs the enabled rules ask for."""
    rules = await s.scalars(select(AutomationRule).where(AutomationRule.enabled.is_(True)))
    pairs = {
        (DeadlineKind(r.event["deadline"]), int(r.event["days"]))
        for r in rules.all()
        if r.event.get("kind") == EventKind.DEADLINE_CLOSING.value
    }
    return sorted(pairs)


async def scan(services: "Services") -> int:
    """Write the events of deadlines that came within a rule's N days; how many are new."""
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        found: list[tuple[Closing, int]] = []
        for kind, days in await wanted(s):
            found += [(c, days) for c in await closing_soon(s, now, timedelta(days=days), kind)]
        if not found:
            return 0
        ids = sorted({c.order_id for c, _ in found})
        orders = {o.id: o for o in (await s.scalars(select(Order).where(Order.id.in_(ids))))}
        # Most candidates had their event on an earlier tick: leave them out before writing.
        uids = [uid_of(c, days) for c, days in found]
        known: set[str] = set()
        for at in range(0, len(uids), CHUNK):
            part = uids[at : at + CHUNK]
            known.update((await s.scalars(select(Event.uid).where(Event.uid.in_(part)))).all())
        rows: list[dict[str, Any]] = []
        for (c, days), uid in zip(found, uids, strict=True):
            if uid in known:
                continue
            order = orders[c.order_id]
            row = event_row(
                TYPE,
                "order",
                order.id,
                now,
                state=state_of("order", order, {}),
                deadline={
                    "kind": c.kind.value,
                    "label": DEADLINES[c.kind.value],
                    "at": c.deadline.isoformat(),
                    "shown": shown(c.deadline),
                    "days": days,
                },
            )
            rows.append(row | {"uid": uid})
        if not rows:
            return 0
        insert = dialect_insert(s, Event).on_conflict_do_nothing(index_elements=["uid"])
        result = await s.execute(insert.returning(Event.id), rows)
        return len(result.all())
