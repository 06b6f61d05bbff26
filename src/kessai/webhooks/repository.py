"""The webhook queries: relaying events to deliveries, finding what is due, claiming it by
compare-and-set and recording each try."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, exists, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kessai.core.upsert import dialect_insert
from kessai.webhooks.models import (
    DeliveryStatus,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

# One relay at a time (PostgreSQL): two relays could hand a subject's later event to an
# endpoint before its earlier one. SQLite's single writer serializes them already.
RELAY_LOCK = 0x6B77_6831  # "kwh1"


def wants(event_types: Sequence[str], type_: str) -> bool:
    """An endpoint's filter: empty takes every event; `order.*` every order event."""
    if not event_types:
        return True
    prefix = type_.split(".", 1)[0]
    return type_ in event_types or f"{prefix}.*" in event_types


@dataclass(frozen=True)
class Relayed:
    events: list[Event]
    deliveries: int


async def relay(session: AsyncSession, now: datetime, limit: int) -> Relayed:
    """Hand the events not yet relayed to every enabled endpoint that wants them (one
    delivery each) and mark them relayed; in the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        locked = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": RELAY_LOCK}
        )
        if not locked:
            return Relayed([], 0)
    events = list(
        (
            await session.scalars(
                select(Event).where(Event.relayed.is_(False)).order_by(Event.id).limit(limit)
            )
        ).all()
    )
    if not events:
        return Relayed([], 0)
    endpoints = (
        await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
                WebhookEndpoint.enabled.is_(True)
            )
        )
    ).all()
    rows = [
        {
            "event_id": e.id,
            "endpoint_id": endpoint_id,
            "subject": e.subject,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for e in events
        for endpoint_id, types in endpoints
        if wants(types or [], e.type)
    ]
    if rows:
        stmt = dialect_insert(session, WebhookDelivery).on_conflict_do_nothing(
            index_elements=["event_id", "endpoint_id"]
        )
        await session.execute(stmt, rows)
    await session.execute(
        update(Event)
        .where(Event.id.in_([e.id for e in events]))
        .values(relayed=True)
        .execution_options(synchronize_session=False)
    )
    return Relayed(events, len(rows))


def _due(now: datetime, lease_before: datetime) -> Any:
    d = WebhookDelivery
    return or_(
        and_(d.status == DeliveryStatus.PENDING.value, d.next_attempt_at <= now),
        # A sender that died mid-send left its claim: taken over once the lease has passed.
        and_(d.status == DeliveryStatus.SENDING.value, d.claimed_at < lease_before),
    )


async def due_ids(
    session: AsyncSession, now: datetime, lease_before: datetime, limit: int
) -> list[int]:
    """Deliveries due now to enabled endpoints, each only when no earlier event of its
    subject still waits for the same endpoint (events arrive in order per order)."""
    d, earlier = WebhookDelivery, aliased(WebhookDelivery)
    waiting = exists().where(
        earlier.endpoint_id == d.endpoint_id,
        earlier.subject == d.subject,
        earlier.event_id < d.event_id,
        earlier.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]),
    )
    rows = await session.scalars(
        select(d.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == d.endpoint_id)
        .where(_due(now, lease_before), WebhookEndpoint.enabled.is_(True), ~waiting)
        .order_by(d.id)
        .limit(limit)
    )
    return list(rows.all())


async def claim(
    session: AsyncSession, ids: list[int], now: datetime, lease_before: datetime
) -> list[tuple[int, int]]:
    """Take due deliveries for sending: (id, attempt number) of those this sender won."""
    if not ids:
        return []
    d = WebhookDelivery
    result = await session.execute(
        update(d)
        .where(d.id.in_(ids), _due(now, lease_before))
        .values(status=DeliveryStatus.SENDING.value, claimed_at=now, attempts=d.attempts + 1)
        .returning(d.id, d.attempts)
        .execution_options(synchronize_session=False)
    )
    return [(int(i), int(n)) for i, n in result.all()]


@dataclass(frozen=True)
class Outgoing:
    """What one claimed delivery sends."""

    delivery_id: int
    attempt: int
    endpoint_id: int
    url: str
    secrets: tuple[str, ...]  # sealed: the current secret, then the previous one in overlap
    msg_id: str
    type: str
    data: dict[str, Any]
    created_at: datetime


async def outgoing(
    session: AsyncSession, claimed: list[tuple[int, int]], now: datetime
) -> list[Outgoing]:
    if not claimed:
        return []
    attempts = dict(claimed)
    d, e, w = WebhookDelivery, Event, WebhookEndpoint
    rows = await session.execute(
        select(
            d.id,
            w.id,
            w.url,
            w.secret,
            w.previous_secret,
            w.previous_until,
            e.uid,
            e.type,
            e.data,
            e.created_at,
        )
        .join(e, e.id == d.event_id)
        .join(w, w.id == d.endpoint_id)
        .where(d.id.in_(list(attempts)))
        .order_by(d.id)
    )
    out = []
    for did, wid, url, secret, previous, until, uid, type_, data, created in rows.all():
        sealed = (
            (secret,) if previous is None or until is None or until <= now else (secret, previous)
        )
        out.append(Outgoing(did, attempts[did], wid, url, sealed, uid, type_, data, created))
    return out


_DELIVERIES = cast(Table, WebhookDelivery.__table__)
FINISHED = ("status", "next_attempt_at", "delivered_at", "last_status_code", "last_error")
_FINISH = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id == bindparam("_id"),
        _DELIVERIES.c.status == DeliveryStatus.SENDING.value,
        _DELIVERIES.c.attempts == bindparam("_attempt"),
    )
    .values(claimed_at=None, **{n: bindparam(f"v_{n}") for n in FINISHED})
)


async def finish(session: AsyncSession, rows: list[tuple[int, int, dict[str, Any]]]) -> None:
    """Each claimed try's outcome (delivery id, attempt, FINISHED values) on its delivery,
    where the sender's claim still holds; one batched statement."""
    if rows:
        params = [
            {"_id": i, "_attempt": n, **{f"v_{k}": v[k] for k in FINISHED}} for i, n, v in rows
        ]
        await session.execute(_FINISH, params)


