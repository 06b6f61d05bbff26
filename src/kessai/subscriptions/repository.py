"""Every query of 定期受注; the billing run's are Core statements over a whole chunk."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.errors import NotFound
from kessai.customers.models import Customer, CustomerCard
from kessai.customers.updater import NOT_CHECKED
from kessai.history import repository as history
from kessai.history.repository import record_changes
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt
from kessai.payments.status import PaymentStatus
from kessai.subscriptions.models import Subscription
from kessai.subscriptions.status import SubscriptionStatus

subs_t: Table = Subscription.__table__  # type: ignore[assignment]
orders_t: Table = Order.__table__  # type: ignore[assignment]
attempts_t: Table = PaymentAttempt.__table__  # type: ignore[assignment]

ENTITY = "subscription"  # 変更履歴 entity name
# Every change of these goes to 変更履歴.
TRACKED_FIELDS = (
    "status",
    "card_id",
    "cycle_kind",
    "cycle_interval",
    "cycle_day",
    "next_ship_on",
    "next_delivery_on",
)


@dataclass(frozen=True)
class SubscriptionView:
    subscription: Subscription
    customer: Customer
    method: PaymentMethod
    card: CustomerCard | None


def _view_query() -> Any:
    return (
        select(Subscription, Customer, PaymentMethod, CustomerCard)
        .join(Customer, Customer.id == Subscription.customer_id)
        .join(PaymentMethod, PaymentMethod.id == Subscription.payment_method_id)
        .outerjoin(CustomerCard, CustomerCard.id == Subscription.card_id)
    )


def not_found(subscription_id: int) -> NotFound:
    return NotFound(
        f"定期受注が見つかりませんでした (id: {subscription_id})",
        code="subscription_not_found",
    )


async def get_view(s: AsyncSession, subscription_id: int) -> SubscriptionView:
    row = (
        await s.execute(
            _view_query()
            .where(Subscription.id == subscription_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        raise not_found(subscription_id)
    return SubscriptionView(*row)


@dataclass(frozen=True)
class SubscriptionSearch:
    status: SubscriptionStatus | None = None
    updater_result: str | None = None  # "0"-"3" or NOT_CHECKED
    # The card's last 洗替 in [from, to) (the dashboard's month).
    updater_checked_from: datetime | None = None
    updater_checked_to: datetime | None = None
    customer_id: int | None = None
    next_ship_from: date | None = None
    next_ship_to: date | None = None
    limit: int = 50
    offset: int = 0


async def search(s: AsyncSession, q: SubscriptionSearch) -> tuple[Sequence[SubscriptionView], int]:
    conds: list[Any] = []
    if q.status is not None:
        conds.append(Subscription.status == q.status.value)
    if q.updater_result == NOT_CHECKED:
        conds.append(CustomerCard.updater_result.is_(None))
    elif q.updater_result is not None:
        conds.append(CustomerCard.updater_result == q.updater_result)
    if q.updater_checked_from is not None:
        conds.append(CustomerCard.updater_checked_at >= q.updater_checked_from)
    if q.updater_checked_to is not None:
        conds.append(CustomerCard.updater_checked_at < q.updater_checked_to)
    if q.customer_id is not None:
        conds.append(Subscription.customer_id == q.customer_id)
    if q.next_ship_from is not None:
        conds.append(Subscription.next_ship_on >= q.next_ship_from)
    if q.next_ship_to is not None:
        conds.append(Subscription.next_ship_on <= q.next_ship_to)
    total = await s.scalar(
        select(func.count())
        .select_from(Subscription)
        .outerjoin(CustomerCard, CustomerCard.id == Subscription.card_id)
        .where(*conds)
    )
    rows = await s.execute(
        _view_query().where(*conds).order_by(Subscription.id.desc()).limit(q.limit).offset(q.offset)
    )
    return [SubscriptionView(*r) for r in rows.all()], int(total or 0)


async def child_orders(s: AsyncSession, subscription_id: int) -> Sequence[Order]:
    rows = await s.scalars(
        select(Order)
        .where(Order.subscription_id == subscription_id)
        .order_by(Order.subscription_cycle.desc(), Order.id.desc())
    )
    return rows.all()


async def latest_child_order(s: AsyncSession, subscription_id: int) -> Order | None:
    return await s.scalar(
        select(Order)
        .where(Order.subscription_id == subscription_id)
        .order_by(Order.subscription_cycle.desc(), Order.id.desc())
        .limit(1)
    )


async def number_taken(s: AsyncSession, number: str) -> bool:
    return await s.scalar(select(Subscription.id).where(Subscription.number == number)) is not None


async def insert(s: AsyncSession, sub: Subscription) -> bool:
    """Insert in a savepoint; False when the number was taken meanwhile."""
    try:
        async with s.begin_nested():
            s.add(sub)
            await s.flush()
    except IntegrityError:
        return False
    return True


async def compare_and_set(
    s: AsyncSession,
    sub: Subscription,
    values: dict[str, Any],
    *,
    actor: str,
    at: datetime,
    reason: str | None = None,
) -> bool:
    """Write `values` if nobody changed the subscription since it was read; 変更履歴 too."""
    return await history.compare_and_set(
        s,
        sub,
        values,
        entity=ENTITY,
        tracked=TRACKED_FIELDS,
        actor=actor,
        at=at,
        reason=reason,
    )


async def active_on_card(s: AsyncSession, customer_id: int, card_id: int) -> Sequence[Subscription]:
    """Subscriptions still to be billed with a card (キャンセル ones keep their history)."""
    rows = await s.scalars(
        select(Subscription)
        .where(
            Subscription.customer_id == customer_id,
            Subscription.card_id == card_id,
            Subscription.status != SubscriptionStatus.CANCELED.value,
        )
        .order_by(Subscription.id)
        .execution_options(populate_existing=True)
    )
    return rows.all()


# ---------------------------------------------------------------- billing run (Core)


async def due(s: AsyncSession, today: date) -> list[tuple[int, int]]:
    """(id, cycle) of every 有効 subscription shipping on or before `today`."""
    rows = await s.execute(
        select(subs_t.c.id, subs_t.c.cycle)
        .where(
            subs_t.c.status == SubscriptionStatus.ACTIVE.value,
            subs_t.c.next_ship_on <= today,
        )
        .order_by(subs_t.c.id)
    )
    return [(int(i), int(c)) for i, c in rows.all()]


_BILLING_COLUMNS = (
    subs_t.c.id,
    subs_t.c.number,
    subs_t.c.status,
    subs_t.c.cycle,
    subs_t.c.version,
    subs_t.c.cycle_kind,
    subs_t.c.cycle_interval,
    subs_t.c.cycle_day,
    subs_t.c.next_ship_on,
    subs_t.c.next_delivery_on,
    subs_t.c.customer_id,
    subs_t.c.payment_method_id,
    subs_t.c.amount,
    subs_t.c.tax,
    subs_t.c.card_id,
    Customer.name.label("customer_name"),
    PaymentMethod.enabled.label("method_enabled"),
    PaymentMethod.name.label("method_name"),
    PaymentMethod.account_id.label("method_account_id"),
    ProviderAccount.integration.label("account_integration"),
    ProviderAccount.connector.label("account_connector"),
    CustomerCard.member_id,
    CustomerCard.card_seq,
    CustomerCard.account_id.label("card_account_id"),
    CustomerCard.deleted_at.label("card_deleted_at"),
    CustomerCard.updater_result,
)


async def billing_rows(s: AsyncSession, ids: Sequence[int]) -> dict[int, Any]:
    """One row per subscription with what billing needs of its customer, method and card."""
    rows = await s.execute(
        select(*_BILLING_COLUMNS)
        .select_from(subs_t)
        .join(Customer.__table__, Customer.id == subs_t.c.customer_id)
        .join(PaymentMethod.__table__, PaymentMethod.id == subs_t.c.payment_method_id)
        .outerjoin(ProviderAccount.__table__, ProviderAccount.id == PaymentMethod.account_id)
        .outerjoin(CustomerCard.__table__, CustomerCard.id == subs_t.c.card_id)
        .where(subs_t.c.id.in_(list(ids)))
    )
    return {int(r.id): r for r in rows.all()}


@dataclass(frozen=True)
class Claim:
    """Take cycle `cycle + 1` of a subscription read at (cycle, version)."""

    id: int
    cycle: int
    version: int
    next_ship_on: date
    next_delivery_on: date | None


_CLAIM = (
    update(subs_t)
    .where(
        subs_t.c.id == bindparam("b_id"),
        subs_t.c.cycle == bindparam("b_cycle"),
        subs_t.c.version == bindparam("b_version"),
        subs_t.c.status == SubscriptionStatus.ACTIVE.value,
        subs_t.c.next_ship_on <= bindparam("b_today"),
    )
    .values(
        cycle=subs_t.c.cycle + 1,
        version=subs_t.c.version + 1,
        next_ship_on=bindparam("b_ship"),
        next_delivery_on=bindparam("b_delivery"),
        updated_at=bindparam("b_now"),
    )
)


async def claim(s: AsyncSession, claims: Sequence[Claim], today: date, now: datetime) -> set[int]:
    """Take the next cycle of each subscription still as it was read; the ids now past it.

    One executemany of a conditional UPDATE (WHERE id, cycle and version are still what
    was read, and it is still 有効 and due): a subscription changed meanwhile (another run
    took the cycle, an operator edited it) is not touched; on PostgreSQL a concurrent claim
    waits for the row, then finds the condition false. An id returned past its cycle was
    taken by this transaction or by a run that committed its child order with it.
    """
    if not claims:
        return set()
    await s.execute(
        _CLAIM,
        [
            {
                "b_id": c.id,
                "b_cycle": c.cycle,
                "b_version": c.version,
                "b_today": today,
                "b_ship": c.next_ship_on,
                "b_delivery": c.next_delivery_on,
                "b_now": now,
            }
            for c in claims
        ],
    )
    expected = {c.id: c.cycle for c in claims}
    rows = await s.execute(
        select(subs_t.c.id, subs_t.c.cycle).where(subs_t.c.id.in_(list(expected)))
    )
    return {int(i) for i, cycle in rows.all() if cycle > expected[int(i)]}


async def insert_child_orders(s: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """The cycle's child orders; one already there (same subscription and cycle) stays."""
    if rows:
        # executemany of one cached statement (batched into multi-row VALUES by the driver
        # layer): a multi-row .values() would be compiled afresh for every chunk.
        await s.execute(_insert_orders(s), rows)


