"""A PostgreSQL server of the test's own (initdb, pg_ctl) on a free loopback port, so it
can be restarted and its connections killed without touching the machine's shared server.

As root (a container) the server runs as the `postgres` user: PostgreSQL refuses root.
"""

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

import asyncpg
import pytest

SUPERUSER = "postgres"


def _bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    """initdb'd into `root`, listening on 127.0.0.1:`port` only (no shared socket dir)."""

    def __init__(self, root: Path) -> None:
        binary = _bin()
        if binary is None:
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
        self.bin, self.root = binary, root
        self.data, self.port = root / "data", free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and no 'postgres' user to run PostgreSQL as")
            os.chown(root, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str) -> None:
        cmd = [*self.as_user, str(self.bin / argv[0]), *argv[1:]]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}\n{done.stderr}")

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        )

    def start(self) -> None:
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c fsync=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self) -> None:
        """Stopped at once (every connection cut, as when the server crashes or is
        restarted by its operator) and started again on the same port."""
        self.stop("immediate")
        self.start()

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    async def create_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    async def terminate(self, database: str) -> int:
        """pg_terminate_backend on every connection to `database`: how many were cut."""
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = $1 AND pid <> pg_backend_pid()) t",
                    database,
                )
            )
        finally:
            await conn.close()


def running(root: Path) -> PrivatePostgres:
    pg = PrivatePostgres(root)
    pg.init()
    pg.start()
    return pg


async def wait_until_up(pg: PrivatePostgres, within: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            conn = await asyncpg.connect(pg.admin_dsn, timeout=2)
        except (OSError, asyncpg.PostgresError):
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)
            continue
        await conn.close()
        return