async def log_attempts(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(WebhookAttempt.__table__.insert(), rows)  # type: ignore[attr-defined]


async def disable(session: AsyncSession, endpoint_id: int, reason: str, now: datetime) -> None:
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )


# ------------------------------------------------------------------ reading
async def get_endpoint(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint | None:
    return await session.get(WebhookEndpoint, endpoint_id, populate_existing=True)


async def list_endpoints(session: AsyncSession) -> Sequence[WebhookEndpoint]:
    return (await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))).all()


async def get_delivery(
    session: AsyncSession, delivery_id: int
) -> tuple[WebhookDelivery, Event] | None:
    row = (
        await session.execute(
            select(WebhookDelivery, Event)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def list_deliveries(
    session: AsyncSession,
    *,
    endpoint_id: int | None,
    status: str | None,
    subject: str | None,
    limit: int,
    offset: int,
) -> Sequence[tuple[WebhookDelivery, Event]]:
    query = select(WebhookDelivery, Event).join(Event, Event.id == WebhookDelivery.event_id)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if subject is not None:
        query = query.where(WebhookDelivery.subject == subject)
    rows = await session.execute(
        query.order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset)
    )
    return [(d, e) for d, e in rows.all()]


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[int]
) -> dict[int, list[WebhookAttempt]]:
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return found
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(list(delivery_ids)))
        .order_by(WebhookAttempt.id)
    )
    for a in rows.all():
        found[a.delivery_id].append(a)
    return found


async def list_events(
    session: AsyncSession, *, subject: str | None, limit: int, offset: int
) -> Sequence[Event]:
    query = select(Event)
    if subject is not None:
        query = query.where(Event.subject == subject)
    return (
        await session.scalars(query.order_by(Event.id.desc()).limit(limit).offset(offset))
    ).all()


async def set_delivery(session: AsyncSession, delivery_id: int, values: dict[str, Any]) -> None:
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
