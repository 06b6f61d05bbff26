"""Benchmark: GMO PG authorizations through kessai against the GMO simulator.

Each authorization is PaymentEngine.run(order, authorize): kessai's write-ahead bookkeeping
on PostgreSQL around two idPass calls (EntryTran, then ExecTran with a one-time Token, or
with MemberID + CardSeq of one saved card under --source member). The simulator runs as its
own uvicorn process (uvloop + httptools when installed) on a free loopback port with
--latency-ms per call; kessai runs in this process (the engine called directly, no REST),
C authorizations in flight as asyncio tasks over a shared queue.

Set-up, not timed: a fresh database kessai_bench_<random> on --pg-admin, migrated; a gmo_pg
account + card method; tokens from the simulator's POST /token; orders bulk-inserted with
SQLAlchemy Core. A warm-up pass, then --runs timed runs (medians). The database is dropped
and every child process stopped at the end.

The yardstick is ../shared/bench-ref `pay.py pg-asyncpg-batch` (one provider call and the
minimum bookkeeping per payment), run interleaved with kessai's runs in the same session
(bench/gmo_pg_reference.py). Target: kessai's provider calls/s >= 90 % of its payments/s.

    .venv/bin/python bench/gmo_pg.py                      # defaults: 1,000 orders x 3 runs
    .venv/bin/python bench/gmo_pg.py --orders 500 --runs 1 --skip-reference
    .venv/bin/python bench/gmo_pg.py --py-spy /tmp/gmo    # + profiles of kessai / simulator

Only loopback traffic; every loop is bounded by --orders, --runs and timeouts.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import event, insert, select

from gmo_pg_procs import child, free_port, load_average
from gmo_pg_reference import Reference
from gmo_pg_report import KessaiRun, report, summarize
from kessai.core.clock import utcnow
from kessai.core.db import transaction
from kessai.core.errors import KessaiError
from kessai.core.migrate import upgrade
from kessai.core.settings import Env, Settings
from kessai.orders.models import Order
from kessai.orders.service import new_order_values
from kessai.payments.plans import ActionRequest
from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.simulator import (
    SUCCESS_CARDS,
    TEST_SHOP_ID,
    TEST_SHOP_PASS,
    TEST_SITE_ID,
    TEST_SITE_PASS,
)
from kessai.services import Services, build_services
from pgdb import temporary_pg_database
from procstat import BackendCpu, machine_busy, own_cpu, sampling, tree_cpu
from shop import add_shop

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REF_VENV = Path(tempfile.gettempdir()) / "benchref-venv"
REF_DIR = Path(__file__).resolve().parents[2] / "shared" / "bench-ref"
HTTP = aiohttp.ClientTimeout(total=60)
RUN_TIMEOUT = 900.0
TOKENS_PER_CALL = 10
MEMBER_ID = "benchmember1"


# ----------------------------------------------------------------------------- simulator
def serve_simulator(port: int, latency_ms: int) -> None:
    """The child process: the GMO PG simulator alone under uvicorn."""
    import importlib.util

    import uvicorn

    from kessai.providers.gmo_pg.simulator import SimulatorConfig, create_simulator

    fast = importlib.util.find_spec("uvloop") is not None
    parser = importlib.util.find_spec("httptools") is not None
    app = create_simulator(SimulatorConfig(latency_seconds=latency_ms / 1000))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop" if fast else "asyncio",
        http="httptools" if parser else "h11",
    )


@contextlib.contextmanager
def simulator(latency_ms: int) -> Iterator[tuple[str, int]]:
    port = free_port()
    cmd = [sys.executable, __file__, "--serve-simulator", str(port)]
    cmd += ["--latency-ms", str(latency_ms)]
    with child(cmd, port=port) as proc:
        yield f"http://127.0.0.1:{port}", proc.pid


# ----------------------------------------------------------------------------- database
@contextlib.contextmanager
def fresh_database(pg_admin: str) -> Iterator[tuple[str, str]]:
    """A new database (url, name), migrated; dropped on exit."""
    with temporary_pg_database(pg_admin) as (url, name):
        upgrade(url)
        yield url, name


@dataclass
class Shop:
    services: Services
    http: aiohttp.ClientSession  # the bench's own client for the simulator (tokens, call log)
    sim_url: str
    method_id: int = 0
    customer_id: int = 0
    batches: int = 0
    card: dict[str, str] | None = None
    connects: int = 0  # connections the engine's pool opened (overflow churn shows here)

    def count_connects(self) -> None:
        def connected(*_: Any) -> None:
            self.connects += 1

        event.listen(self.services.engine.sync_engine, "connect", connected)

    async def seed(self) -> None:
        now = utcnow()
        async with transaction(self.services.sessions) as s:
            shop = await add_shop(
                s,
                connector="gmo_pg",
                settings={
                    "shop_id": TEST_SHOP_ID,
                    "shop_pass": TEST_SHOP_PASS,
                    "site_id": TEST_SITE_ID,
                    "site_pass": TEST_SITE_PASS,
                    "endpoint": self.sim_url,
                },
                code="bench-gmo-card",
                now=now,
            )
            self.method_id, self.customer_id = shop.method_id, shop.customer_id

    async def tokens(self, count: int) -> list[str]:
        """One-time tokens for a test card, TOKENS_PER_CALL per POST /token."""
        out: list[str] = []
        calls = iter(range(0, count, TOKENS_PER_CALL))
        body = {"cardno": SUCCESS_CARDS[0], "expire": "3012", "securitycode": "123"}

        async def worker() -> None:
            for start in calls:
                n = min(TOKENS_PER_CALL, count - start)
                async with self.http.post(
                    f"{self.sim_url}/token", json={**body, "tokennumber": str(n)}
                ) as r:
                    answer = await r.json()
                if answer.get("resultCode") != "000":
                    raise RuntimeError(f"POST /token: {answer}")
                out.extend(answer["tokenObject"]["token"])

        await asyncio.gather(*(worker() for _ in range(8)))
        return out

    async def idpass(self, api: str, params: dict[str, object]) -> dict[str, str]:
        async with self.http.post(
            f"{self.sim_url}/payment/{api}.idPass",
            data=codec.encode_request(params),
            headers={"Content-Type": codec.CONTENT_TYPE},
        ) as r:
            reply = codec.parse_response(await r.read())
        if reply.get("ErrInfo"):
            raise RuntimeError(f"{api}: {reply['ErrInfo']}")
        return reply

    async def saved_card(self) -> dict[str, str]:
        """One member with one card (SaveMember + SaveCard by token): a stored-card source."""
        if self.card is not None:
            return self.card
        site = {"SiteID": TEST_SITE_ID, "SitePass": TEST_SITE_PASS, "MemberID": MEMBER_ID}
        await self.idpass("SaveMember", site)
        token = (await self.tokens(1))[0]
        card = await self.idpass("SaveCard", {**site, "Token": token})
        self.card = {"member_id": MEMBER_ID, "card_seq": card["CardSeq"]}
        return self.card

    async def orders(self, count: int, source: str) -> list[int]:
        """`count` pending orders, bulk-inserted with SQLAlchemy Core."""
        self.batches += 1
        prefix = f"B{self.batches:02d}-"
        if source == "token":
            sources = [{"token": t} for t in await self.tokens(count)]
        else:
            sources = [await self.saved_card()] * count
        now = utcnow()
        rows = [
            new_order_values(
                now,
                number=f"{prefix}{i:06d}",
                customer_id=self.customer_id,
                payment_method_id=self.method_id,
                amount=5_500,
                tax=500,
                payment_source=src,
            )
            for i, src in enumerate(sources)
        ]
        table = Order.__table__
        async with self.services.engine.begin() as conn:
            await conn.execute(insert(table), rows)
            ids = await conn.scalars(
                select(Order.id).where(Order.number.startswith(prefix)).order_by(Order.id)
            )
            return list(ids)

    async def calls(self) -> Counter[str]:
        """The simulator's call log since the last clear, as api:result counts; then clear."""
        async with self.http.get(f"{self.sim_url}/_calls") as r:
            log = (await r.json())["calls"]
        async with self.http.delete(f"{self.sim_url}/_calls") as r:
            await r.read()
        return Counter(f"{c['api']}:{c['result']}" for c in log)

    async def statuses(self, ids: list[int]) -> Counter[str]:
        async with transaction(self.services.sessions) as s:
            rows = await s.scalars(select(Order.payment_status).where(Order.id.in_(ids)))
            return Counter(rows)


