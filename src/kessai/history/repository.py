"""Writing and reading 変更履歴."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.history.models import ChangeRecord
from kessai.webhooks.events import SNAPSHOT_FIELDS, emit, event_row, state_of


def _text(value: object) -> str | None:
    return None if value is None else str(value)


async def record_changes(
    session: AsyncSession,
    *,
    entity: str,
    entity_id: int,
    changes: dict[str, tuple[object, object]],
    actor: str,
    at: datetime,
    reason: str | None = None,
    event_type: str | None = None,
    state: dict[str, Any] | None = None,
    payment: dict[str, Any] | None = None,
) -> None:
    """One row per field that really changed, and for an order or a 定期受注 the event of
    the change (`event_type`, by default `<entity>.updated` when something changed) in the
    outbox; `state` is the entity after the change."""
    rows = [
        {
            "entity": entity,
            "entity_id": entity_id,
            "field": name,
            "before": _text(before),
            "after": _text(after),
            "actor": actor,
            "reason": reason,
            "created_at": at,
        }
        for name, (before, after) in changes.items()
        if before != after
    ]
    if rows:
        await session.execute(insert(ChangeRecord), rows)
    if entity in SNAPSHOT_FIELDS and (rows or event_type):
        row = event_row(
            event_type or f"{entity}.updated",
            entity,
            entity_id,
            at,
            state=state or {},
            changes=[(n, b, a) for n, (b, a) in changes.items() if b != a],
            reason=reason,
            actor=actor,
            payment=payment,
        )
        await emit(session, [row])


async def list_changes(
    session: AsyncSession, entity: str, entity_id: int
) -> Sequence[ChangeRecord]:
    result = await session.scalars(
        select(ChangeRecord)
        .where(ChangeRecord.entity == entity, ChangeRecord.entity_id == entity_id)
        .order_by(ChangeRecord.id)
    )
    return result.all()


async def compare_and_set(
    session: AsyncSession,
    row: Any,
    values: dict[str, Any],
    *,
    entity: str,
    tracked: Sequence[str],
    actor: str,
    at: datetime,
    reason: str | None,
    event_type: str | None = None,
    payment: dict[str, Any] | None = None,
) -> bool:
    """Write `values` only if nobody changed `row` (an entity with id, version and
    updated_at) since it was read, and log the `tracked` fields that changed in 変更履歴
    (with the change's event: record_changes)."""
    model: Any = type(row)
    result = await session.execute(
        update(model)
        .where(model.id == row.id, model.version == row.version)
        .values(**values, version=row.version + 1, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    changes = {name: (getattr(row, name), values[name]) for name in tracked if name in values}
    state = state_of(entity, row, values)
    await record_changes(
        session,
        entity=entity,
        entity_id=row.id,
        changes=changes,
        actor=actor,
        at=at,
        reason=reason,
        event_type=event_type,
        state=state,
        payment=payment,
    )
    return True
