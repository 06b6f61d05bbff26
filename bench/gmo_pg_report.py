"""Figures of bench/gmo_pg.py: one timed run, the medians over runs, the printed summary."""

from __future__ import annotations

import argparse
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class KessaiRun:
    ms: list[float]
    wall: float
    outcomes: Counter[str]
    calls: Counter[str]
    statuses: Counter[str]
    cpu: float
    sim_cpu: float
    db_cpu: float
    db_opened: int
    busy: float
    load: float = 0.0

    @property
    def provider_calls(self) -> int:
        return sum(self.calls.values())


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarize(runs: list[KessaiRun], n: int) -> dict[str, Any]:
    def med(f: Any) -> float:
        return round(statistics.median(f(r) for r in runs), 3)

    outcomes: Counter[str] = sum((r.outcomes for r in runs), Counter())
    calls: Counter[str] = sum((r.calls for r in runs), Counter())
    statuses: Counter[str] = sum((r.statuses for r in runs), Counter())
    return {
        "orders_per_run": n,
        "payments_per_s": med(lambda r: n / r.wall),
        "provider_calls_per_s": med(lambda r: r.provider_calls / r.wall),
        "runs_payments_per_s": [round(n / r.wall, 1) for r in runs],
        "runs_provider_calls_per_s": [round(r.provider_calls / r.wall, 1) for r in runs],
        "p50_ms": med(lambda r: statistics.median(r.ms)),
        "p99_ms": med(lambda r: percentile(r.ms, 99)),
        "kessai_cpu_ms_per_payment": med(lambda r: 1000 * r.cpu / n),
        "simulator_cpu_ms_per_payment": med(lambda r: 1000 * r.sim_cpu / n),
        "db_cpu_ms_per_payment": med(lambda r: 1000 * r.db_cpu / n),
        "db_connections_opened_per_run": med(lambda r: r.db_opened),
        "machine_busy_cores": med(lambda r: r.busy / r.wall),
        "other_busy_cores": med(lambda r: max(0.0, r.busy - r.cpu - r.sim_cpu - r.db_cpu) / r.wall),
        "load_average_at_start": [r.load for r in runs],
        "outcomes": dict(outcomes),
        "simulator_calls": dict(calls),
        "payment_statuses": dict(statuses),
    }


def report(args: argparse.Namespace, kessai: dict[str, Any], ref: dict[str, Any] | None) -> None:
    k = kessai
    print(
        f"\nkessai (gmo_pg, {args.source}, L={args.latency_ms} ms, C={args.concurrency}, "
        f"{args.orders} orders x {args.runs} runs, loop {args.loop}):\n"
        f"  payments/s {k['payments_per_s']:.1f}  provider calls/s "
        f"{k['provider_calls_per_s']:.1f}  runs {k['runs_payments_per_s']}\n"
        f"  p50 {k['p50_ms']:.0f} ms  p99 {k['p99_ms']:.0f} ms\n"
        f"  CPU ms/payment: kessai {k['kessai_cpu_ms_per_payment']:.2f}  simulator "
        f"{k['simulator_cpu_ms_per_payment']:.2f}  PostgreSQL {k['db_cpu_ms_per_payment']:.2f}\n"
        f"  machine busy {k['machine_busy_cores']:.2f} cores (others "
        f"{k['other_busy_cores']:.2f}); outcomes {k['outcomes']}"
    )
    if ref is None:
        return
    ratio = k["provider_calls_per_s"] / ref["payments_per_s"]
    print(
        f"reference ({ref['mode']}, {ref['orders_per_run']} orders x {args.runs} runs):\n"
        f"  payments/s {ref['payments_per_s']:.1f}  runs {ref['runs_payments_per_s']}\n"
        f"  CPU ms/payment: client {ref['client_cpu_ms_per_payment']:.2f}  provider "
        f"{ref['provider_cpu_ms_per_payment']:.2f}  PostgreSQL "
        f"{ref['db_cpu_ms_per_payment']:.2f}; others {ref['other_busy_cores']:.2f} cores\n"
        f"ratio: kessai provider calls/s / reference payments/s = {ratio:.1%} "
        f"(target >= 90 %: {'met' if ratio >= 0.9 else 'NOT met'})"
    )
