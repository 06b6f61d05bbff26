"""Engine, sessions and the column types shared by every table."""

import asyncio
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncpg import InterfaceError, PostgresConnectionError  # type: ignore[import-untyped]
from asyncpg.exceptions import (  # type: ignore[import-untyped]
    InternalClientError,
    OperatorInterventionError,
)
from sqlalchemy import BigInteger, DateTime, Integer, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool, PoolProxiedConnection
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util.concurrency import greenlet_spawn

from kessai.core.errors import DatabaseUnavailable
from kessai.core.settings import sqlite_path

# BIGINT on PostgreSQL; SQLite only autoincrements a plain INTEGER primary key.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


# PostgreSQL pool: connections are held only while statements run (never across a provider
# call), so a few dozen serve hundreds of requests in flight; the overflow is closed again
# on return, which costs a fork and a handshake each, so it stays small.
POOL_SIZE = 32
POOL_OVERFLOW = 8
# The execution option that begins a SQLite transaction DEFERRED: a read that takes no
# write lock (WAL readers never wait for the writer).
READ_ONLY = "kessai_read_only"


def create_engine(
    database_url: str, *, pool_size: int = POOL_SIZE, max_overflow: int = POOL_OVERFLOW
) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        path = sqlite_path(database_url)
        if path is not None:
            private_file(path, create=False)
        engine = create_async_engine(
            database_url,
            poolclass=NullPool if path is None else None,
            connect_args={"timeout": 30},
        )
        _sqlite_pragmas(engine)
        return engine
    # The pool can be sized in the URL (…/kessai?pool_size=64&max_overflow=0): the driver
    # never sees these two.
    url = make_url(database_url)
    pool_size = int(url.query.get("pool_size", pool_size))  # type: ignore[arg-type]
    max_overflow = int(url.query.get("max_overflow", max_overflow))  # type: ignore[arg-type]
    engine = create_async_engine(
        url.difference_update_query(["pool_size", "max_overflow"]),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
    )
    _connect_failures_named(engine)
    return engine


