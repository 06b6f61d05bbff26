"""The job kind "reconcile_unsettled" (決済結果の自動照会): every hour, each order whose
provider answer never arrived, each order the provider is still deciding (与信審査中), and each
order still 決済準備中 after the customer's 支払期限 (a コンビニ・Pay-easy・銀行振込 slip, a payment
link's 決済可能期限) is looked up at the provider by our own reference and settled as the
provider says: a slip nobody paid becomes 仮売上失敗 (期限切れ) even if the provider's
notification never came.

Seed 004's stuck 出荷報告依頼中 (the 出荷報告 reached the 後払い company, its answer did not)
so resolves itself with no second report. An order the lookup cannot decide (the provider
does not answer) stays as it is, on the dashboard's 「決済結果不明(要照会)」 and
「出荷報告依頼中のまま1日以上」 lists, where the FAQ's two procedures are written.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select

from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.jobs.kinds import ItemResult, register
from kessai.jobs.models import Job
from kessai.orders.models import Order
from kessai.payments.bulk.apply import run_waiting
from kessai.payments.models import PaymentAttempt
from kessai.payments.plans import ActionRequest
from kessai.payments.status import Action, PaymentStatus

if TYPE_CHECKING:
    from kessai.services import Services

KIND = "reconcile_unsettled"
EVERY = timedelta(hours=1)  # hourly_due: one run per Tokyo hour
MAX_ORDERS = 5_000  # a run's share; the next hour takes the rest

COLUMNS = (
    ("order_id", "受注ID"),
    ("number", "受注番号"),
    ("before", "照会前の決済状況"),
    ("after", "照会後の決済状況"),
)


async def unsettled_order_ids(services: "Services", now: datetime) -> list[int]:
    """Orders held by an attempt whose answer was lost (unknown, or sent and past its
    lease), orders in 与信審査中 and orders 決済準備中 past their 支払期限; oldest first."""
    lease = now - timedelta(seconds=services.settings.attempt_lease_seconds)
    held = (
        select(Order.id)
        .join(PaymentAttempt, PaymentAttempt.id == Order.in_flight_attempt_id)
        .where(
            or_(
                PaymentAttempt.outcome == "unknown",
                and_(PaymentAttempt.outcome == "sent", PaymentAttempt.created_at < lease),
            )
        )
    )
    deciding = select(Order.id).where(
        Order.payment_status == PaymentStatus.CREDIT_CHECK_PENDING.value,
        Order.in_flight_attempt_id.is_(None),
    )
    overdue = select(Order.id).where(
        Order.payment_status == PaymentStatus.PENDING.value,
        Order.payment_due_at < now,
        Order.in_flight_attempt_id.is_(None),
    )
    union = held.union(deciding, overdue).order_by("id").limit(MAX_ORDERS)
    async with transaction(services.sessions) as s:
        ids = (await s.scalars(union)).all()
    return [int(i) for i in ids]


class ReconcileUnsettled:
    kind = KIND
    name = "決済結果の自動照会"
    columns: Sequence[tuple[str, str]] = COLUMNS
    chunk_size = 50

    async def plan(self, services: "Services", job: Job) -> list[Any]:
        return [str(i) for i in await unsettled_order_ids(services, services.clock.now())]

    async def run(self, services: "Services", job: Job, keys: list[Any]) -> list[ItemResult]:
        results = []
        for key in keys:
            req = ActionRequest(action=Action.RECONCILE.value, actor=job.created_by)
            applied = await run_waiting(services, int(key), req)
            results.append(
                ItemResult(
                    str(key),
                    applied.status,
                    applied.message,
                    {
                        "order_id": int(key),
                        "number": applied.before.number if applied.before else "",
                        "before": applied.before.label if applied.before else "",
                        "after": applied.after.label if applied.after else "",
                    },
                )
            )
        return results


async def hourly_due(_services: "Services", now: datetime) -> str | None:
    """Due once an hour: the key is the hour in Tokyo."""
    return f"{KIND}:{to_tokyo(now):%Y-%m-%dT%H}"


register(ReconcileUnsettled())
