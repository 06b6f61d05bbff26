"""A simulator's records in kessai's own database, so a restart keeps them as a real provider
would (its transactions, members and stored cards).

One row per record: (simulator, kind, key) → JSON. A simulator keeps its working copy in
memory and writes each record it changed after the call that changed it; at start it reads
them all back. Card data is never stored: a simulator keeps what the provider would show
(first six and last four digits).
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, String, Table, UniqueConstraint, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.clock import utcnow
from kessai.core.db import Base, IdType, UTCDateTime, transaction
from kessai.core.upsert import dialect_insert


class SimulatorRecord(Base):
    __tablename__ = "simulator_records"
    __table_args__ = (UniqueConstraint("simulator", "kind", "key"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    simulator: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


_RECORDS = cast(Table, SimulatorRecord.__table__)


class SimulatorStore:
    """One simulator's records. Each write is its own committed transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], simulator: str) -> None:
        self.sessions = sessions
        self.simulator = simulator

    async def load(self) -> dict[str, dict[str, dict[str, Any]]]:
        """kind → key → data, everything this simulator wrote."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        async with transaction(self.sessions) as s:
            rows = await s.execute(
                select(_RECORDS.c.kind, _RECORDS.c.key, _RECORDS.c.data)
                .where(_RECORDS.c.simulator == self.simulator)
                .order_by(_RECORDS.c.id)
            )
            for kind, key, data in rows:
                out.setdefault(kind, {})[key] = dict(data)
        return out

    async def put(self, records: Mapping[tuple[str, str], dict[str, Any] | None]) -> None:
        """Write (kind, key) → data; None deletes the record."""
        if not records:
            return
        now = utcnow()
        async with transaction(self.sessions) as s:
            for (kind, key), data in records.items():
                where = (
                    (_RECORDS.c.simulator == self.simulator)
                    & (_RECORDS.c.kind == kind)
                    & (_RECORDS.c.key == key)
                )
                if data is None:
                    await s.execute(delete(_RECORDS).where(where))
                    continue
                stmt = dialect_insert(s, SimulatorRecord).values(
                    simulator=self.simulator, kind=kind, key=key, data=data, updated_at=now
                )
                await s.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["simulator", "kind", "key"],
                        set_={"data": stmt.excluded.data, "updated_at": now},
                    )
                )

    async def clear(self) -> None:
        async with transaction(self.sessions) as s:
            await s.execute(delete(_RECORDS).where(_RECORDS.c.simulator == self.simulator))
