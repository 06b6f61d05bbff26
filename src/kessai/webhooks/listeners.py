"""What else reads the events the relay hands out, in the relay's own transaction (the
automation rules register here), so an event is taken up exactly when it is relayed. A
listener answers the ids of the jobs it created, sent once the relay has committed."""

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from kessai.webhooks.models import Event

if TYPE_CHECKING:
    from kessai.services import Services

Listener = Callable[["Services", AsyncSession, Sequence[Event]], Awaitable[list[int]]]
LISTENERS: list[Listener] = []


def listen(listener: Listener) -> Listener:
    LISTENERS.append(listener)
    return listener


async def after_relay(
    services: "Services", session: AsyncSession, events: Sequence[Event]
) -> list[int]:
    jobs: list[int] = []
    if events:
        for listener in LISTENERS:
            jobs.extend(await listener(services, session, events))
    return jobs
