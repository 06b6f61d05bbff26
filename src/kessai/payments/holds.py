"""Waiting on an order held by a provider call written ahead (PaymentEngine step 1).

A live process settles its call within moments. A run that died, or failed to write the
answer down (the database restarted under it), leaves the attempt 'sent': once its lease
(`attempt_lease_seconds`) has passed, the engine settles it by a lookup before anything
else. A job that meets a held order waits for one or the other instead of reporting a
failure, or acting again on an order the provider may already have charged.
"""

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import select

from kessai.core.db import read_transaction
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt

if TYPE_CHECKING:
    from kessai.services import Services

POLL_SECONDS = 1.0  # how often a held order is looked at while its attempt is in flight


async def await_release(services: "Services", order_id: int) -> bool:
    """Return when the order is no longer held (False), or its attempt was answered
    unknown or its lease has run out (True: held still, for the engine to settle by a
    lookup)."""
    lease = services.settings.attempt_lease_seconds
    while True:
        async with read_transaction(services.sessions) as s:
            row = (
                await s.execute(
                    select(PaymentAttempt.created_at, PaymentAttempt.outcome)
                    .join(Order, Order.in_flight_attempt_id == PaymentAttempt.id)
                    .where(Order.id == order_id)
                )
            ).one_or_none()
        if row is None:
            return False
        left = (row.created_at - services.clock.now()).total_seconds() + lease
        if row.outcome != "sent" or left < 0:
            return True
        await asyncio.sleep(min(POLL_SECONDS, left + 0.05))
