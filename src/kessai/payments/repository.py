"""The queries of the payment engine: load an order with its method, write attempts, CAS."""

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import JSON, Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.db import driver_connection, is_postgres
from kessai.core.errors import NotFound
from kessai.customers.models import Customer
from kessai.history import repository as history
from kessai.history.models import ChangeRecord
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt
from kessai.providers.store import ProviderReference
from kessai.webhooks.events import data_text, emit, event_row, state_of

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
    payment: dict[str, Any] | None = None,
) -> bool:
    """Write `values` only if nobody changed the order since it was read; log 変更履歴 and
    the event (payment.<outcome> when `payment` says what a provider call did)."""
    return await history.compare_and_set(
        session,
        order,
        values,
        entity="order",
        tracked=TRACKED_FIELDS,
        actor=actor,
        at=at,
        reason=reason,
        event_type=None if payment is None else f"payment.{payment['outcome']}",
        payment=payment,
    )


def order_event(
    order: Order,
    values: dict[str, Any],
    changes: list["Change"],
    *,
    actor: str,
    at: datetime,
    reason: str,
    payment: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The outbox row of a hot-path write (as compare_and_set would write it): the payment's
    event when `payment` is given, else order.updated when something tracked changed."""
    if payment is None and not changes:
        return None
    return event_row(
        "order.updated" if payment is None else f"payment.{payment['outcome']}",
        "order",
        order.id,
        at,
        state=state_of("order", order, values),
        changes=[(c.field, c.before, c.after) for c in changes],
        reason=reason,
        actor=actor,
        payment=payment,
    )


async def list_attempts(session: AsyncSession, order_id: int) -> Sequence[PaymentAttempt]:
    result = await session.scalars(
        select(PaymentAttempt)
        .where(PaymentAttempt.order_id == order_id)
        .order_by(PaymentAttempt.id)
    )
    return result.all()


# ---------------------------------------------------------------------------- hot path
# The engine's common case (an order nobody holds, a provider call) runs as three
# statements: load, write-ahead, settle. On PostgreSQL each is one statement on the
# driver connection (atomic on its own, committed before the next step: the write-ahead
# is durable before the provider is called); on SQLite the same steps run as separate
# Core statements inside one BEGIN IMMEDIATE transaction each. Either way the order is
# written only by compare-and-set on its version, so two writers cannot both win.

_ORDERS = cast(Table, Order.__table__)
_METHODS = cast(Table, PaymentMethod.__table__)
_ACCOUNTS = cast(Table, ProviderAccount.__table__)
_CUSTOMERS = cast(Table, Customer.__table__)
_ATTEMPTS = cast(Table, PaymentAttempt.__table__)
_CHANGES = cast(Table, ChangeRecord.__table__)
_REFERENCES = cast(Table, ProviderReference.__table__)
_LOADED: tuple[tuple[type[Any], Table], ...] = (
    (Order, _ORDERS),
    (PaymentMethod, _METHODS),
    (ProviderAccount, _ACCOUNTS),
    (Customer, _CUSTOMERS),
)
for _cls, _table in _LOADED:
    # Rows are turned into instances by column name: each attribute is named as its column.
    assert all(c.key == c.name for c in _table.columns), _cls


@dataclass(frozen=True)
class Loaded:
    """An order with what deciding and answering need: its method, account and customer."""

    order: Order
    method: PaymentMethod
    account: ProviderAccount | None
    customer: Customer


@dataclass(frozen=True)
class Claim:
    """A written-ahead attempt, and the provider reference's data as the claim found it."""

    attempt_id: int
    stored: dict[str, Any] | None


@dataclass(frozen=True)
class Seen:
    """An order as a hot-path step read or wrote it, and the versions of its rows then:
    the order's, its method's, account's and customer's (PostgreSQL's xmin, new on every
    update of a row). None where the backend has no such versions (SQLite)."""

    loaded: Loaded
    versions: tuple[int, int, int, int] | None


# Orders remembered per process (a few KB each); the oldest are forgotten first.
SEEN_ENTRIES = 1024


class SeenOrders:
    """The orders this process's hot path last wrote, as written: the next action on one
    needs no load, since its write-ahead then writes only if none of the rows changed
    (HotPath.write_ahead's `unchanged`). An entry is taken by the action that uses it."""

    def __init__(self, size: int = SEEN_ENTRIES) -> None:
        self.size = size
        self._entries: dict[int, Seen] = {}

    def take(self, order_id: int) -> Seen | None:
        return self._entries.pop(order_id, None)

    def put(self, seen: Seen) -> None:
        if seen.versions is None:
            return
        entries = self._entries
        entries.pop(seen.loaded.order.id, None)
        if len(entries) >= self.size:
            del entries[next(iter(entries))]
        entries[seen.loaded.order.id] = seen


@dataclass(frozen=True)
class Change:
    """One 変更履歴 row's field, before and after, as text."""

    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class WriteAhead:
    """One order's write-ahead (HotPath.write_ahead's arguments), for a batch of them."""

    order: Order
    values: dict[str, Any]
    attempt: dict[str, Any]
    changes: list[Change]
    stored: tuple[int, str] | None
    actor: str
    at: datetime
    reason: str
    event: dict[str, Any] | None = None  # its outbox row (webhooks.events.event_row)


@dataclass(frozen=True)
class Settle:
    """One order's settle (HotPath.settle's arguments), for a batch of them."""

    order: Order
    attempt_id: int
    attempt: dict[str, Any]
    values: dict[str, Any]
    changes: list[Change]
    actor: str
    at: datetime
    reason: str
    event: dict[str, Any] | None = None  # its outbox row (webhooks.events.event_row)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def changes_of(order: Order, values: dict[str, Any]) -> list[Change]:
    """The tracked fields that `values` really changes (compare_and_set's rule)."""
    return [
        Change(name, _text(getattr(order, name)), _text(values[name]))
        for name in TRACKED_FIELDS
        if name in values and getattr(order, name) != values[name]
    ]


_T = TypeVar("_T")


def _instance(cls: type[_T], values: dict[str, Any]) -> _T:
    """A detached instance holding `values` (every column): what a SELECT would load,
    without the ORM's per-row bookkeeping."""
    obj: _T = cls._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    obj.__dict__.update(values)
    return obj


def with_values(order: Order, values: dict[str, Any]) -> Order:
    """The order as it is after `values` were written over it by compare-and-set."""
    columns = {c.name: getattr(order, c.name) for c in _ORDERS.columns}
    return _instance(Order, {**columns, **values})


# (class, column names, first and past-last position in the joined row)
_SLICES: list[tuple[type[Any], list[str], int, int]] = []
for _cls, _table in _LOADED:
    _start = _SLICES[-1][3] if _SLICES else 0
    _SLICES.append((_cls, [c.name for c in _table.columns], _start, _start + len(_table.columns)))


def _loaded(row: Sequence[Any]) -> Loaded:
    parts: list[Any] = []
    for cls, names, start, end in _SLICES:
        values = dict(zip(names, row[start:end], strict=True))
        parts.append(None if values["id"] is None else _instance(cls, values))
    return Loaded(*parts)


_ORDER_NAMES = [c.name for c in _ORDERS.columns]


def _not_found(order_id: int) -> NotFound:
    return NotFound(f"受注が見つかりませんでした (id: {order_id})", code="order_not_found")


class HotPath(Protocol):
    """The three statements of a provider call on an order nobody holds."""

    async def load(self, order_id: int) -> Loaded: ...

    async def read(self, order_id: int) -> Seen:
        """load, with the rows' versions."""
        ...

    async def write_ahead(self, w: WriteAhead, unchanged: Seen | None = None) -> "Claim | None":
        """Insert the attempt and claim the order for it (compare-and-set on the order's
        version, `values` + in_flight_attempt_id); None when the order changed meanwhile
        (nothing is written then). `stored` (account id, reference): the provider reference
        whose data to read too. `unchanged`: the order was not read now but remembered;
        claim it only if none of its rows (order, method, account, customer) changed since."""
        ...

    async def settle(self, t: Settle) -> tuple[Order, int | None] | None:
        """Complete the attempt; write `values` if the order is still as claimed (its
        version, held by this attempt) and return it as written, with its row's new version
        (None where the backend has none); None otherwise."""
        ...

    async def load_many(self, order_ids: Sequence[int]) -> dict[int, Loaded]:
        """The orders found, by id."""
        ...

    async def write_ahead_many(self, items: Sequence[WriteAhead]) -> dict[int, Claim]:
        """write_ahead for each item, all committed together; the claims won, by order id."""
        ...

    async def settle_many(self, items: Sequence[Settle]) -> dict[int, Order]:
        """settle for each item, all committed together; the orders written, by id."""
        ...


async def read_seen(session: AsyncSession, order_id: int) -> Seen:
    """HotPath.read inside a session's transaction: an order written there is read with the
    versions its rows keep once the transaction commits."""
    conn = await session.connection()
    if conn.dialect.name != "postgresql":
        return await _CoreHotPath(conn).read(order_id)
    pooled = await conn.get_raw_connection()
    return await _PgHotPath(pooled.driver_connection).read(order_id)


@asynccontextmanager
async def hot_path(engine: AsyncEngine) -> AsyncIterator[HotPath]:
    """The hot path's statements for one step; leaving with an error undoes what SQLite's
    transaction wrote (PostgreSQL's statements are each atomic)."""
    if is_postgres(engine):
        async with driver_connection(engine) as conn:
            yield _PgHotPath(conn)
    else:
        async with engine.begin() as conn:
            yield _CoreHotPath(conn)


# --- PostgreSQL: one statement per step on the driver connection ----------------------

_PG_TYPES = {
    table.name: {
        c.name: str(c.type.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
        for c in table.columns
    }
    for table in (_ORDERS, _ATTEMPTS)
}
_JSON_COLUMNS = {
    table.name: frozenset(c.name for c in table.columns if isinstance(c.type, JSON))
    for table in (_ORDERS, _ATTEMPTS)
}


def _pg_values(table: Table, values: dict[str, Any]) -> list[Any]:
    # The dialect's asyncpg codecs take JSON as text.
    json_columns = _JSON_COLUMNS[table.name]
    return [json.dumps(v) if n in json_columns and v is not None else v for n, v in values.items()]


def _pg_history(first: int) -> str:
    """The 変更履歴 rows of one order update (CTE `u`): parameters first … first+4 are the
    actor, the reason and the arrays of fields, befores and afters."""
    actor, reason, fields, befores, afters = (f"${first + i}" for i in range(5))
    return (
        "h AS (INSERT INTO change_history "  # noqa: S608 - column names from the models, values as $n
        "(entity, entity_id, field, before, after, actor, reason, created_at) "
        f"SELECT 'order', u.id, c.field, c.before, c.after, {actor}, {reason}, u.updated_at "
        f"FROM u, unnest({fields}::text[], {befores}::text[], {afters}::text[]) "
        "AS c(field, before, after)) "
    )


def _pg_event(first: int) -> str:
    """The change's event in the outbox (CTE `u`'s row): parameters first … first+3 are its
    uid, type, subject and data (JSON text)."""
    uid, type_, subject, data = (f"${first + i}" for i in range(4))
    return (
        "e AS (INSERT INTO events (uid, type, subject, data, created_at, relayed) "  # noqa: S608 - parameter numbers only
        f"SELECT {uid}, {type_}, {subject}, {data}::json, u.updated_at, false FROM u) "
    )


def _pg_event_values(event: dict[str, Any] | None) -> list[Any]:
    if event is None:
        return []
    return [event["uid"], event["type"], event["subject"], data_text(event)]


def _pg_history_values(changes: list[Change], actor: str, reason: str) -> list[Any]:
    if not changes:
        return []
    return [
        actor,
        reason,
        [c.field for c in changes],
        [c.before for c in changes],
        [c.after for c in changes],
    ]


def _pg_sets(names: tuple[str, ...], first: int) -> str:
    return ", ".join(
        [*(f"{n} = ${first + i}" for i, n in enumerate(names)), "version = version + 1"]
    )


_PG_COLUMNS = ", ".join(
    f"{alias}.{c.name}"
    for alias, (_, table) in zip("omac", _LOADED, strict=True)
    for c in table.columns
)
_PG_LOAD_FROM = (
    f"SELECT {_PG_COLUMNS} FROM orders o "  # noqa: S608 - column names from the models, values as $n
    "JOIN payment_methods m ON m.id = o.payment_method_id "
    "LEFT JOIN provider_accounts a ON a.id = m.account_id "
    "JOIN customers c ON c.id = o.customer_id "
)
_PG_LOAD = _PG_LOAD_FROM + "WHERE o.id = $1"
_PG_LOAD_MANY = _PG_LOAD_FROM + "WHERE o.id = ANY($1::bigint[])"
_PG_READ = (
    f"SELECT {_PG_COLUMNS}, o.xmin, m.xmin, a.xmin, c.xmin FROM orders o "  # noqa: S608 - column names from the models, values as $n
    "JOIN payment_methods m ON m.id = o.payment_method_id "
    "LEFT JOIN provider_accounts a ON a.id = m.account_id "
    "JOIN customers c ON c.id = o.customer_id WHERE o.id = $1"
)
_PG_ORDER_COLUMNS = ", ".join(c.name for c in _ORDERS.columns)
_ATTEMPT_SENT = ("operation", "amount", "reference", "outcome", "actor", "created_at", "request")


@lru_cache(maxsize=64)
def _pg_write_ahead(
    names: tuple[str, ...], history: bool, event: bool, *, unchanged: bool = False
) -> str:
    """$1 order, $2 version, $3 now, $4 account, $5 reference, then `names`' values, the
    attempt's (_ATTEMPT_SENT), with `history` the 変更履歴's (_pg_history), with `event` the
    outbox row's (_pg_event) and, with `unchanged`, the rows' versions (_pg_unchanged)."""
    first_attempt = 6 + len(names)
    first_event = first_attempt + len(_ATTEMPT_SENT) + (5 if history else 0)
    first_guard = first_event + (4 if event else 0)
    guard = _pg_unchanged(first_guard) if unchanged else ""
    types = _PG_TYPES["payment_attempts"]
    selected = ", ".join(f"${first_attempt + i}::{types[n]}" for i, n in enumerate(_ATTEMPT_SENT))
    return (
        # nextval is volatile: the CTE runs once, so both uses see one id.
        "WITH n AS (SELECT nextval('payment_attempts_id_seq'::regclass) AS id), "  # noqa: S608 - column names from the models, values as $n
        f"u AS (UPDATE orders SET {_pg_sets(names, 6)}, "
        "in_flight_attempt_id = (SELECT id FROM n), updated_at = $3 "
        f"WHERE id = $1 AND version = $2{guard} RETURNING id, updated_at), "
        f"a AS (INSERT INTO payment_attempts (id, order_id, {', '.join(_ATTEMPT_SENT)}) "
        f"SELECT n.id, u.id, {selected} FROM n, u RETURNING id, order_id)"
        f"{', ' + _pg_history(first_attempt + len(_ATTEMPT_SENT)) if history else ' '}"
        f"{', ' + _pg_event(first_event) if event else ' '}"
        "SELECT a.id, (SELECT r.data FROM provider_references r "
        "WHERE r.account_id = $4 AND r.reference = $5), a.order_id FROM a"
    )


def _pg_unchanged(first: int) -> str:
    """The order's row, its method's, account's and customer's are the versions seen
    (xmin: every update of a row, whoever makes it, gives the row a new one): parameters
    first … first+4 are the order's xmin, the method's, the account's id and xmin, the
    customer's xmin."""
    order, method, account, account_version, customer = (f"${first + i}" for i in range(5))
    return (
        f" AND xmin = {order}::xid"  # noqa: S608 - parameter numbers only, values as $n
        " AND EXISTS (SELECT FROM payment_methods m "
        f"WHERE m.id = orders.payment_method_id AND m.xmin = {method}::xid)"
        " AND EXISTS (SELECT FROM provider_accounts a "
        f"WHERE a.id = {account}::bigint AND a.xmin = {account_version}::xid)"
        " AND EXISTS (SELECT FROM customers c "
        f"WHERE c.id = orders.customer_id AND c.xmin = {customer}::xid)"
    )


def _pg_write_ahead_sql(w: WriteAhead) -> str:
    return _pg_write_ahead(tuple(w.values), bool(w.changes), w.event is not None)


def _pg_settle_sql(t: Settle) -> str:
    return _pg_settle(tuple(t.attempt), tuple(t.values), bool(t.changes), t.event is not None)


@lru_cache(maxsize=64)
def _pg_settle(
    completed: tuple[str, ...],
    names: tuple[str, ...],
    history: bool,
    event: bool,
    *,
    seen: bool = False,
) -> str:
    """$1 order, $2 version, $3 attempt, $4 now, then `completed`' values (the attempt's),
    `names`' (the order's), with `history` the 変更履歴's (_pg_history) and with `event` the
    outbox row's (_pg_event). With `seen`, the order row's xmin follows its columns."""
    first_order = 5 + len(completed)
    first_event = first_order + len(names) + (5 if history else 0)
    sets = ", ".join(f"{n} = ${5 + i}" for i, n in enumerate(completed))
    returned = f"{_PG_ORDER_COLUMNS}, xmin" if seen else _PG_ORDER_COLUMNS
    return (
        f"WITH a AS (UPDATE payment_attempts SET {sets} WHERE id = $3), "  # noqa: S608 - column names from the models, values as $n
        f"u AS (UPDATE orders SET {_pg_sets(names, first_order)}, updated_at = $4 "
        "WHERE id = $1 AND version = $2 AND in_flight_attempt_id = $3 "
        f"RETURNING {returned}) "
        f"{', ' + _pg_history(first_order + len(names)) if history else ' '}"
        f"{', ' + _pg_event(first_event) if event else ' '}"
        f"SELECT {returned} FROM u"
    )


def _pg_write_ahead_args(w: WriteAhead) -> list[Any]:
    account_id, reference = w.stored or (None, None)
    return [
        w.order.id,
        w.order.version,
        w.at,
        account_id,
        reference,
        *_pg_values(_ORDERS, w.values),
        *_pg_values(_ATTEMPTS, {n: w.attempt[n] for n in _ATTEMPT_SENT}),
        *_pg_history_values(w.changes, w.actor, w.reason),
        *_pg_event_values(w.event),
    ]


def _pg_settle_args(t: Settle) -> list[Any]:
    return [
        t.order.id,
        t.order.version,
        t.attempt_id,
        t.at,
        *_pg_values(_ATTEMPTS, t.attempt),
        *_pg_values(_ORDERS, t.values),
        *_pg_history_values(t.changes, t.actor, t.reason),
        *_pg_event_values(t.event),
    ]


def _claim(row: Sequence[Any]) -> Claim:
    return Claim(int(row[0]), None if row[1] is None else dict(row[1]))


def _order(row: Sequence[Any]) -> Order:
    return _instance(Order, dict(zip(_ORDER_NAMES, row, strict=True)))


_Item = TypeVar("_Item", WriteAhead, Settle)


def _by_statement(items: Sequence[_Item], sql: Callable[[_Item], str]) -> dict[str, list[_Item]]:
    """Items grouped by their statement's text (the same columns set, with or without
    変更履歴), so each group runs as one pipelined batch."""
    groups: dict[str, list[_Item]] = {}
    for item in items:
        groups.setdefault(sql(item), []).append(item)
    return groups


class _PgHotPath:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def load(self, order_id: int) -> Loaded:
        row = await self.conn.fetchrow(_PG_LOAD, order_id)
        if row is None:
            raise _not_found(order_id)
        return _loaded(tuple(row))

    async def read(self, order_id: int) -> Seen:
        row = await self.conn.fetchrow(_PG_READ, order_id)
        if row is None:
            raise _not_found(order_id)
        values = tuple(row)
        loaded = _loaded(values[:-4])
        o, m, a, c = values[-4:]
        return Seen(loaded, None if a is None else (o, m, a, c))

    async def write_ahead(self, w: WriteAhead, unchanged: Seen | None = None) -> Claim | None:
        if unchanged is None:
            row = await self.conn.fetchrow(_pg_write_ahead_sql(w), *_pg_write_ahead_args(w))
            return None if row is None else _claim(row)
        seen = unchanged.loaded
        assert unchanged.versions is not None
        assert seen.account is not None
        assert seen.order is w.order
        o, m, a, c = unchanged.versions
        row = await self.conn.fetchrow(
            _pg_write_ahead(tuple(w.values), bool(w.changes), w.event is not None, unchanged=True),
            *_pg_write_ahead_args(w),
            *(o, m, seen.account.id, a, c),
        )
        return None if row is None else _claim(row)

    async def settle(self, t: Settle) -> tuple[Order, int | None] | None:
        sql = _pg_settle(
            tuple(t.attempt), tuple(t.values), bool(t.changes), t.event is not None, seen=True
        )
        row = await self.conn.fetchrow(sql, *_pg_settle_args(t))
        if row is None:
            return None
        *columns, version = tuple(row)
        return _order(columns), int(version)

    # Batches: one transaction, each group of like statements sent as one pipeline
    # (fetchmany), so a chunk of orders costs a few round trips instead of one per order.
    async def load_many(self, order_ids: Sequence[int]) -> dict[int, Loaded]:
        rows = await self.conn.fetch(_PG_LOAD_MANY, list(order_ids))
        found = [_loaded(tuple(row)) for row in rows]
        return {f.order.id: f for f in found}

    async def write_ahead_many(self, items: Sequence[WriteAhead]) -> dict[int, Claim]:
        claims: dict[int, Claim] = {}
        async with self.conn.transaction():
            for sql, group in _by_statement(items, _pg_write_ahead_sql).items():
                rows = await self.conn.fetchmany(sql, [_pg_write_ahead_args(w) for w in group])
                claims.update((int(row[2]), _claim(row)) for row in rows)
        return claims

    async def settle_many(self, items: Sequence[Settle]) -> dict[int, Order]:
        settled: dict[int, Order] = {}
        async with self.conn.transaction():
            for sql, group in _by_statement(items, _pg_settle_sql).items():
                rows = await self.conn.fetchmany(sql, [_pg_settle_args(t) for t in group])
                settled.update((o.id, o) for o in map(_order, rows))
        return settled


# --- SQLite (and any other backend): Core statements in one transaction ----------------

_CORE_LOAD_MANY = (
    select(_ORDERS, _METHODS, _ACCOUNTS, _CUSTOMERS)
    .join(_METHODS, _METHODS.c.id == _ORDERS.c.payment_method_id)
    .outerjoin(_ACCOUNTS, _ACCOUNTS.c.id == _METHODS.c.account_id)
    .join(_CUSTOMERS, _CUSTOMERS.c.id == _ORDERS.c.customer_id)
)
_CORE_LOAD = _CORE_LOAD_MANY.where(_ORDERS.c.id == bindparam("order_id"))
_CORE_ADD_ATTEMPT = insert(_ATTEMPTS).returning(_ATTEMPTS.c.id)
_CORE_HISTORY = insert(_CHANGES)
_CORE_STORED = select(_REFERENCES.c.data).where(
    _REFERENCES.c.account_id == bindparam("account_id"),
    _REFERENCES.c.reference == bindparam("reference"),
)


@lru_cache(maxsize=64)
def _core_cas(names: tuple[str, ...], *, held: bool) -> Any:
    where = [_ORDERS.c.id == bindparam("_id"), _ORDERS.c.version == bindparam("_version")]
    if held:
        where.append(_ORDERS.c.in_flight_attempt_id == bindparam("_held"))
    sets: dict[str, Any] = {n: bindparam(f"v_{n}") for n in names}
    sets["version"] = _ORDERS.c.version + 1
    return update(_ORDERS).where(*where).values(sets).returning(*_ORDERS.columns)


class _CoreHotPath:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def load(self, order_id: int) -> Loaded:
        row = (await self.conn.execute(_CORE_LOAD, {"order_id": order_id})).first()
        if row is None:
            raise _not_found(order_id)
        return _loaded(tuple(row))

    async def read(self, order_id: int) -> Seen:
        return Seen(await self.load(order_id), None)  # no row versions: nothing remembered

    async def _cas(
        self,
        order: Order,
        values: dict[str, Any],
        changes: list[Change],
        *,
        held: int | None,
        actor: str,
        at: datetime,
        reason: str,
        event: dict[str, Any] | None,
    ) -> Order | None:
        values = {**values, "updated_at": at}
        params = {f"v_{n}": v for n, v in values.items()}
        params.update(_id=order.id, _version=order.version, _held=held)
        statement = _core_cas(tuple(values), held=held is not None)
        row = (await self.conn.execute(statement, params)).first()
        if row is None:
            return None
        if changes:
            await self.conn.execute(
                _CORE_HISTORY,
                [
                    {
                        "entity": "order",
                        "entity_id": order.id,
                        "field": c.field,
                        "before": c.before,
                        "after": c.after,
                        "actor": actor,
                        "reason": reason,
                        "created_at": at,
                    }
                    for c in changes
                ],
            )
        if event is not None:
            await emit(self.conn, [event])
        return _instance(Order, dict(row._mapping))

    async def write_ahead(self, w: WriteAhead, unchanged: Seen | None = None) -> Claim | None:
        if unchanged is not None:
            raise ValueError("no row versions here: the order must be read")
        sent = {"order_id": w.order.id, **w.attempt}
        attempt_id = int((await self.conn.execute(_CORE_ADD_ATTEMPT, sent)).scalar_one())
        claimed = {**w.values, "in_flight_attempt_id": attempt_id}
        done = await self._cas(
            w.order,
            claimed,
            w.changes,
            held=None,
            actor=w.actor,
            at=w.at,
            reason=w.reason,
            event=w.event,
        )
        if done is None:  # nothing written: a batch commits the others' claims
            await self.conn.execute(delete(_ATTEMPTS).where(_ATTEMPTS.c.id == attempt_id))
            return None
        data = None
        if w.stored is not None:
            params = {"account_id": w.stored[0], "reference": w.stored[1]}
            data = (await self.conn.execute(_CORE_STORED, params)).scalar()
        return Claim(attempt_id, None if data is None else dict(data))

    async def settle(self, t: Settle) -> tuple[Order, int | None] | None:
        await self.conn.execute(
            update(_ATTEMPTS).where(_ATTEMPTS.c.id == t.attempt_id).values(**t.attempt)
        )
        settled = await self._cas(
            t.order,
            t.values,
            t.changes,
            held=t.attempt_id,
            actor=t.actor,
            at=t.at,
            reason=t.reason,
            event=t.event,
        )
        return None if settled is None else (settled, None)

    # Batches: the one-order statements, all in this one transaction (one commit).
    async def load_many(self, order_ids: Sequence[int]) -> dict[int, Loaded]:
        statement = _CORE_LOAD_MANY.where(_ORDERS.c.id.in_(list(order_ids)))
        found = [_loaded(tuple(row)) for row in await self.conn.execute(statement)]
        return {f.order.id: f for f in found}

    async def write_ahead_many(self, items: Sequence[WriteAhead]) -> dict[int, Claim]:
        claims: dict[int, Claim] = {}
        for w in items:
            claim = await self.write_ahead(w)
            if claim is not None:
                claims[w.order.id] = claim
        return claims

    async def settle_many(self, items: Sequence[Settle]) -> dict[int, Order]:
        settled: dict[int, Order] = {}
        for t in items:
            written = await self.settle(t)
            if written is not None:
                settled[t.order.id] = written[0]
        return settled
