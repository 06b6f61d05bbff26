"""The SQLite database and the sandbox master key are readable by their owner only: they
hold orders, customers and the key that opens every account secret."""

import asyncio
import os
import stat
from pathlib import Path

import pytest

from kessai.core.migrate import upgrade
from kessai.core.settings import Env, Settings
from kessai.services import build_services


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0o022)  # what most shells have: files readable by everyone
    yield
    os.umask(old)


def test_a_new_database_and_key_file_are_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_umask: None
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "var" / "kessai.db"
    upgrade(f"sqlite+aiosqlite:///{db}")

    async def serve() -> None:
        url = f"sqlite+aiosqlite:///{db}"
        services = build_services(Settings(database_url=url, env=Env.SANDBOX))
        try:
            services.keyring  # noqa: B018 - the sandbox creates var/secret.key on first use
            async with services.engine.begin() as conn:
                await conn.exec_driver_sql("SELECT 1")
        finally:
            await services.close()

    asyncio.run(serve())
    assert mode(db) == 0o600
    for extra in ("kessai.db-wal", "kessai.db-shm"):
        if (db.parent / extra).exists():
            assert mode(db.parent / extra) == 0o600, extra
    assert mode(tmp_path / "var" / "secret.key") == 0o600


def test_an_older_database_left_readable_is_narrowed(tmp_path: Path) -> None:
    db = tmp_path / "kessai.db"
    upgrade(f"sqlite+aiosqlite:///{db}")
    db.chmod(0o644)
    upgrade(f"sqlite+aiosqlite:///{db}")  # any start of kessai on it
    assert mode(db) == 0o600
