"""Prometheus metrics every process counts (kessai.ops.gauges adds what /metrics reads at scrape).

Counted in the process (a counter's increment, no database write):
  kessai_http_requests_total / kessai_http_request_duration_seconds   by route template
  kessai_provider_calls_total / kessai_provider_call_duration_seconds  by provider, operation
  kessai_job_chunks_total, kessai_job_items_total, kessai_job_duration_seconds  by job kind
  kessai_mail_deliveries_total, kessai_webhook_deliveries_total          by result
kessai.ops.gauges reads from the database when /metrics is scraped (right whichever process did it):
  payments awaiting reconciliation, orders held, jobs by kind and status with their item
  counts, chunks waiting, the mail outbox, webhook deliveries, this month's 洗替 results,
  the broker's queue.

Several processes (API processes, `kessai worker`'s processes) share their counts through
prometheus-client's multiprocess mode: set PROMETHEUS_MULTIPROC_DIR to one empty directory
for all kessai processes of a machine, emptied before they start (deploy/systemd does), and
any API process's /metrics answers the machine's totals. Without it, a process counts alone.
"""

import os
from collections.abc import Iterable, Iterator

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0)

HTTP_REQUESTS = Counter(
    "kessai_http_requests_total",
    "HTTP requests by method, route template and status",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "kessai_http_request_duration_seconds",
    "HTTP request time by method and route template",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
PROVIDER_CALLS = Counter(
    "kessai_provider_calls_total",
    "Calls to payment providers by provider, operation and outcome",
    ["provider", "operation", "outcome"],
)
PROVIDER_DURATION = Histogram(
    "kessai_provider_call_duration_seconds",
    "Time of a call to a payment provider",
    ["provider", "operation"],
    buckets=LATENCY_BUCKETS,
)
JOB_CHUNKS = Counter(
    "kessai_job_chunks_total",
    "Job chunks run, by kind and outcome (done, retry, failed)",
    ["kind", "outcome"],
)
JOB_ITEMS = Counter(
    "kessai_job_items_total",
    "Job items recorded by kind and result (succeeded, failed, skipped)",
    ["kind", "result"],
)
JOB_DURATION = Histogram(
    "kessai_job_duration_seconds",
    "Time from a job's start to its end, by kind and final status",
    ["kind", "status"],
    buckets=JOB_BUCKETS,
)
WEBHOOK_DELIVERIES = Counter(
    "kessai_webhook_deliveries_total",
    "Webhook tries by result: delivered (2xx), gone (410: endpoint disabled), refused (the"
    " destination is not allowed: not sent), failed (else)",
    ["result"],
)
MAIL_DELIVERIES = Counter(
    "kessai_mail_deliveries_total",
    "Mails handed to the SMTP server (sent) or not (failed)",
    ["result"],
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


def observe_provider_call(provider: str, operation: str, outcome: str, seconds: float) -> None:
    PROVIDER_CALLS.labels(provider, operation, outcome).inc()
    PROVIDER_DURATION.labels(provider, operation).observe(seconds)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _Fixed(Collector):
    def __init__(self, metrics: Iterable[Metric]) -> None:
        self.metrics = list(metrics)

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


class _Default(Collector):
    """This process's own counters (no multiprocess directory)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def render(extra: Iterable[Metric] = ()) -> bytes:
    """The exposition text: the counted metrics (every process of the machine sharing the
    multiprocess directory, else this one) and `extra`, read at scrape time."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Default())
    registry.register(_Fixed(extra))
    return generate_latest(registry)
