"""Benchmark: outbound webhooks. N order changes (authorizations on the fake connector,
each writing its payment.succeeded event into the outbox in the same statement), with the
webhook pump running in the same process as `kessai serve` runs it, in two rounds:

    none       no endpoint: the events are relayed to nobody (the reference)
    endpoints  --endpoints receivers on loopback (another process), every event to each

Reported per round: the changes' wall time and changes/s; with endpoints, deliveries/s
(from the first change to the last delivery received) and the added time per order change
as a ratio to the round without endpoints. The receivers verify nothing (the tests do);
they count.

Set-up, not timed: a fresh database (kessai_bench_<random> on --pg-admin, or a SQLite temp
file with --sqlite), migrated; a fake account + card method, one customer, 2 x N orders
bulk-inserted (N per round). The database is dropped and the receiver stopped at the end.

    .venv/bin/python bench/webhooks.py                      # 10,000 changes, 2 endpoints
    .venv/bin/python bench/webhooks.py --changes 2000 --sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, insert, select

from gmo_pg_procs import child, free_port, load_average
from kessai.core.db import transaction
from kessai.core.migrate import upgrade
from kessai.core.settings import Env, Settings
from kessai.orders.models import Order
from kessai.orders.service import new_order_values
from kessai.payments.plans import ActionRequest, ShipmentInput
from kessai.providers.fake.connector import FakeConnector
from kessai.services import Services, build_services
from kessai.webhooks.delivery import Pump
from kessai.webhooks.models import WebhookDelivery
from kessai.webhooks.schemas import EndpointIn
from kessai.webhooks.service import create_endpoint
from pgdb import temporary_pg_database
from shop import add_shop

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
KEY = base64.b64encode(b"kessai-bench-master-key-32bytes!").decode()
WAIT_LIMIT = 600.0


# ---------------------------------------------------------------- the receivers (a child)
def receiver_main(port: int) -> None:
    counts: dict[str, int] = {}

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        counts[request.path] = counts.get(request.path, 0) + 1
        return web.Response(text="ok")

    async def count(_: web.Request) -> web.Response:
        return web.json_response(counts)

    app = web.Application()
    app.router.add_get("/count", count)
    app.router.add_post("/{tail:.*}", hook)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def received(base: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/count") as r:
        counts: dict[str, int] = await r.json()
    return sum(counts.values())


# ---------------------------------------------------------------- kessai's side
def services_for(url: str) -> Services:
    svc = build_services(Settings(database_url=url, env=Env.SANDBOX, secret_key=KEY))
    svc.registry.register("fake", lambda account_id, settings: FakeConnector(account_id, settings))
    return svc


async def seed(services: Services, n: int) -> list[list[int]]:
    """Two rounds' worth of orders, 決済準備中; the ids of each round."""
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        shop = await add_shop(s, connector="fake", settings={}, code="bench-card", now=now)
        rows = [
            new_order_values(
                now,
                number=f"WH{i:08d}",
                customer_id=shop.customer_id,
                payment_method_id=shop.method_id,
                amount=1000 + i % 5000,
                tax=90,
                payment_source={"token": "tok_bench"},
            )
            for i in range(2 * n)
        ]
        await s.execute(insert(Order), rows)
        ids = list((await s.scalars(select(Order.id).order_by(Order.id))).all())
    return [ids[:n], ids[n:]]


async def change_all(services: Services, ids: list[int], in_flight: int) -> float:
    """Authorize every order, `in_flight` at once; the wall time."""
    req = ActionRequest(action="authorize", actor="bench", shipment=ShipmentInput(None, None, None))
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in ids:
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            result = await services.payments.run(queue.get_nowait(), req)
            assert result.outcome == "succeeded", result

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return time.perf_counter() - started


async def delivered(services: Services) -> int:
    async with transaction(services.sessions) as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == "succeeded")
            )
            or 0
        )


async def bench(url: str, args: argparse.Namespace, receiver: str) -> dict[str, Any]:
    services = services_for(url)
    try:
        rounds = await seed(services, args.changes)
        pump = asyncio.create_task(Pump(services).run())
        # Round 1: no endpoint (the pump relays to nobody).
        bare = await change_all(services, rounds[0], args.in_flight)
        await asyncio.sleep(1.0)  # the pump catches up with round 1's events
        async with transaction(services.sessions) as s:
            for n in range(args.endpoints):
                await create_endpoint(
                    s, services.keyring, EndpointIn(url=f"{receiver}/shop{n}"), services.clock.now()
                )
        # Round 2: the same changes on fresh orders, every event to each endpoint.
        before = await received(receiver)
        started = time.perf_counter()
        hooked = await change_all(services, rounds[1], args.in_flight)
        expected = before + args.changes * args.endpoints
        while await received(receiver) < expected:
            assert time.perf_counter() - started < WAIT_LIMIT, "deliveries did not finish"
            await asyncio.sleep(0.05)
        while await delivered(services) < args.changes * args.endpoints:  # and recorded
            assert time.perf_counter() - started < WAIT_LIMIT, "deliveries not recorded"
            await asyncio.sleep(0.05)
        all_done = time.perf_counter() - started
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        return {
            "bare": bare,
            "hooked": hooked,
            "all_done": all_done,
            "deliveries": args.changes * args.endpoints,
            "recorded": await delivered(services),
        }
    finally:
        await services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--endpoints", type=int, default=2)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--pg-admin", default=PG_ADMIN_DSN)
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receiver_main(args.receiver)
        return
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with child([sys.executable, __file__, "--receiver", str(port)], port=port):
        results = []
        for _ in range(args.runs):
            if args.sqlite:
                with tempfile.TemporaryDirectory() as tmp:
                    url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                    upgrade(url)
                    results.append(asyncio.run(bench(url, args, base)))
            else:
                with temporary_pg_database(args.pg_admin) as (url, _):
                    upgrade(url)
                    results.append(asyncio.run(bench(url, args, base)))
    n = args.changes
    bare = statistics.median(r["bare"] for r in results)
    hooked = statistics.median(r["hooked"] for r in results)
    done = statistics.median(r["all_done"] for r in results)
    deliveries = results[0]["deliveries"]
    print(
        f"database: {'SQLite' if args.sqlite else 'PostgreSQL'}, python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores, load {load_average():.2f}, runs {args.runs}"
    )
    print(f"order changes: {n:,} authorizations, {args.in_flight} in flight")
    print(
        f"  no endpoint:  {bare:7.2f} s  {n / bare:8.0f} changes/s  "
        f"{bare / n * 1000:6.3f} ms/change"
    )
    print(
        f"  {args.endpoints} endpoints:  {hooked:7.2f} s  {n / hooked:8.0f} changes/s  "
        f"{hooked / n * 1000:6.3f} ms/change"
    )
    print(
        f"  added time per change: {(hooked - bare) / n * 1000:+.3f} ms "
        f"(ratio {hooked / bare:.3f} to no endpoint)"
    )
    print(
        f"deliveries: {deliveries:,} in {done:.2f} s from the first change = "
        f"{deliveries / done:,.0f} deliveries/s (recorded 送信成功: {results[-1]['recorded']:,})"
    )


if __name__ == "__main__":
    main()
