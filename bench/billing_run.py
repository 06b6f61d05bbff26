"""Benchmark: a billing run (定期受注 一括決済) over N due subscriptions.

Each subscription gets its child order and an authorization with its stored card through
kessai's job runner and payment engine, against the fake connector with --latency-ms per
call (one call per payment, like the reference) and at most --in-flight calls at once.

    embedded   SQLite file, the job runner in this process (the `make run` default)
    workers    PostgreSQL + RabbitMQ, --workers `dramatiq` processes (kessai worker);
               --in-flight is split between them

Set-up, not timed: a fresh database (SQLite temp file / kessai_bench_<random> on
--pg-admin), migrated; a fake account + card method, one customer and card, N subscriptions
due today bulk-inserted with SQLAlchemy Core. Timed: from submitting the job to the job
finished. Reported: orders/s, CPU ms per charged order (kessai processes + PostgreSQL
backends of the bench database), the job's counts.

The yardstick is ../shared/bench-ref `pay.py pg-asyncpg-batch` at the same latency and
in-flight limit, run in the same session (bench/gmo_pg_reference.py).
Targets (issue 5): >= 90 % of the reference on PostgreSQL; 100,000 subscriptions in <= 3 min.

    .venv/bin/python bench/billing_run.py                          # 10,000 subs, both modes
    .venv/bin/python bench/billing_run.py --mode workers --subscriptions 100000 --workers 2
    .venv/bin/python bench/billing_run.py --mode workers --workers 1,2,3 --skip-reference
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from billing_fake import in_memory_fake
from gmo_pg_procs import stop
from gmo_pg_reference import Reference
from kessai.core.clock import tokyo_date
from kessai.core.db import transaction
from kessai.core.migrate import upgrade
from kessai.core.settings import Env, Settings
from kessai.customers.models import CustomerCard
from kessai.jobs import repository as jobs_repo
from kessai.jobs.models import Job
from kessai.jobs.service import submit
from kessai.services import Services, build_services
from kessai.subscriptions.models import Subscription
from pgdb import temporary_pg_database
from procstat import BackendCpu, machine_busy, own_cpu, sampling, tree_cpu
from shop import add_shop

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
REF_VENV = Path(tempfile.gettempdir()) / "benchref-venv"
REF_DIR = ROOT.parent / "shared" / "bench-ref"
SECRET = base64.b64encode(b"kessai-bench-master-key-32bytes!").decode()  # bench only
RUN_TIMEOUT = 1800.0
INSERT_BATCH = 5_000


async def seed(services: Services, count: int, latency_ms: int) -> date:
    now = services.clock.now()
    today = tokyo_date(now)
    async with transaction(services.sessions) as s:
        shop = await add_shop(
            s,
            connector="fake",
            settings={"latency_seconds": latency_ms / 1000},
            code="bench-card",
            now=now,
        )
        card = CustomerCard(
            customer_id=shop.customer_id,
            account_id=shop.account_id,
            payment_method_id=shop.method_id,
            member_id="bench-member",
            card_seq="0",
            masked_number="411111******1111",
            expire="3012",
            created_at=now,
        )
        s.add(card)
        await s.flush()
        ids = (shop.customer_id, shop.method_id, card.id)
    for start in range(0, count, INSERT_BATCH):
        rows = [
            _subscription(i, ids, today, now)
            for i in range(start, min(count, start + INSERT_BATCH))
        ]
        async with services.engine.begin() as conn:
            await conn.execute(insert(Subscription), rows)
    return today


def _subscription(i: int, ids: tuple[int, int, int], today: date, now: datetime) -> dict[str, Any]:
    customer_id, method_id, card_id = ids
    return {
        "number": f"{1_000_000_000 + i:010d}",
        "customer_id": customer_id,
        "payment_method_id": method_id,
        "card_id": card_id,
        "items": [{"name": "青汁 30包", "sku": "AOJIRU-30", "quantity": 1, "unit_price": 5_500}],
        "amount": 5_500,
        "tax": 500,
        "cycle_kind": "months",
        "cycle_interval": 1,
        "cycle_day": today.day,
        "next_ship_on": today,
        "next_delivery_on": None,
        "status": "active",
        "cycle": 0,
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }


async def failures(services: Services, job_id: int) -> dict[str, int]:
    """The most frequent messages of failed items (a bench run should have none)."""
    async with transaction(services.sessions) as s:
        items = await jobs_repo.items(s, job_id)
    return dict(Counter(i.message for i in items if i.status == "failed").most_common(3))


async def wait_finished(services: Services, job_id: int) -> Job:
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        async with transaction(services.sessions) as s:
            job = await jobs_repo.get_job(s, job_id)
        if job.finished_at is not None:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} not finished after {RUN_TIMEOUT:.0f} s")
        await asyncio.sleep(0.2)


def result(
    mode: str, n: int, wall: float, cpu: dict[str, float], job: Job, busy: float
) -> dict[str, Any]:
    out = {
        "mode": mode,
        "subscriptions": n,
        "wall_s": round(wall, 2),
        "orders_per_s": round(job.succeeded / wall, 1),
        "job": {
            "status": job.status,
            "succeeded": job.succeeded,
            "failed": job.failed,
            "skipped": job.skipped,
        },
        "cpu_ms_per_order": {k: round(1000 * v / max(job.succeeded, 1), 3) for k, v in cpu.items()},
        "machine_busy_cores": round(busy / wall, 2),
    }
    out["cpu_ms_per_order"]["total"] = round(sum(out["cpu_ms_per_order"].values()), 3)
    return out


# --------------------------------------------------------------------------- embedded
async def run_embedded(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kessai_bench_") as folder:
        url = f"sqlite+aiosqlite:///{folder}/kessai.db"
        await asyncio.to_thread(upgrade, url)
        services = in_memory_fake(
            build_services(Settings(database_url=url, env=Env.SANDBOX, secret_key=SECRET))
        )
        try:
            today = await seed(services, args.subscriptions, args.latency_ms)
            c0, b0, t0 = own_cpu(), machine_busy(), time.perf_counter()
            job, _ = await submit(
                services,
                "billing",
                created_by="bench",
                params={"date": today.isoformat(), "in_flight": args.in_flight},
            )
            await services.dispatcher.drain()
            job = await wait_finished(services, job.id)
            wall = time.perf_counter() - t0
            cpu = {"kessai": own_cpu() - c0}
            print(json.dumps({"failed": await failures(services, job.id)}, ensure_ascii=False))
            return result(
                "embedded (SQLite, 1 process)",
                args.subscriptions,
                wall,
                cpu,
                job,
                machine_busy() - b0,
            )
        finally:
            await services.close()


# --------------------------------------------------------------------------- workers
@contextlib.contextmanager
def worker_processes(
    count: int, env: dict[str, str], threads: int
) -> Iterator[list[subprocess.Popen[bytes]]]:
    cmd = [
        sys.executable,
        "-m",
        "dramatiq",
        "kessai.jobs.tasks",
        "billing_fake",
        "--processes",
        "1",
        "--threads",
        str(threads),
    ]
    procs = [
        subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(count)
    ]
    try:
        time.sleep(2.0)  # workers connect to the broker and import kessai
        yield procs
    finally:
        for p in procs:
            stop(p)


def run_workers(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    queue = f"kessai_bench_{uuid.uuid4().hex[:8]}"
    with temporary_pg_database(args.pg_admin) as (url, name):
        upgrade(url)
        try:
            return asyncio.run(_run_workers(args, workers, url, name, queue))
        finally:
            _delete_queue(args.amqp, queue)


async def _run_workers(
    args: argparse.Namespace, workers: int, url: str, name: str, queue: str
) -> dict[str, Any]:
    settings = Settings(
        database_url=url,
        env=Env.SANDBOX,
        secret_key=SECRET,
        broker_url=args.amqp,
        broker_queue=queue,
    )
    services = build_services(settings)
    in_flight = max(1, -(-args.in_flight // workers))
    env = {
        **os.environ,
        "KESSAI_DATABASE_URL": url,
        "KESSAI_ENV": "sandbox",
        "KESSAI_SECRET_KEY": SECRET,
        "KESSAI_BROKER_URL": args.amqp,
        "KESSAI_BROKER_QUEUE": queue,
        "KESSAI_DB_POOL_SIZE": str(args.pool),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(BENCH)]),
    }
    try:
        today = await seed(services, args.subscriptions, args.latency_ms)
        with worker_processes(workers, env, args.threads) as procs:
            meter = BackendCpu(name)
            w0 = sum(tree_cpu(p.pid) for p in procs)
            c0, b0, t0 = own_cpu(), machine_busy(), time.perf_counter()
            async with sampling(meter):
                job, _ = await submit(
                    services,
                    "billing",
                    created_by="bench",
                    params={"date": today.isoformat(), "in_flight": in_flight},
                )
                job = await wait_finished(services, job.id)
            wall = time.perf_counter() - t0
            cpu = {
                "workers": sum(tree_cpu(p.pid) for p in procs) - w0,
                "postgres": meter.seconds(),
                "submitter": own_cpu() - c0,
            }
            busy = machine_busy() - b0
        print(json.dumps({"failed": await failures(services, job.id)}, ensure_ascii=False))
    finally:
        await services.close()
    mode = f"workers (PostgreSQL + RabbitMQ, {workers} processes)"
    return result(mode, args.subscriptions, wall, cpu, job, busy)


def _delete_queue(url: str, queue: str) -> None:
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        for q in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            ch.queue_delete(q)
    finally:
        conn.close()


# --------------------------------------------------------------------------- reference
async def run_reference(args: argparse.Namespace) -> dict[str, Any]:
    ref = Reference(
        REF_VENV, REF_DIR, args.pg_admin, args.latency_ms, args.in_flight, args.reference_orders
    )
    ref.check()
    with ref.serving():
        await ref.prepare(runs=args.runs, warmup=min(500, args.reference_orders))
        for _ in range(args.runs):
            await ref.run()
    return ref.summary()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--mode", choices=["embedded", "workers", "both"], default="both")
    p.add_argument("--subscriptions", type=int, default=10_000)
    p.add_argument("--latency-ms", type=int, default=50)
    p.add_argument("--in-flight", type=int, default=64)
    p.add_argument("--workers", default="2", help="worker processes, e.g. 1,2,3")
    p.add_argument("--threads", type=int, default=4, help="chunks at once per worker")
    p.add_argument("--pool", type=int, default=16, help="PostgreSQL connections per worker")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--reference-orders", type=int, default=10_000)
    p.add_argument("--skip-reference", action="store_true")
    p.add_argument("--pg-admin", default=PG_ADMIN_DSN)
    p.add_argument("--amqp", default=AMQP_URL)
    return p.parse_args(argv)


def report(args: argparse.Namespace) -> None:
    print(
        json.dumps(
            {
                "machine": platform.node(),
                "cpus": os.cpu_count(),
                "latency_ms": args.latency_ms,
                "in_flight": args.in_flight,
            }
        ),
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    ref: dict[str, Any] | None = None
    if not args.skip_reference:
        ref = asyncio.run(run_reference(args))
        print(json.dumps({"reference": ref}, ensure_ascii=False), flush=True)
    for _ in range(args.runs):
        if args.mode in ("embedded", "both"):
            rows.append(asyncio.run(run_embedded(args)))
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
        if args.mode in ("workers", "both"):
            for n in (int(x) for x in str(args.workers).split(",")):
                rows.append(run_workers(args, n))
                print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    print()
    print(
        f"{'mode':48} {'subs':>7} {'wall s':>7} {'orders/s':>9} {'CPU ms/order':>12} {'vs ref':>7}"
    )
    for r in rows:
        ratio = f"{100 * r['orders_per_s'] / ref['payments_per_s']:.0f} %" if ref else "-"
        print(
            f"{r['mode']:48} {r['subscriptions']:>7} {r['wall_s']:>7} {r['orders_per_s']:>9} "
            f"{r['cpu_ms_per_order']['total']:>12} {ratio:>7}"
        )
    if ref:
        keys = ("client", "provider", "db")
        ref_cpu = sum(ref[f"{k}_cpu_ms_per_payment"] for k in keys)
        print(
            f"{'reference pay.py pg-asyncpg-batch':48} {ref['orders_per_run']:>7} {'':>7} "
            f"{ref['payments_per_s']:>9} "
            f"{ref_cpu:>12.3f}"
        )


def main(argv: list[str] | None = None) -> None:
    report(parse_args(argv))


if __name__ == "__main__":
    main()
