"""What a connector must remember about its own transactions (e.g. GMO's AccessID and
AccessPass, saved before ExecTran so a retry never opens a second transaction).

Each write is committed before the next provider call.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ForeignKey,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.clock import Clock
from kessai.core.db import (
    Base,
    IdType,
    UTCDateTime,
    driver_connection,
    engine_of,
    is_postgres,
    read_only,
)


class ProviderReference(Base):
    __tablename__ = "provider_references"
    __table_args__ = (UniqueConstraint("account_id", "reference"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("provider_accounts.id"))
    reference: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# A reference's data already read in this task: the payment engine reads it in the same
# statement that claims the order for a call, so the connector's first get() for it needs
# no round trip of its own. (account id, reference) → data, None for no row.
_KNOWN: ContextVar[dict[tuple[int, str], dict[str, Any] | None] | None] = ContextVar(
    "kessai_known_references", default=None
)


@contextmanager
def known_reference(account_id: int, reference: str, data: dict[str, Any] | None) -> Iterator[None]:
    """Within the block (this task only), get() of that reference answers `data`, and
    put() keeps it current. Only for a reference no other writer can touch meanwhile: the
    engine's, while its attempt holds the order."""
    token = _KNOWN.set({(account_id, reference): data})
    try:
        yield
    finally:
        _KNOWN.reset(token)


class ReferenceStore:
    """One account's remembered references: get, and merge-in new fields.

    Each call is one statement of its own (committed at once): `put` is an upsert that
    merges the new fields into the row in the database, so concurrent puts on one
    reference never lose each other's fields."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, account_id: int
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.account_id = account_id

    async def get(self, reference: str) -> dict[str, Any] | None:
        known = _KNOWN.get()
        if known is not None and (self.account_id, reference) in known:
            found = known[(self.account_id, reference)]
            return None if found is None else dict(found)
        engine = engine_of(self.sessions)
        data: Any
        if is_postgres(engine):
            async with driver_connection(engine) as conn:
                data = await conn.fetchval(_PG_GET, self.account_id, reference)
        else:
            async with read_only(engine) as conn:
                params = {"account_id": self.account_id, "reference": reference}
                data = (await conn.execute(_GET, params)).scalar()
        return None if data is None else dict(data)

    async def put(self, reference: str, **fields: Any) -> None:
        """Merge `fields` into the reference's data (top-level keys replaced)."""
        now = self.clock.now()
        engine = engine_of(self.sessions)
        known = _KNOWN.get()
        if known is not None and (self.account_id, reference) in known:
            known[(self.account_id, reference)] = {
                **(known[(self.account_id, reference)] or {}),
                **fields,
            }
        if is_postgres(engine):
            async with driver_connection(engine) as conn:
                await conn.execute(_PG_PUT, self.account_id, reference, json.dumps(fields), now)
            return
        params: dict[str, Any] = {
            "account_id": self.account_id,
            "reference": reference,
            "data": fields,
            "now": now,
        }
        params.update({f"v{i}": json.dumps(v) for i, v in enumerate(fields.values())})
        async with engine.begin() as conn:
            await conn.execute(_sqlite_put(tuple(fields)), params)


_REFS = cast(Table, ProviderReference.__table__)
_GET = select(_REFS.c.data).where(
    _REFS.c.account_id == bindparam("account_id"), _REFS.c.reference == bindparam("reference")
)
_PG_GET = "SELECT data FROM provider_references WHERE account_id = $1 AND reference = $2"
# jsonb's || is a top-level merge: {**old, **new}.
_PG_PUT = (
    "INSERT INTO provider_references (account_id, reference, data, created_at, updated_at) "
    "VALUES ($1, $2, $3::json, $4, $4) ON CONFLICT (account_id, reference) DO UPDATE SET "
    "data = (provider_references.data::jsonb || excluded.data::jsonb)::json, "
    "updated_at = excluded.updated_at"
)


@lru_cache(maxsize=32)
def _sqlite_put(keys: tuple[str, ...]) -> Any:
    """The upsert for one set of keys: json_set replaces each top-level key (json_patch
    would merge nested objects and drop nulls)."""
    paths: list[Any] = []
    for i, key in enumerate(keys):
        paths += [literal(f'$."{key}"'), func.json(bindparam(f"v{i}", type_=String))]
    stmt = sqlite_insert(_REFS).values(
        account_id=bindparam("account_id"),
        reference=bindparam("reference"),
        data=bindparam("data", type_=JSON),
        created_at=bindparam("now", type_=_REFS.c.created_at.type),
        updated_at=bindparam("now", type_=_REFS.c.updated_at.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=[_REFS.c.account_id, _REFS.c.reference],
        set_={"data": func.json_set(_REFS.c.data, *paths), "updated_at": stmt.excluded.updated_at},
    )
