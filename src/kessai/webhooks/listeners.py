"""What else reads the events the relay hands out, in the relay's own transaction (the
automation rules register here), so an event is taken up exactly when it is relayed."""

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from kessai.webhooks.models import Event

if TYPE_CHECKING:
    from kessai.services import Services

Listener = Callable[["Services", AsyncSession, Sequence[Event]], Awaitable[None]]
LISTENERS: list[Listener] = []


def listen(listener: Listener) -> Listener:
    LISTENERS.append(listener)
    return listener


async def after_relay(services: "Services", session: AsyncSession, events: Sequence[Event]) -> None:
    if events:
        for listener in LISTENERS:
            await listener(services, session, events)
