"""INSERT … ON CONFLICT for whichever backend a session runs on (SQLite or PostgreSQL)."""

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(session: AsyncSession, table: type[Any]) -> Any:
    """The backend's own Insert of a mapped class, with on_conflict_do_nothing/do_update."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