def _insert_orders(s: AsyncSession) -> Any:
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(orders_t).on_conflict_do_nothing()


@dataclass(frozen=True)
class ChildState:
    order_id: int
    number: str
    amount: int
    payment_status: str
    in_flight_attempt_id: int | None


async def child_states(
    s: AsyncSession, pairs: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], ChildState]:
    """The child orders of (subscription, cycle) pairs, as they are now."""
    if not pairs:
        return {}
    wanted = set(pairs)
    rows = await s.execute(
        select(*_CHILD_COLUMNS, orders_t.c.subscription_id, orders_t.c.subscription_cycle).where(
            orders_t.c.subscription_id.in_({sid for sid, _ in wanted}),
            orders_t.c.subscription_cycle.in_({cyc for _, cyc in wanted}),
        )
    )
    out = {}
    for r in rows.all():
        key = (int(r.subscription_id), int(r.subscription_cycle))
        if key in wanted:
            out[key] = _child_state(r)
    return out


async def child_state(s: AsyncSession, order_id: int) -> ChildState:
    r = (await s.execute(select(*_CHILD_COLUMNS).where(orders_t.c.id == order_id))).one()
    return _child_state(r)


_CHILD_COLUMNS = (
    orders_t.c.id,
    orders_t.c.number,
    orders_t.c.amount,
    orders_t.c.payment_status,
    orders_t.c.in_flight_attempt_id,
)


