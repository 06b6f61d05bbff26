"""The queries of the payment engine: load an order with its method, write attempts, CAS."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.errors import NotFound
from kessai.history.repository import record_changes
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt

# The order fields whose every change goes to 変更履歴.
TRACKED_FIELDS = (
    "payment_status",
    "handling_status",
    "amount",
    "tax",
    "shipped_on",
    "tracking_number",
    "carrier",
    "shipment_count",
)


async def load_order(
    session: AsyncSession, order_id: int
) -> tuple[Order, PaymentMethod, ProviderAccount | None]:
    row = (
        await session.execute(
            select(Order, PaymentMethod, ProviderAccount)
            .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
            .outerjoin(ProviderAccount, ProviderAccount.id == PaymentMethod.account_id)
            .where(Order.id == order_id)
            # PostgreSQL: hold the order's row for the unit of work, so the attempt read next
            # is the one the row points to (READ COMMITTED would show it settled meanwhile).
            # SQLite's BEGIN IMMEDIATE already serializes every writer.
            .with_for_update(of=Order)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"受注が見つかりませんでした (id: {order_id})", code="order_not_found")
    return row[0], row[1], row[2]


async def get_attempt(session: AsyncSession, attempt_id: int) -> PaymentAttempt:
    attempt = await session.get(PaymentAttempt, attempt_id, populate_existing=True)
    if attempt is None:
        raise NotFound(f"決済履歴が見つかりませんでした (id: {attempt_id})")
    return attempt


async def add_attempt(session: AsyncSession, **values: Any) -> int:
    result = await session.execute(
        insert(PaymentAttempt).values(**values).returning(PaymentAttempt.id)
    )
    return int(result.scalar_one())


async def complete_attempt(session: AsyncSession, attempt_id: int, **values: Any) -> None:
    await session.execute(
        update(PaymentAttempt).where(PaymentAttempt.id == attempt_id).values(**values)
    )


async def compare_and_set(
    session: AsyncSession,
    order: Order,
    values: dict[str, Any],
    *,
    actor: str,
    at: datetime,
    reason: str | None,
) -> bool:
    """Write `values` only if nobody changed the order since it was read; log 変更履歴."""
    result = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.version == order.version)
        .values(**values, version=order.version + 1, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    changes = {
        name: (getattr(order, name), values[name]) for name in TRACKED_FIELDS if name in values
    }
    await record_changes(
        session,
        entity="order",
        entity_id=order.id,
        changes=changes,
        actor=actor,
        at=at,
        reason=reason,
    )
    return True


async def list_attempts(session: AsyncSession, order_id: int) -> Sequence[PaymentAttempt]:
    result = await session.scalars(
        select(PaymentAttempt)
        .where(PaymentAttempt.order_id == order_id)
        .order_by(PaymentAttempt.id)
    )
    return result.all()
