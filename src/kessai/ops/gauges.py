"""What /metrics reads from the database and the broker when it is scraped.

These are states, not events, so any process can tell them: payments awaiting
reconciliation and orders held, jobs by kind and status with their items, chunks
waiting, the mail outbox, webhook deliveries, this month's 洗替 results (Asia/Tokyo), the
broker's queue.
A handful of GROUP BY counts; a scrape every 15 s costs the database little.
"""

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kessai.core.clock import TOKYO
from kessai.customers.models import CustomerCard
from kessai.jobs.models import Job, JobChunk
from kessai.jobs.status import ChunkStatus
from kessai.notifications.models import OutboxMail
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt
from kessai.webhooks.models import WebhookDelivery

if TYPE_CHECKING:
    from kessai.services import Services

BROKER_TIMEOUT = 3.0


async def read(services: "Services") -> list[Metric]:
    now = services.clock.now()
    async with services.engine.connect() as conn:
        found = [
            *await _payments(
                conn, now - timedelta(seconds=services.settings.attempt_lease_seconds)
            ),
            *await _jobs(conn),
            await _mails(conn),
            await _webhooks(conn),
            await _updater(conn, now),
        ]
    if services.settings.broker_url:
        found.extend(await _queue(services.settings.broker_url, services.settings.broker_queue))
    return found


async def _payments(conn: AsyncConnection, lease_start: datetime) -> list[Metric]:
    held = await conn.scalar(
        select(func.count()).select_from(Order).where(Order.in_flight_attempt_id.is_not(None))
    )
    # Held by an attempt whose answer was lost (unknown), or that is past its lease: the
    # next action on the order (or an operator's 決済照会) asks the provider first.
    awaiting = await conn.scalar(
        select(func.count())
        .select_from(Order)
        .join(PaymentAttempt, PaymentAttempt.id == Order.in_flight_attempt_id)
        .where(
            or_(
                PaymentAttempt.outcome == "unknown",
                and_(PaymentAttempt.outcome == "sent", PaymentAttempt.created_at < lease_start),
            )
        )
    )
    held_g = GaugeMetricFamily(
        "kessai_orders_held", "Orders held by a payment attempt not yet settled"
    )
    held_g.add_metric([], int(held or 0))
    awaiting_g = GaugeMetricFamily(
        "kessai_payments_awaiting_reconciliation",
        "Orders whose last provider call has an unknown outcome (or outlived its lease)",
    )
    awaiting_g.add_metric([], int(awaiting or 0))
    return [held_g, awaiting_g]


async def _jobs(conn: AsyncConnection) -> list[Metric]:
    jobs = GaugeMetricFamily("kessai_jobs", "Jobs by kind and status", labels=["kind", "status"])
    items = GaugeMetricFamily(
        "kessai_job_items",
        "Items of the jobs so far, by kind and result, as each job counts them",
        labels=["kind", "result"],
    )
    totals: dict[tuple[str, str], int] = {}
    rows = await conn.execute(
        select(
            Job.kind,
            Job.status,
            func.count(),
            func.coalesce(func.sum(Job.succeeded), 0),
            func.coalesce(func.sum(Job.failed), 0),
            func.coalesce(func.sum(Job.skipped), 0),
        ).group_by(Job.kind, Job.status)
    )
    for kind, status, n, succeeded, failed, skipped in rows:
        jobs.add_metric([kind, status], n)
        for result, count in (("succeeded", succeeded), ("failed", failed), ("skipped", skipped)):
            totals[kind, result] = totals.get((kind, result), 0) + int(count)
    for (kind, result), count in sorted(totals.items()):
        items.add_metric([kind, result], count)
    waiting = GaugeMetricFamily(
        "kessai_job_chunks_waiting", "Chunks planned and not yet done, by kind", labels=["kind"]
    )
    pending = await conn.execute(
        select(Job.kind, func.count())
        .select_from(JobChunk)
        .join(Job, Job.id == JobChunk.job_id)
        .where(JobChunk.status == ChunkStatus.PENDING.value)
        .group_by(Job.kind)
    )
    for kind, n in pending:
        waiting.add_metric([kind], n)
    return [jobs, items, waiting]


async def _mails(conn: AsyncConnection) -> Metric:
    outbox = GaugeMetricFamily("kessai_mail_outbox", "Mails by status", labels=["status"])
    rows = await conn.execute(select(OutboxMail.status, func.count()).group_by(OutboxMail.status))
    for status, n in rows:
        outbox.add_metric([status], n)
    return outbox


async def _webhooks(conn: AsyncConnection) -> Metric:
    gauge = GaugeMetricFamily(
        "kessai_webhook_deliveries", "Webhook deliveries by status", labels=["status"]
    )
    rows = await conn.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    )
    for status, n in rows:
        gauge.add_metric([status], n)
    return gauge


async def _updater(conn: AsyncConnection, now: datetime) -> Metric:
    local = now.astimezone(TOKYO)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    gauge = GaugeMetricFamily(
        "kessai_card_updater_results_month",
        "Cards by their 洗替 result checked this month (Asia/Tokyo): 0 有効性OK, 1 有効性NG, "
        "2 照合エラー, 3 入力データエラー",
        labels=["result"],
    )
    rows = await conn.execute(
        select(CustomerCard.updater_result, func.count())
        .where(
            CustomerCard.updater_checked_at >= month_start,
            CustomerCard.updater_result.is_not(None),
        )
        .group_by(CustomerCard.updater_result)
    )
    for result, n in rows:
        gauge.add_metric([str(result)], n)
    return gauge


def _queue_counts(url: str, queue: str) -> dict[str, int]:
    """Messages waiting in the Dramatiq queue, its delay queue and its dead letters."""
    names = {"ready": queue, "delayed": f"{queue}.DQ", "dead": f"{queue}.XQ"}
    if url.startswith("amqp"):
        import pika  # type: ignore[import-untyped]

        params = pika.URLParameters(url)
        params.socket_timeout = params.blocked_connection_timeout = BROKER_TIMEOUT
        params.connection_attempts = 1
        connection = pika.BlockingConnection(params)
        try:
            found: dict[str, int] = {}
            for state, name in names.items():
                channel = connection.channel()
                try:
                    found[state] = channel.queue_declare(name, passive=True).method.message_count
                except pika.exceptions.ChannelClosedByBroker:  # not declared yet: empty
                    found[state] = 0
            return found
        finally:
            connection.close()
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=BROKER_TIMEOUT)
    try:
        return {
            "ready": int(client.llen(f"dramatiq:{queue}")),
            "delayed": int(client.llen(f"dramatiq:{queue}.DQ")),
            "dead": int(client.zcard(f"dramatiq:{queue}.XQ")),
        }
    finally:
        client.close()


async def _queue(url: str, queue: str) -> list[Metric]:
    up = GaugeMetricFamily("kessai_broker_up", "1 when the broker answered this scrape")
    depth = GaugeMetricFamily(
        "kessai_queue_messages",
        "Messages in the job queue (ready, delayed for a retry, dead)",
        labels=["queue", "state"],
    )
    try:
        async with asyncio.timeout(BROKER_TIMEOUT * 2):
            counts = await asyncio.to_thread(_queue_counts, url, queue)
    except Exception:  # unreachable: say so, and let the rest of the scrape through
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    for state, n in counts.items():
        depth.add_metric([queue, state], n)
    return [up, depth]
