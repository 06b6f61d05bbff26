"""The floor under bench/core.py's figures: the same client against bench/floor_app.py.

bench/core.py's "overhead" (p50 − simulated provider latency) includes what the load
generator, uvicorn and a shared 2-core box cost before kessai does anything. This runs the
same clients (bench/core.py's `pay`: authorize then capture, every answer checked) against
an app that only sleeps the latency and answers, so that floor can be read off alone.

    .venv/bin/python bench/floor.py --clients 1,8,32 --latency-ms 50 --runs 3 --orders 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from core import Client, free_port, pay, percentile, run_client

BENCH = Path(__file__).resolve().parent


async def cell(base: str, clients: int, orders: int) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as http:
        client = Client(http, base, idempotency=False)
        await pay(client, list(range(1, 2 * clients + 1)), clients)  # warm-up
        ms, wall, errors = await pay(client, list(range(1, orders + 1)), clients)
    if errors:
        raise RuntimeError(f"floor app answered wrongly: {errors[:3]}")
    every = ms["authorize"] + ms["capture"]
    return {"p50": percentile(every, 50), "p99": percentile(every, 99), "ops_s": len(every) / wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--clients", default="1,8,32")
    p.add_argument("--latency-ms", type=int, default=50)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--orders", type=int, default=300)
    args = p.parse_args()
    port = free_port()
    env = {**os.environ, "LATENCY_MS": str(args.latency_ms)}
    cmd = [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "floor_app:app"]
    cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen(cmd, env=env)
    try:
        time.sleep(2)
        for clients in (int(c) for c in args.clients.split(",")):
            runs = [
                run_client(cell(f"http://127.0.0.1:{port}", clients, args.orders))
                for _ in range(args.runs)
            ]
            p50 = statistics.median(r["p50"] for r in runs)
            p99 = statistics.median(r["p99"] for r in runs)
            ops = statistics.median(r["ops_s"] for r in runs)
            print(
                f"floor  lat {args.latency_ms} C {clients:2d} | p50 {p50:6.1f} p99 {p99:6.1f} "
                f"ovh {p50 - args.latency_ms:5.1f} | {ops:5.0f} ops/s"
            )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
