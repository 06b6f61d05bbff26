"""A database failure is told apart from a provider's network error: the first makes a job
run its chunk again (the provider's answer is then settled by a lookup), the second is the
order's own result (an unreachable provider keeps the order held)."""

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from kessai.core.db import create_engine, database_failure
from kessai.core.errors import DatabaseUnavailable


def _from(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("error", "is_database"),
    [
        (ConnectionRefusedError("provider refused"), False),
        (ConnectionResetError("provider reset"), False),
        (TimeoutError("provider silent"), False),
        (OSError("database connection lost"), False),  # bare: nothing says it is the database
        (DatabaseUnavailable("ConnectionRefusedError: refused"), True),
        (sa_exc.OperationalError("SELECT 1", {}, Exception("server closed")), True),
        (sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), True),
        (
            _from(
                sa_exc.DBAPIError("SELECT 1", {}, Exception("x")),
                asyncpg.exceptions.ConnectionDoesNotExistError("closed"),
            ),
            True,
        ),
        (_from(RuntimeError("handled"), ValueError("nothing of the database")), False),
    ],
)
def test_database_failures_and_nothing_else(error: BaseException, is_database: bool) -> None:
    assert database_failure(error) is is_database


async def test_an_unreachable_database_is_named_so() -> None:
    from tests.faults.postgres import free_port

    engine = create_engine(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            async with engine.connect():
                pass
        assert database_failure(caught.value)
    finally:
        await engine.dispose()


def test_an_unreachable_database_is_still_an_oserror_to_those_reporting_it() -> None:
    assert isinstance(DatabaseUnavailable("refused"), OSError)
