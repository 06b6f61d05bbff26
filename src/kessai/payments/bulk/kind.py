"""The job kind "bulk_payment_action": one operation on every order of the job.

Keys are [position, order id]: the position is the row's place in the job's CSV, so an
item recorded as soon as it is done lands where the runner would put it.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kessai.core.db import transaction
from kessai.jobs.kinds import ItemResult, register
from kessai.jobs.models import Job
from kessai.payments.bulk import progress
from kessai.payments.bulk.actions import BULK_ACTIONS
from kessai.payments.bulk.apply import run_waiting
from kessai.payments.bulk.service import KIND, matching_order_ids
from kessai.payments.plans import ActionRequest
from kessai.payments.status import Action

if TYPE_CHECKING:
    from kessai.services import Services

COLUMNS = (
    ("order_id", "受注ID"),
    ("number", "受注番号"),
    ("action", "処理"),
    ("before", "処理前の決済状況"),
    ("after", "処理後の決済状況"),
)


class BulkPaymentAction:
    kind = KIND
    name = "決済状況一括変更"
    columns: Sequence[tuple[str, str]] = COLUMNS
    chunk_size = 50
    # Orders of one chunk in flight at once: provider calls wait on the network, not on us.
    concurrency = 8

    async def plan(self, services: "Services", job: Job) -> list[Any]:
        ids = job.params.get("order_ids")
        if ids is None:
            async with transaction(services.sessions) as s:
                ids = await matching_order_ids(s, job.params["search"])
        return [[seq, int(order_id)] for seq, order_id in enumerate(ids)]

    async def run(self, services: "Services", job: Job, keys: list[Any]) -> list[ItemResult]:
        bulk = BULK_ACTIONS[Action(job.params["action"])]

        async def one(seq: int, key: str) -> ItemResult:
            req = ActionRequest(action=bulk.action.value, actor=job.created_by)
            applied = await run_waiting(services, int(key), req)
            return ItemResult(
                key,
                applied.status,
                applied.message,
                {
                    "order_id": int(key),
                    "number": applied.before.number if applied.before else "",
                    "action": bulk.label,
                    "before": applied.before.label if applied.before else "",
                    "after": applied.after.label if applied.after else "",
                },
            )

        items = [(int(seq), str(int(order_id))) for seq, order_id in keys]
        return await progress.run_items(services, job.id, items, one, self.concurrency)


register(BulkPaymentAction())
