"""The bare reference loop of ../shared/bench-ref, run beside bench/gmo_pg.py.

`pay.py pg-asyncpg-batch OFFSET C N 32` against its fake provider (server.py under uvicorn,
one worker, LAT_MS) on PostgreSQL database `ceiling` (setup_db.py: 1 M pending orders), in
its own venv (outside the repo). pay.py posts to a fixed 127.0.0.1:8000; it is copied to a
temporary folder with only that port changed, so a free port is used and nothing else on
the box is disturbed. Each run takes fresh orders (after the highest one paid so far) and
setup_db.py is run again when fewer than needed remain.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from gmo_pg_procs import child, free_port
from procstat import BackendCpu, machine_busy, sampling, tree_cpu

MODE = "pg-asyncpg-batch"
POOL = 32
ORDERS_IN_SETUP = 1_000_000
PAY_URL = "http://127.0.0.1:8000/"
RUN_TIMEOUT = 900.0
SETUP_HELP = (
    "python3 -m venv {venv} && {venv}/bin/pip install uvicorn fastapi httpx aiohttp "
    "asyncpg 'psycopg[binary]' sqlalchemy aiosqlite greenlet"
)


@dataclass
class RefRun:
    pps: float
    wall: float
    client_cpu: float
    server_cpu: float
    db_cpu: float
    busy: float
    window: float


@dataclass
class Reference:
    """Holds the reference's fake provider while the session lasts."""

    venv: Path
    folder: Path  # ../shared/bench-ref
    pg_admin: str
    latency_ms: int
    concurrency: int
    orders: int
    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="benchref_")))
    port: int = 0
    server_pid: int = 0
    offset: int = 0
    runs: list[RefRun] = field(default_factory=list)

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def check(self) -> None:
        if not (self.folder / "pay.py").exists():
            raise SystemExit(f"reference loop not found in {self.folder}")
        if not (self.venv / "bin" / "uvicorn").exists():
            raise SystemExit(
                f"reference venv missing: {SETUP_HELP.format(venv=self.venv)} "
                "(or pass --skip-reference)"
            )

    def _copy_pay(self) -> None:
        text = (self.folder / "pay.py").read_text()
        if text.count(PAY_URL) != 1:
            raise SystemExit(f"pay.py no longer posts to {PAY_URL}: update bench/gmo_pg_reference")
        patched = text.replace(PAY_URL, f"http://127.0.0.1:{self.port}/")
        (self.work / "pay.py").write_text(patched)

    async def _ceiling_offset(self, needed: int) -> int:
        """First order id not paid yet; rebuilds `ceiling` when too few are left."""
        admin = await asyncpg.connect(self.pg_admin, timeout=10)
        try:
            exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = 'ceiling'")
            if not exists:
                await admin.execute("CREATE DATABASE ceiling")
        finally:
            await admin.close()
        base = self.pg_admin.rsplit("/", 1)[0]
        offset = None
        if exists:
            con = await asyncpg.connect(f"{base}/ceiling", timeout=10)
            try:
                count = await con.fetchval(
                    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'orders'"
                )
                if count:
                    offset = int(
                        await con.fetchval("SELECT coalesce(max(order_id), 0) FROM attempts")
                    )
            finally:
                await con.close()
        if offset is None or offset + needed > ORDERS_IN_SETUP:
            print("reference: building database ceiling (setup_db.py pg) …", flush=True)
            proc = await asyncio.create_subprocess_exec(
                self.python, "setup_db.py", "pg", cwd=self.folder, stdout=subprocess.DEVNULL
            )
            if await asyncio.wait_for(proc.wait(), RUN_TIMEOUT) != 0:
                raise RuntimeError("setup_db.py failed")
            offset = 0
        return offset

    @contextlib.contextmanager
    def serving(self) -> Iterator[Reference]:
        """server.py (uvicorn, 1 worker, LAT_MS) on a free loopback port."""
        self.port = free_port()
        self._copy_pay()
        cmd = [
            str(self.venv / "bin" / "uvicorn"),
            "server:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        env = {**os.environ, "LAT_MS": str(self.latency_ms)}
        try:
            with child(cmd, port=self.port, cwd=str(self.folder), env=env) as proc:
                self.server_pid = proc.pid
                time.sleep(1.5)  # as bench_pay.py does
                yield self
        finally:
            shutil.rmtree(self.work, ignore_errors=True)

    async def prepare(self, runs: int, warmup: int) -> None:
        self.offset = await self._ceiling_offset(runs * self.orders + warmup)
        if warmup:
            await self._pay(warmup)  # untimed: the fake provider and PostgreSQL warm up

    async def _pay(self, n: int) -> dict[str, Any]:
        args = [MODE, str(self.offset), str(self.concurrency), str(n), str(POOL)]
        self.offset += n
        proc = await asyncio.create_subprocess_exec(
            self.python, "pay.py", *args, cwd=self.work, stdout=subprocess.PIPE
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f"pay.py {' '.join(args)} failed ({proc.returncode})")
        return dict(json.loads(out.decode().strip().splitlines()[-1]))

    async def run(self) -> RefRun:
        meter = BackendCpu("ceiling")
        s0, b0, w0 = tree_cpu(self.server_pid), machine_busy(), time.perf_counter()
        async with sampling(meter):
            out = await self._pay(self.orders)
            await asyncio.sleep(0.5)  # as bench_pay.py: let the last backends settle
        s1, b1, w1 = tree_cpu(self.server_pid), machine_busy(), time.perf_counter()
        run = RefRun(
            pps=float(out["pps"]),
            wall=float(out["wall"]),
            client_cpu=float(out["client_cpu_s"]),
            server_cpu=s1 - s0,
            db_cpu=meter.seconds(),
            busy=b1 - b0,
            window=w1 - w0,
        )
        self.runs.append(run)
        return run

    def summary(self) -> dict[str, Any]:
        n = self.orders

        def med(f: Any) -> float:
            return round(statistics.median(f(r) for r in self.runs), 3)

        return {
            "mode": MODE,
            "orders_per_run": n,
            "payments_per_s": med(lambda r: r.pps),
            "runs_payments_per_s": [round(r.pps, 1) for r in self.runs],
            "client_cpu_ms_per_payment": med(lambda r: 1000 * r.client_cpu / n),
            "provider_cpu_ms_per_payment": med(lambda r: 1000 * r.server_cpu / n),
            "db_cpu_ms_per_payment": med(lambda r: 1000 * r.db_cpu / n),
            "machine_busy_cores": med(lambda r: r.busy / r.window),
            "other_busy_cores": med(
                lambda r: max(0.0, r.busy - r.client_cpu - r.server_cpu - r.db_cpu) / r.window
            ),
        }
