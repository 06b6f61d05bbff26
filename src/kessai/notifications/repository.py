"""The outbox's queries. Sending is claimed and finished by compare-and-set."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.core.upsert import dialect_insert
from kessai.notifications.models import MailStatus, MailTemplate, OutboxMail


async def insert_mail(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """The new mail's id; None when a mail with the same dedupe key already exists."""
    stmt = dialect_insert(session, OutboxMail).values(**values)
    if values.get("dedupe_key") is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = await session.execute(stmt.returning(OutboxMail.id))
    found = result.scalar_one_or_none()
    return None if found is None else int(found)


def _due(now: datetime, lease_before: datetime) -> Any:
    return or_(
        and_(OutboxMail.status == MailStatus.PENDING.value, OutboxMail.next_attempt_at <= now),
        # A sender that died mid-send left its claim: taken over once the lease has passed.
        and_(OutboxMail.status == MailStatus.SENDING.value, OutboxMail.claimed_at < lease_before),
    )


async def due_ids(
    session: AsyncSession, now: datetime, lease_before: datetime, limit: int
) -> list[int]:
    rows = await session.scalars(
        select(OutboxMail.id)
        .where(_due(now, lease_before))
        .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
        .limit(limit)
    )
    return list(rows.all())


async def claim(
    session: AsyncSession, mail_id: int, now: datetime, lease_before: datetime
) -> OutboxMail | None:
    """Take one due mail for sending; None when another sender has it or it is done."""
    result = await session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == mail_id, _due(now, lease_before))
        .values(
            status=MailStatus.SENDING.value,
            claimed_at=now,
            attempts=OutboxMail.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return await session.get(OutboxMail, mail_id, populate_existing=True)


def _still_claimed(mail_id: int, attempt: int) -> tuple[ColumnElement[bool], ...]:
    """The sender's claim (its attempt number) on a mail being sent still holds."""
    return (
        OutboxMail.id == mail_id,
        OutboxMail.status == MailStatus.SENDING.value,
        OutboxMail.attempts == attempt,
    )


async def mark_sent(session: AsyncSession, mail_id: int, attempt: int, at: datetime) -> bool:
    """Sent, if this sender's claim (its attempt number) still holds."""
    result = await session.execute(
        update(OutboxMail)
        .where(*_still_claimed(mail_id, attempt))
        .values(status=MailStatus.SENT.value, sent_at=at, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def release(
    session: AsyncSession, mail_id: int, attempt: int, error: str, retry_at: datetime
) -> bool:
    """Not sent: back to 送信待ち with the error, to be tried again from `retry_at`."""
    result = await session.execute(
        update(OutboxMail)
        .where(*_still_claimed(mail_id, attempt))
        .values(
            status=MailStatus.PENDING.value,
            last_error=error[:2000],
            next_attempt_at=retry_at,
            claimed_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def list_mails(
    session: AsyncSession,
    *,
    status: str | None = None,
    order_id: int | None = None,
    customer_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Sequence[OutboxMail]:
    query = select(OutboxMail)
    if status is not None:
        query = query.where(OutboxMail.status == status)
    if order_id is not None:
        query = query.where(OutboxMail.order_id == order_id)
    if customer_id is not None:
        query = query.where(OutboxMail.customer_id == customer_id)
    rows = await session.scalars(query.order_by(OutboxMail.id.desc()).limit(limit).offset(offset))
    return rows.all()


async def get_template(session: AsyncSession, code: str) -> MailTemplate | None:
    return await session.get(MailTemplate, code, populate_existing=True)


async def list_templates(session: AsyncSession) -> Sequence[MailTemplate]:
    return (await session.scalars(select(MailTemplate).order_by(MailTemplate.code))).all()
