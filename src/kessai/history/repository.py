"""Writing and reading 変更履歴."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.history.models import ChangeRecord


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
) -> None:
    """One row per field that really changed."""
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


async def list_changes(
    session: AsyncSession, entity: str, entity_id: int
) -> Sequence[ChangeRecord]:
    result = await session.scalars(
        select(ChangeRecord)
        .where(ChangeRecord.entity == entity, ChangeRecord.entity_id == entity_id)
        .order_by(ChangeRecord.id)
    )
    return result.all()