def _child_state(r: Any) -> ChildState:
    return ChildState(int(r.id), r.number, int(r.amount), r.payment_status, r.in_flight_attempt_id)


async def record_created(s: AsyncSession, sub: Subscription, *, actor: str, at: datetime) -> None:
    await record_changes(
        s,
        entity=ENTITY,
        entity_id=sub.id,
        changes={"status": (None, sub.status)},
        actor=actor,
        at=at,
        reason="定期受注を登録しました",
        event_type="subscription.created",
        state={
            "number": sub.number,
            "status": sub.status,
            "amount": sub.amount,
            "next_ship_on": sub.next_ship_on,
            "customer_id": sub.customer_id,
        },
    )


async def statuses(s: AsyncSession, order_ids: Sequence[int]) -> dict[int, str]:
    if not order_ids:
        return {}
    rows = await s.execute(
        select(orders_t.c.id, orders_t.c.payment_status).where(orders_t.c.id.in_(list(order_ids)))
    )
    return {int(i): st for i, st in rows.all()}


async def last_refusal(s: AsyncSession, order_id: int) -> tuple[str | None, str | None, str | None]:
    """(provider code, provider message, note) of the order's last declined or refused call."""
    row = (
        await s.execute(
            select(attempts_t.c.provider_code, attempts_t.c.provider_message, attempts_t.c.note)
            .where(
                attempts_t.c.order_id == order_id,
                attempts_t.c.outcome.in_(("declined", "not_sent")),
            )
            .order_by(attempts_t.c.id.desc())
            .limit(1)
        )
    ).one_or_none()
    return (None, None, None) if row is None else (row[0], row[1], row[2])


async def uncharged(s: AsyncSession) -> list[tuple[int, int]]:
    """(id, cycle - 1) of 有効 subscriptions whose latest child order was never paid.

    The cycle was taken by a run that stopped before charging (or whose call is still in
    flight): any later run picks it up again instead of leaving it behind.
    """
    rows = await s.execute(
        select(subs_t.c.id, subs_t.c.cycle)
        .join(
            orders_t,
            (orders_t.c.subscription_id == subs_t.c.id)
            & (orders_t.c.subscription_cycle == subs_t.c.cycle),
        )
        .where(
            subs_t.c.status == SubscriptionStatus.ACTIVE.value,
            orders_t.c.payment_status == PaymentStatus.PENDING.value,
        )
    )
    return [(int(i), int(c) - 1) for i, c in rows.all()]


async def accounts(s: AsyncSession, account_ids: set[int]) -> dict[int, ProviderAccount]:
    if not account_ids:
        return {}
    rows = await s.scalars(select(ProviderAccount).where(ProviderAccount.id.in_(account_ids)))
    return {a.id: a for a in rows.all()}