# ----------------------------------------------------------------------------- load
def _first_error(outcome: str, exc: Exception) -> None:
    """Say once per kind of failure what it was (a bench with errors measures nothing)."""
    if outcome not in _SEEN:
        _SEEN.add(outcome)
        print(f"authorize failed: {outcome}: {exc}", file=sys.stderr, flush=True)


_SEEN: set[str] = set()


async def authorize_all(
    services: Services, ids: list[int], concurrency: int
) -> tuple[list[float], float, Counter[str]]:
    """C tasks take orders from one queue until it is empty."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for order_id in ids:
        queue.put_nowait(order_id)
    ms: list[float] = []
    outcomes: Counter[str] = Counter()
    request = ActionRequest(action="authorize", actor="bench")

    async def worker() -> None:
        while True:
            try:
                order_id = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            try:
                outcome = (await services.payments.run(order_id, request)).outcome
            except KessaiError as exc:
                outcome = f"error:{exc.code}"
                _first_error(outcome, exc)
            except Exception as exc:
                outcome = f"exception:{type(exc).__name__}"
                _first_error(outcome, exc)
            ms.append((time.perf_counter() - t0) * 1000)
            outcomes[outcome] += 1

    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), RUN_TIMEOUT)
    return ms, time.perf_counter() - t0, outcomes


async def measure(shop: Shop, ids: list[int], args: argparse.Namespace, sim_pid: int) -> KessaiRun:
    await shop.calls()  # clear the log: count this run's calls only
    meter = BackendCpu(args.db_name)
    load, connects = load_average(), shop.connects
    c0, s0, b0 = own_cpu(), tree_cpu(sim_pid), machine_busy()
    async with sampling(meter):
        ms, wall, outcomes = await authorize_all(shop.services, ids, args.concurrency)
    c1, s1, b1 = own_cpu(), tree_cpu(sim_pid), machine_busy()
    return KessaiRun(
        ms=ms,
        wall=wall,
        outcomes=outcomes,
        calls=await shop.calls(),
        statuses=await shop.statuses(ids),
        cpu=c1 - c0,
        sim_cpu=s1 - s0,
        db_cpu=meter.seconds(),
        db_opened=shop.connects - connects,
        busy=b1 - b0,
        load=load,
    )


# ----------------------------------------------------------------------------- session
@contextlib.asynccontextmanager
async def profiling(prefix: str | None, pids: dict[str, int]) -> AsyncIterator[None]:
    """py-spy record (raw collapsed stacks, 100 Hz) of each named process while the body runs."""
    if not prefix:
        yield
        return
    spy = str(Path(sys.executable).with_name("py-spy"))
    procs = [
        await asyncio.create_subprocess_exec(
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "100",
            "--format",
            "raw",
            "-o",
            f"{prefix}.{name}.txt",
        )
        for name, pid in pids.items()
    ]
    try:
        yield
    finally:
        for p in procs:
            if p.returncode is None:
                p.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for p in procs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(p.wait(), 30)
            if p.returncode is None:
                p.kill()
                await p.wait()


async def session(
    args: argparse.Namespace, url: str, sim_url: str, sim_pid: int, ref: Reference | None
) -> dict[str, Any]:
    # Production mode as deployed; a throw-away master key (the database is dropped after).
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    # The pool sized for the authorizations in flight (--pool 0: kessai's default pool).
    if args.pool:
        url = f"{url}?pool_size={args.pool}&max_overflow=0"
    services = build_services(Settings(database_url=url, env=Env.PRODUCTION, secret_key=key))
    http = aiohttp.ClientSession(timeout=HTTP)
    try:
        shop = Shop(services, http, sim_url)
        shop.count_connects()
        await shop.seed()
        warm = await shop.orders(args.warmup, args.source)
        await authorize_all(services, warm, args.concurrency)  # pools, connections, caches
        batches = [await shop.orders(args.orders, args.source) for _ in range(args.runs)]
        if ref is not None:
            await ref.prepare(args.runs, args.reference_warmup)
        runs: list[KessaiRun] = []
        async with profiling(args.py_spy, {"kessai": os.getpid(), "simulator": sim_pid}):
            for k, ids in enumerate(batches):
                run = await measure(shop, ids, args, sim_pid)
                runs.append(run)
                line = f"run {k + 1}: kessai {args.orders / run.wall:.1f} payments/s"
                line += f", {run.provider_calls / run.wall:.1f} calls/s"
                line += f", cpu {1000 * run.cpu / args.orders:.2f} ms/payment"
                if ref is not None:
                    r = await ref.run()
                    line += f" | reference {r.pps:.1f} payments/s"
                print(line, file=sys.stderr, flush=True)
        return summarize(runs, args.orders)
    finally:
        await http.close()
        await services.close()


def run_loop(coro: Any, loop: str) -> Any:
    if loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    return asyncio.run(coro)


def resolve_loop(choice: str) -> str:
    if choice != "auto":
        return choice
    import importlib.util

    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--orders", type=int, default=1_000, help="authorizations per timed run")
    p.add_argument("--concurrency", type=int, default=64, help="authorizations in flight")
    p.add_argument("--latency-ms", type=int, default=50, help="simulator latency per call")
    p.add_argument("--runs", type=int, default=3, help="timed runs (medians reported)")
    p.add_argument("--warmup", type=int, default=256, help="untimed authorizations first")
    p.add_argument(
        "--source",
        choices=("token", "member"),
        default="token",
        help="token: a one-time token per order; member: one saved card (MemberID+CardSeq)",
    )
    p.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    p.add_argument(
        "--pool",
        type=int,
        default=None,
        help="kessai's PostgreSQL pool, no overflow (default: --concurrency up to 16; 0: kessai's "
        "default pool)",
    )
    p.add_argument("--skip-reference", action="store_true")
    p.add_argument("--reference-orders", type=int, default=10_000, help="per reference run")
    p.add_argument("--reference-warmup", type=int, default=1_000)
    p.add_argument("--reference-venv", type=Path, default=REF_VENV)
    p.add_argument("--reference-dir", type=Path, default=REF_DIR)
    p.add_argument("--pg-admin", default=PG_ADMIN_DSN, help="PostgreSQL admin DSN (trust auth)")
    p.add_argument("--py-spy", metavar="PREFIX", help="profiles: PREFIX.{kessai,simulator}.txt")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--serve-simulator", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_simulator is None:
        if not (1 <= args.orders <= 100_000 and 1 <= args.runs <= 20):
            p.error("--orders 1..100000, --runs 1..20")
        if not 1 <= args.concurrency <= 1024 or not 0 <= args.latency_ms <= 10_000:
            p.error("--concurrency 1..1024, --latency-ms 0..10000")
        if not 0 <= args.warmup <= 100_000 or not 1 <= args.reference_orders <= 200_000:
            p.error("--warmup 0..100000, --reference-orders 1..200000")
        if args.pool is None:  # no waiting for a connection, and room for others' tests
            args.pool = min(args.concurrency, 16)
        if not 0 <= args.pool <= 90:
            p.error("--pool 0..90 (PostgreSQL allows 100 connections by default)")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve_simulator is not None:
        serve_simulator(args.serve_simulator, args.latency_ms)
        return
    # SIGTERM unwinds like Ctrl-C, so every child is stopped and the database dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    args.loop = resolve_loop(args.loop)
    ref: Reference | None = None
    if not args.skip_reference:
        ref = Reference(
            venv=args.reference_venv,
            folder=args.reference_dir,
            pg_admin=args.pg_admin,
            latency_ms=args.latency_ms,
            concurrency=args.concurrency,
            orders=args.reference_orders,
        )
        ref.check()
    started, load0 = time.perf_counter(), load_average()
    with contextlib.ExitStack() as stack:
        url, args.db_name = stack.enter_context(fresh_database(args.pg_admin))
        sim_url, sim_pid = stack.enter_context(simulator(args.latency_ms))
        if ref is not None:
            stack.enter_context(ref.serving())
        kessai = run_loop(session(args, url, sim_url, sim_pid, ref), args.loop)
    reference = ref.summary() if ref is not None else None
    report(args, kessai, reference)
    result = {
        "bench": "gmo_pg-authorize",
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "python": platform.python_version(),
        "loop": args.loop,
        "source": args.source,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "pool": args.pool,
        "runs": args.runs,
        "load_average_before": load0,
        "seconds": round(time.perf_counter() - started, 1),
        "kessai": kessai,
        "reference": reference,
    }
    if reference:
        result["ratio"] = round(kessai["provider_calls_per_s"] / reference["payments_per_s"], 4)
        calls, pays = kessai["runs_provider_calls_per_s"], reference["runs_payments_per_s"]
        pairs = zip(calls, pays, strict=True)
        result["ratio_per_run"] = [round(k / r, 4) for k, r in pairs]  # runs interleaved
        result["target_met"] = result["ratio"] >= 0.9
    print(json.dumps(result, ensure_ascii=False))
    if args.json:
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
