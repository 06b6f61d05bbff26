"""Benchmark of kessai's core: authorize + capture through the REST API.

kessai runs as a real server process (uvicorn; --workers N processes) on a free loopback port
against a fresh database (SQLite file in a temp dir, or a new PostgreSQL database dropped
afterwards); the provider is the in-memory fake connector (--fake kept: the sandbox's, whose
ledger is in the database, which more than one worker needs). Orders are created through
the API first (not timed); then C clients, each with one request in flight, authorize and
capture one order after another. Every (backend, latency, clients) cell gets a warm-up
pass, then --runs timed runs; the figures are the medians over the runs of each run's p50
and p99.

With the fake connector at 0 ms the whole time of an operation is kessai's overhead; with
--latency-ms L the fake provider sleeps L ms per call and overhead = p50 - L.

    .venv/bin/python bench/core.py                       # both backends, 1/8/32 clients
    .venv/bin/python bench/core.py --backend postgres --clients 32 --latency-ms 0,50
    .venv/bin/python bench/core.py --backend postgres --clients 32 --latency-ms 50 \
        --fake kept --workers 2

Only loopback traffic; every loop is bounded by --orders, --runs and timeouts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.util
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

import kessai
from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.apikeys.service import create_key
from kessai.core.clock import utcnow
from kessai.core.db import create_engine, session_factory, transaction
from kessai.core.migrate import upgrade
from pgdb import temporary_pg_database
from procstat import BackendCpu, machine_busy, own_cpu, sampling, tree_cpu, wait_for_quiet

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=60)
STARTUP_SECONDS = 30.0
CREATE_CONCURRENCY = 8


# ----------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def kessai_server(
    database_url: str,
    *,
    access_log: bool,
    kept_fake: bool = False,
    workers: int = 1,
    py_spy: str | None = None,
    cprofile: str | None = None,
) -> Iterator[tuple[str, int]]:
    """uvicorn with a factory on a free loopback port; yields (url, pid).

    The app is kessai.web.app:create_app as shipped when kept_fake (the sandbox's fake
    connector keeps its ledger in kessai's database), else bench/inmemory_app.py (the same
    app, the fake connector's ledger in memory: kessai's own cost only).

    With py_spy set, the server runs under `py-spy record` writing collapsed stacks there
    (the CPU figures then include py-spy's own sampling); with cprofile set, under cProfile
    writing pstats there on shutdown.
    """
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        *(
            ["kessai.web.app:create_app"]
            if kept_fake
            else ["--app-dir", str(Path(__file__).parent), "inmemory_app:create_app"]
        ),
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    if not access_log:
        cmd.append("--no-access-log")
    if workers > 1:
        cmd += ["--workers", str(workers)]
    if cprofile:
        cmd[1:1] = ["-m", "cProfile", "-o", cprofile]
    if py_spy:
        spy = str(Path(sys.executable).with_name("py-spy"))
        cmd = [spy, "record", "--gil", "--format", "raw", "--rate", "250", "-o", py_spy, "--", *cmd]
    env = {**os.environ, "KESSAI_DATABASE_URL": database_url, "KESSAI_ENV": "sandbox"}
    proc = subprocess.Popen(cmd, env=env)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"kessai server exited during start-up (code {proc.returncode})")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("kessai server did not start in time") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        # uvicorn re-raises the signal after shutdown; profilers write their file on SIGINT.
        proc.send_signal(signal.SIGINT if py_spy or cprofile else signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# ----------------------------------------------------------------------------- databases
@contextlib.contextmanager
def fresh_database(backend: str, pg_admin: str) -> Iterator[str]:
    """A new empty database URL, removed on exit."""
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="kessai_bench_")
        try:
            yield f"sqlite+aiosqlite:///{folder}/kessai.db"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    with temporary_pg_database(pg_admin) as (url, _):
        yield url


def latency_code(latency_ms: int) -> str:
    return f"bench-card-{latency_ms}ms"


async def seed(database_url: str, latencies: Sequence[int]) -> str:
    """A GMO-PG card method on the fake connector per simulated latency, and an API key.

    Written straight through the models (like tests/factories.py) so the bench does not
    depend on the demo data.
    """
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    now = utcnow()
    try:
        async with transaction(sessions) as s:
            for ms in sorted(set(latencies)):
                account = ProviderAccount(
                    provider="gmo_pg",
                    name=f"bench {ms} ms",
                    connector="fake",
                    settings={"latency_seconds": ms / 1000},
                    created_at=now,
                    updated_at=now,
                )
                s.add(account)
                await s.flush()
                s.add(
                    PaymentMethod(
                        code=latency_code(ms),
                        name=f"クレジットカード (擬似遅延 {ms} ms)",
                        provider="gmo_pg",
                        method_type="credit_card",
                        account_id=account.id,
                        enabled=True,
                        min_amount=1,
                        max_amount=9_999_999,
                        recurring=False,
                        cancel_api_link=True,
                        created_at=now,
                        updated_at=now,
                    )
                )
            return await create_key(s, "bench", now)
    finally:
        await engine.dispose()


# ----------------------------------------------------------------------------- load
@dataclass
class RunResult:
    ms: dict[str, list[float]]
    wall: float
    errors: list[str]
    server_cpu: float
    db_cpu: float
    client_cpu: float
    busy: float
    db_connections_opened: int

    @property
    def ops(self) -> int:
        return sum(len(v) for v in self.ms.values())


@dataclass
class Client:
    http: aiohttp.ClientSession
    base: str
    idempotency: bool
    headers: dict[str, str] = field(default_factory=dict)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        headers = dict(self.headers)
        if self.idempotency:
            headers["Idempotency-Key"] = secrets.token_hex(16)
        async with self.http.post(self.base + path, json=body, headers=headers) as r:
            text = await r.text()
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):  # a proxy or crash page: keep it for the error report
            data = {"code": f"non-JSON response: {text[:80]!r}"}
        return r.status, data


async def create_orders(client: Client, code: str, prefix: str, count: int) -> list[int]:
    """Untimed: `count` orders through POST /api/v1/orders, each with its own customer."""
    numbers = iter(range(count))
    ids: list[int] = []

    async def worker() -> None:
        for i in numbers:
            status, body = await client.post(
                "/api/v1/orders",
                {
                    "number": f"{prefix}-{i:05d}",
                    "customer": {"name": "山田 太郎", "email": f"b{i}@example.jp"},
                    "payment_method": code,
                    "amount": 5_500,
                    "tax": 500,
                    "payment_source": {"token": f"tok_{prefix}_{i}"},
                },
            )
            if status != 201:
                raise RuntimeError(f"order creation failed: {status} {body}")
            ids.append(int(body["id"]))

    await asyncio.gather(*(worker() for _ in range(CREATE_CONCURRENCY)))
    return ids


EXPECTED_STATUS = {"authorize": "authorized", "capture": "captured"}
CAPTURE_BODY = {
    "shipped_on": "2026-11-22",
    "tracking_number": "1234-5678-9012",
    "carrier": "ヤマト運輸",
}


async def pay(
    client: Client, order_ids: list[int], clients: int
) -> tuple[dict[str, list[float]], float, list[str]]:
    """C workers; each authorizes then captures the next order. Returns ms per op, wall, errors."""
    ms: dict[str, list[float]] = {"authorize": [], "capture": []}
    errors: list[str] = []
    queue = iter(order_ids)

    async def step(order_id: int, action: str, body: dict[str, Any]) -> bool:
        t0 = time.perf_counter()
        status, out = await client.post(f"/api/v1/orders/{order_id}/payment/{action}", body)
        ms[action].append((time.perf_counter() - t0) * 1000)
        if status != 200 or out.get("outcome") != "succeeded":
            errors.append(f"{action} {order_id}: {status} {out.get('code') or out.get('outcome')}")
            return False
        shown = out.get("order", {}).get("payment_status")
        if shown != EXPECTED_STATUS[action]:
            errors.append(f"{action} {order_id}: order shows payment_status {shown}")
        return True

    async def worker() -> None:
        for order_id in queue:
            if await step(order_id, "authorize", {}):
                await step(order_id, "capture", CAPTURE_BODY)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return ms, time.perf_counter() - t0, errors


@contextlib.asynccontextmanager
async def http_client(
    base: str, key: str, clients: int, idempotency: bool
) -> AsyncIterator[Client]:
    connector = aiohttp.TCPConnector(limit=max(clients, CREATE_CONCURRENCY))
    async with aiohttp.ClientSession(connector=connector, timeout=HTTP_TIMEOUT) as http:
        yield Client(http, base, idempotency, {"Authorization": f"Bearer {key}"})


async def measure_cell(
    base: str,
    key: str,
    server_pid: int,
    db_name: str | None,
    code: str,
    clients: int,
    args: argparse.Namespace,
    tag: str,
) -> list[RunResult]:
    warmup = max(args.warmup, 2 * clients)

    async with http_client(base, key, clients, args.idempotency) as client:
        ids = await create_orders(client, code, f"{tag}w", warmup)
        await pay(client, ids, clients)  # warm-up: pooled connections, statement caches
        results = []
        for run in range(args.runs):
            ids = await create_orders(client, code, f"{tag}r{run}", args.orders)
            meter = BackendCpu(db_name) if db_name else None
            s0, c0, b0 = tree_cpu(server_pid), own_cpu(), machine_busy()
            async with sampling(meter):
                ms, wall, errors = await pay(client, ids, clients)
            s1, c1, b1 = tree_cpu(server_pid), own_cpu(), machine_busy()
            db, opened = (meter.seconds(), meter.connections_opened()) if meter else (0.0, 0)
            results.append(RunResult(ms, wall, errors, s1 - s0, db, c1 - c0, b1 - b0, opened))
    return results


# ----------------------------------------------------------------------------- figures
def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def summarize(backend: str, latency: int, clients: int, runs: list[RunResult]) -> dict[str, Any]:
    def med(f: Callable[[RunResult], float]) -> float:
        return round(float(statistics.median(f(r) for r in runs)), 3)

    row: dict[str, Any] = {"backend": backend, "latency_ms": latency, "clients": clients}
    for op in ("authorize", "capture"):
        p50 = round(statistics.median(statistics.median(r.ms[op]) for r in runs), 3)
        p99 = round(statistics.median(percentile(r.ms[op], 99) for r in runs), 3)
        row[op] = {"p50_ms": p50, "p99_ms": p99, "overhead_p50_ms": round(p50 - latency, 3)}
    row["ops_per_s"] = med(lambda r: r.ops / r.wall)
    row["server_cpu_ms_per_op"] = med(lambda r: 1000 * r.server_cpu / r.ops)
    row["db_cpu_ms_per_op"] = (
        med(lambda r: 1000 * r.db_cpu / r.ops) if backend == "postgres" else None
    )
    row["client_cpu_ms_per_op"] = med(lambda r: 1000 * r.client_cpu / r.ops)
    row["machine_busy_cores"] = med(lambda r: r.busy / r.wall)
    # CPU used by processes outside this bench (other jobs on the box): a noise indicator.
    row["other_busy_cores"] = med(
        lambda r: max(0.0, r.busy - r.server_cpu - r.db_cpu - r.client_cpu) / r.wall
    )
    if backend == "postgres":
        row["db_connections_opened_per_run"] = med(lambda r: r.db_connections_opened)
    row["ops_per_run"] = runs[0].ops
    row["errors"] = sum(len(r.errors) for r in runs)
    if row["errors"]:
        row["first_errors"] = [e for r in runs for e in r.errors][:5]
    return row


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "backend   lat  C | authorize p50   p99   ovh | capture p50   p99   ovh |"
        "  ops/s | cpu ms/op srv    db  cli | busy othr err"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        a, c = r["authorize"], r["capture"]
        db = "-" if r["db_cpu_ms_per_op"] is None else f"{r['db_cpu_ms_per_op']:.2f}"
        cells = [
            f"{r['backend']:<8} {r['latency_ms']:>4} {r['clients']:>2} |",
            f"{a['p50_ms']:>13.1f} {a['p99_ms']:>5.0f} {a['overhead_p50_ms']:>5.1f} |",
            f"{c['p50_ms']:>11.1f} {c['p99_ms']:>5.0f} {c['overhead_p50_ms']:>5.1f} |",
            f"{r['ops_per_s']:>6.0f} |",
            f"{r['server_cpu_ms_per_op']:>13.2f} {db:>5} {r['client_cpu_ms_per_op']:>4.2f} |",
            f"{r['machine_busy_cores']:>4.2f} {r['other_busy_cores']:>4.2f} {r['errors']:>3}",
        ]
        lines.append(" ".join(cells))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main
def bench_backend(backend: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    with fresh_database(backend, args.pg_admin) as url:
        upgrade(url)
        key = asyncio.run(seed(url, args.latency_ms))
        db_name = url.rsplit("/", 1)[1] if backend == "postgres" else None
        spy = f"{args.py_spy}.{backend}.txt" if args.py_spy else None
        prof = f"{args.cprofile}.{backend}.pstats" if args.cprofile else None
        server = kessai_server(
            url,
            access_log=args.access_log,
            kept_fake=args.fake == "kept",
            workers=args.workers,
            py_spy=spy,
            cprofile=prof,
        )
        with server as (base, pid):
            for latency in args.latency_ms:
                for clients in args.clients:
                    tag = f"{backend[0]}{latency}c{clients}"
                    idle_before = wait_for_quiet(args.wait_idle)
                    runs = run_client(
                        measure_cell(
                            base, key, pid, db_name, latency_code(latency), clients, args, tag
                        )
                    )
                    row = summarize(backend, latency, clients, runs)
                    row["busy_before_cores"] = round(idle_before, 2)
                    print(json.dumps(row, ensure_ascii=False), file=sys.stderr, flush=True)
                    rows.append(row)
    return rows


def run_client(coro: Any) -> Any:
    """The load generator's event loop: uvloop when installed (as the server's), so the
    clients take less of the CPU they share with the server and the database."""
    if importlib.util.find_spec("uvloop") is None:
        return asyncio.run(coro)
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def int_list(text: str) -> list[int]:
    values = [int(x) for x in text.split(",") if x.strip()]
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError("a comma-separated list of non-negative integers")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument(
        "--clients", type=int_list, default=[1, 8, 32], help="concurrent clients, e.g. 1,8,32"
    )
    p.add_argument(
        "--orders", type=int, default=200, help="orders (authorize+capture) per timed run"
    )
    p.add_argument("--runs", type=int, default=3, help="timed runs per cell (medians reported)")
    p.add_argument(
        "--warmup", type=int, default=30, help="untimed orders before each cell (>= 2*C)"
    )
    p.add_argument(
        "--latency-ms", type=int_list, default=[0], help="simulated provider latency, e.g. 0,50"
    )
    p.add_argument(
        "--idempotency", action="store_true", help="send an Idempotency-Key on every POST"
    )
    p.add_argument("--access-log", action="store_true", help="keep uvicorn's access log on")
    p.add_argument(
        "--fake",
        choices=("memory", "kept"),
        default="memory",
        help="fake connector ledger: in memory (kessai's cost only) or kept in the database "
        "(the sandbox server as shipped)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes (more than one needs --fake kept: an order's authorize "
        "and capture may reach different workers)",
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each cell wait up to S seconds for the machine to be idle (shared boxes)",
    )
    p.add_argument("--py-spy", metavar="PREFIX", help="profile the server: PREFIX.<backend>.txt")
    p.add_argument(
        "--cprofile", metavar="PREFIX", help="cProfile the server: PREFIX.<backend>.pstats"
    )
    p.add_argument("--pg-admin", default=PG_ADMIN_DSN, help="PostgreSQL admin DSN (trust auth)")
    args = p.parse_args(argv)
    if not 1 <= args.orders <= 100_000 or not 1 <= args.runs <= 50 or max(args.clients) > 512:
        p.error("--orders 1..100000, --runs 1..50, --clients up to 512")
    if min(args.clients) < 1:
        p.error("--clients must be >= 1")
    if not 1 <= args.workers <= 16 or (args.workers > 1 and args.fake != "kept"):
        p.error("--workers 1..16; more than one needs --fake kept")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    started = time.perf_counter()
    rows = [row for backend in backends for row in bench_backend(backend, args)]
    print(table(rows))
    meta = {
        "bench": "kessai-core",
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "python": platform.python_version(),
        "orders": args.orders,
        "runs": args.runs,
        "idempotency": args.idempotency,
        "fake": args.fake,
        "workers": args.workers,
        "client_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "kessai": str(Path(kessai.__file__).parent),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps({**meta, "rows": rows}, ensure_ascii=False))


if __name__ == "__main__":
    main()
