"""Running one payment operation on one order for a job, and what its CSV row says.

Refusals by status or rule, declines and unreachable providers are the order's result
(a FAILED row in Japanese), never a crash of the chunk.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from kessai.core.db import database_failure, transaction
from kessai.core.errors import InProgress, KessaiError, in_words
from kessai.jobs.status import ItemStatus
from kessai.orders.models import Order
from kessai.payments.holds import await_release
from kessai.payments.plans import ActionRequest
from kessai.payments.status import PaymentStatus

if TYPE_CHECKING:
    from kessai.payments.engine import ActionResult
    from kessai.services import Services

log = logging.getLogger("kessai.payments.bulk")

# An order held by another request (a double click, two imports of one file) is asked
# again after these waits; the other request has usually settled by then.
IN_PROGRESS_WAITS = (0.2, 0.5, 1.0, 2.0)

# Outcomes of PaymentEngine.run that leave the operation done, or accepted and waiting
# (与信審査中, 3Dセキュア); declined and unknown ones are the order's failure.
_DONE = frozenset({"succeeded", "local", "pending"})


@dataclass(frozen=True)
class OrderState:
    id: int
    number: str
    payment_status: str

    @property
    def label(self) -> str:
        try:
            return PaymentStatus(self.payment_status).label
        except ValueError:
            return self.payment_status


@dataclass(frozen=True)
class Applied:
    status: ItemStatus
    message: str
    before: OrderState | None
    after: OrderState | None


async def order_state(services: "Services", order_id: int) -> OrderState | None:
    async with transaction(services.sessions) as s:
        row = (
            await s.execute(
                select(Order.id, Order.number, Order.payment_status).where(Order.id == order_id)
            )
        ).first()
    return None if row is None else OrderState(int(row[0]), str(row[1]), str(row[2]))


async def run_waiting(services: "Services", order_id: int, req: ActionRequest) -> Applied:
    """One order of a job: PaymentEngine.run, waiting out another request's hold and
    settling an unknown answer; a database failure is the chunk's, run again later."""
    before = await order_state(services, order_id)
    if before is None:
        return Applied(ItemStatus.FAILED, "受注が見つかりませんでした", None, None)
    try:
        result = await _run(services, order_id, req)
        if result.outcome == "unknown":
            # No answer (a timeout after sending, or kessai could not write it down): run
            # again, the engine first settles the call by a lookup and repeats it only if
            # it never reached the provider.
            result = await _run(services, order_id, req)
    except KessaiError as exc:
        after = await order_state(services, order_id)
        return Applied(ItemStatus.FAILED, exc.message, before, after)
    except Exception as exc:  # one order's surprise must not stop the others
        if database_failure(exc):
            raise  # the chunk runs again; what the provider did is settled by a lookup
        log.exception("bulk payment action on order %s failed", order_id)
        return Applied(
            ItemStatus.FAILED,
            f"処理中にエラーが発生しました: {in_words(exc)}",
            before,
            await order_state(services, order_id),
        )
    status = ItemStatus.SUCCEEDED if result.outcome in _DONE else ItemStatus.FAILED
    return Applied(status, result.message, before, await order_state(services, order_id))


async def _run(services: "Services", order_id: int, req: ActionRequest) -> "ActionResult":
    """PaymentEngine.run, asked again while another request holds the order."""
    for wait in IN_PROGRESS_WAITS:
        try:
            return await services.payments.run(order_id, req)
        except InProgress:
            await asyncio.sleep(wait)
    try:
        return await services.payments.run(order_id, req)
    except InProgress:
        # Held still: perhaps by a run that died mid-call (or could not write the answer
        # down). Once its lease passes the engine settles it by a lookup.
        await await_release(services, order_id)
        return await services.payments.run(order_id, req)
