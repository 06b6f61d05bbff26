"""What kessai.ops.requestlog adds to every request, and a provider call's metrics.

Each request on the REST hot path now goes through RequestContext (request id, HTTP
counters and histogram, one JSON access line) and each provider call through the engine's
`_observed` (a counter and a histogram). This measures both in one process, CPU time per
request, against the same ASGI app without the wrapper (the bare reference), with the
access line rendered as `kessai serve` renders it (kessai.core.logging, written to
/dev/null). With PROMETHEUS_MULTIPROC_DIR set it measures the multiprocess counters.

    .venv/bin/python bench/ops_overhead.py --requests 20000 --runs 5
    PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) .venv/bin/python bench/ops_overhead.py
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
from typing import Any

from kessai.core import logging as kessai_logging
from kessai.core.metrics import observe_provider_call
from kessai.ops.requestlog import RequestContext


class _Route:
    path = "/api/v1/orders/{order_id}/payment/{action}"


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    scope["route"] = _Route
    scope["path_params"] = {"order_id": "42", "action": "capture"}
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def drive(app: Any, n: int) -> float:
    """CPU seconds per request for n requests through `app`."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    headers = [(b"x-request-id", b"shop-req-42"), (b"authorization", b"Bearer ks_x")]
    started = time.process_time()
    for _ in range(n):
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/orders/42/payment/capture",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
        }
        await app(scope, receive, send)
    return (time.process_time() - started) / n


def provider_calls(n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        observe_provider_call("gmo_pg", "capture", "succeeded", 0.05)
    return (time.process_time() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with open(os.devnull, "w") as sink:
        kessai_logging.configure("INFO", stream=sink)
        wrapped = RequestContext(bare)
        rows: dict[str, list[float]] = {"bare": [], "metrics": [], "metrics+access": [], "call": []}
        for _ in range(args.runs):
            rows["bare"].append(asyncio.run(drive(bare, args.requests)))
            logging.getLogger("kessai.access").setLevel(logging.WARNING)
            rows["metrics"].append(asyncio.run(drive(wrapped, args.requests)))
            logging.getLogger("kessai.access").setLevel(logging.NOTSET)
            rows["metrics+access"].append(asyncio.run(drive(wrapped, args.requests)))
            rows["call"].append(provider_calls(args.requests))
    us = {k: statistics.median(v) * 1e6 for k, v in rows.items()}
    mode = "multiprocess" if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else "single process"
    print(f"prometheus-client {mode}; median of {args.runs} runs of {args.requests} requests")
    print(f"  bare ASGI app (reference)          {us['bare']:7.1f} µs CPU / request")
    print(f"  + request id and HTTP metrics      {us['metrics'] - us['bare']:7.1f} µs added")
    print(f"  + the JSON access line             {us['metrics+access'] - us['bare']:7.1f} µs added")
    print(f"  a provider call's metrics          {us['call']:7.1f} µs / call")
    print(f"  ratio wrapped/bare                 {us['metrics+access'] / us['bare']:7.2f}")


if __name__ == "__main__":
    main()