def _connect_failures_named(engine: AsyncEngine) -> None:
    sync = engine.sync_engine

    @event.listens_for(sync, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as exc:  # TimeoutError included
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc

    @event.listens_for(sync, "handle_error")
    def _lost(ctx: Any) -> None:
        # A connection the server dropped (restart, pg_terminate_backend): the others in
        # the pool are as dead, so the pool starts afresh rather than fail once per each.
        if _connection_lost(ctx.original_exception):
            ctx.is_disconnect = True


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it was raised from (`raise … from`), not what it handled."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__
    return chain


# The driver's own words for a connection that is gone: unreachable, closed, shut down or
# terminated (57P01: pg_terminate_backend, a server restart), or left mid-operation by those.
_LOST = (
    DatabaseUnavailable,
    PostgresConnectionError,
    InterfaceError,
    OperatorInterventionError,
    InternalClientError,
)


def _connection_lost(exc: BaseException) -> bool:
    return any(isinstance(e, _LOST) for e in _causes(exc))


def database_failure(exc: BaseException) -> bool:
    """Did the database fail — unreachable, restarted, the connection killed — as opposed to
    a provider's network or a mistake in a statement? What was done meanwhile at a provider
    is then known only to the provider: the work is run again (and settled by a lookup),
    never reported as the order's failure."""
    if isinstance(exc, sa_exc.TimeoutError) or _connection_lost(exc):
        return True  # unreachable, cut off, or the pool waited too long for a connection
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return False


def private_file(path: Path, *, create: bool) -> None:
    """The SQLite file (orders, customers, sealed secrets) readable by its owner only: with
    `create` (kessai db upgrade) made 0600 before SQLite opens it (its -wal and -shm files
    take the same mode); an older file left readable by others is narrowed. Without
    `create` a missing file stays missing (kessai doctor must not make one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            flags = os.O_RDWR | (os.O_CREAT if create and each == path else 0)
            fd = os.open(each, flags, 0o600)
        except (FileNotFoundError, PermissionError):
            continue  # not there (yet), or not ours to change: SQLite says what it finds
        try:
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)
        finally:
            os.close(fd)


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling defers BEGIN; we take the write lock at BEGIN
    # (IMMEDIATE) so a read-then-write transaction never fails on a stale snapshot.
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_con: Any, _record: Any) -> None:
        dbapi_con.isolation_level = None
        cur = dbapi_con.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    bind = sessions.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return bind


# Driver connections the hot paths keep checked out between their statements, per engine:
# taking one from here costs a list pop, from the pool two greenlet switches and the
# pool's bookkeeping (about half of what a hot-path statement costs). At most half the
# pool is kept, so the ORM's sessions always find connections; dispose() closes them.
_KEPT: "weakref.WeakKeyDictionary[Engine, list[PoolProxiedConnection]]" = (
    weakref.WeakKeyDictionary()
)


def _kept(engine: AsyncEngine) -> list[PoolProxiedConnection]:
    sync = engine.sync_engine
    kept = _KEPT.get(sync)
    if kept is None:
        kept = _KEPT[sync] = []

        def close_kept(_engine: Engine) -> None:  # runs in dispose()'s greenlet
            while kept:
                pooled = kept.pop()
                pooled.invalidate()
                pooled.close()

        event.listen(sync, "engine_disposed", close_kept)
    return kept


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A pooled connection's driver (asyncpg) connection, outside any transaction: each
    statement commits on its own. For the hot paths, where one statement is the unit of
    work and SQLAlchemy's per-statement cost would be most of the time.

    A connection that may be mid-statement (cancelled task, broken socket, server gone)
    is closed rather than used again."""
    kept = _kept(engine)
    pooled = kept.pop() if kept else await greenlet_spawn(engine.sync_engine.raw_connection)
    try:
        yield pooled.driver_connection
    except BaseException as exc:
        if _connection_lost(exc) or isinstance(exc, OSError):
            # The server dropped it: those kept beside it, and the pool's, are as dead.
            await asyncio.shield(greenlet_spawn(_discard_all, engine, pooled, kept, exc))
        elif not isinstance(exc, Exception) or isinstance(exc, _BROKEN):
            await asyncio.shield(greenlet_spawn(_discard, pooled))
        elif len(kept) < _keep(engine):
            kept.append(pooled)
        else:
            await greenlet_spawn(pooled.close)
        if isinstance(exc, OSError) and not isinstance(exc, DatabaseUnavailable):
            # The socket to the database: nothing else is used in here.
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
        raise
    if len(kept) < _keep(engine):
        kept.append(pooled)
    else:
        # Returning it awaits nothing unless an overflow connection is closed.
        await greenlet_spawn(pooled.close)


# The driver connection may be unusable after these (RuntimeError: used from another loop).
_BROKEN = (
    OSError,
    RuntimeError,
    InterfaceError,
    PostgresConnectionError,
    OperatorInterventionError,
)


def _keep(engine: AsyncEngine) -> int:
    size = engine.sync_engine.pool.size()  # type: ignore[attr-defined]
    return int(size) // 2


def _discard(pooled: PoolProxiedConnection) -> None:
    pooled.invalidate()
    pooled.close()


def _discard_all(
    engine: AsyncEngine,
    pooled: PoolProxiedConnection,
    kept: list[PoolProxiedConnection],
    exc: BaseException,
) -> None:
    # Every connection the pool made before now is replaced when next taken out. `kept` may
    # be emptied meanwhile by another user whose connection broke at the same moment (a
    # restart breaks them all): the broken one is named, never looked up in `kept`.
    engine.sync_engine.pool._invalidate(pooled, exc, _checkin=False)
    _discard(pooled)
    while kept:
        _discard(kept.pop())


@asynccontextmanager
async def read_only(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A Core connection for reads: on SQLite a DEFERRED transaction, which waits for no
    writer; rolled back at the end (it wrote nothing)."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**{READ_ONLY: True})
        yield conn


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error."""
    async with sessions() as session, session.begin():
        yield session


@asynccontextmanager
async def read_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A unit of work that only reads: on SQLite it takes no write lock (BEGIN DEFERRED)."""
    async with sessions() as session:
        await session.connection(execution_options={READ_ONLY: True})
        yield session
