"""What a connector must remember about its own transactions (e.g. GMO's AccessID and
AccessPass, saved before ExecTran so a retry never opens a second transaction).

Written in its own short transaction, committed before the next provider call.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.clock import Clock
from kessai.core.db import Base, IdType, UTCDateTime, transaction


class ProviderReference(Base):
    __tablename__ = "provider_references"
    __table_args__ = (UniqueConstraint("account_id", "reference"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("provider_accounts.id"))
    reference: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReferenceStore:
    """One account's remembered references: get, and merge-in new fields."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, account_id: int
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.account_id = account_id

    async def get(self, reference: str) -> dict[str, Any] | None:
        async with transaction(self.sessions) as s:
            data = await s.scalar(
                select(ProviderReference.data).where(
                    ProviderReference.account_id == self.account_id,
                    ProviderReference.reference == reference,
                )
            )
        return None if data is None else dict(data)

    async def put(self, reference: str, **fields: Any) -> None:
        """Merge `fields` into the reference's data, in one short transaction."""
        now = self.clock.now()
        where = (
            ProviderReference.account_id == self.account_id,
            ProviderReference.reference == reference,
        )
        try:
            async with transaction(self.sessions) as s:
                current = await s.scalar(select(ProviderReference.data).where(*where))
                if current is None:
                    s.add(
                        ProviderReference(
                            account_id=self.account_id,
                            reference=reference,
                            data=fields,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                else:
                    await s.execute(
                        update(ProviderReference)
                        .where(*where)
                        .values(data={**current, **fields}, updated_at=now)
                    )
        except IntegrityError:  # inserted meanwhile by a concurrent call: merge into it
            await self.put(reference, **fields)
