"""Webhook endpoints: add, change, rotate the secret, remove; a delivery sent again by hand.
Never commits (the endpoint's request does); the manual send runs outside any transaction."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from kessai.core.crypto import Keyring
from kessai.core.db import transaction
from kessai.core.errors import Conflict, InvalidInput, NotFound
from kessai.core.inputs import check_text
from kessai.webhooks import destination, signing
from kessai.webhooks import repository as repo
from kessai.webhooks.delivery import SECRET_CONTEXT, Answer, Sender, record
from kessai.webhooks.destination import Policy
from kessai.webhooks.events import EVENT_TYPES
from kessai.webhooks.models import DeliveryStatus, WebhookEndpoint
from kessai.webhooks.schemas import EndpointIn, EndpointPatch

if TYPE_CHECKING:
    from kessai.services import Services

_PREFIXES = {t.split(".", 1)[0] for t in EVENT_TYPES}


def check_event_types(types: list[str]) -> list[str]:
    unknown = [
        t for t in types if t not in EVENT_TYPES and not (t.endswith(".*") and t[:-2] in _PREFIXES)
    ]
    if unknown:
        raise InvalidInput(
            f"イベント「{'」「'.join(unknown)}」はありません",
            code="unknown_event_type",
            detail={
                "unknown": unknown,
                "allowed": [*EVENT_TYPES, *(f"{p}.*" for p in sorted(_PREFIXES))],
            },
        )
    return list(dict.fromkeys(types))


def _seal(keyring: Keyring, secret: str) -> str:
    return keyring.encrypt(secret, context=SECRET_CONTEXT)


async def create_endpoint(
    s: AsyncSession, keyring: Keyring, data: EndpointIn, now: datetime, policy: Policy
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret (shown this once). The URL is checked last: its host
    is looked up only for an otherwise valid endpoint."""
    description = check_text(data.description, "description")
    event_types = check_event_types(data.event_types)
    url = await destination.check(data.url, policy)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        url=url,
        description=description,
        event_types=event_types,
        enabled=True,
        secret=_seal(keyring, secret),
        created_at=now,
        updated_at=now,
    )
    s.add(endpoint)
    await s.flush()
    return endpoint, secret


async def endpoint_or_404(s: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await repo.get_endpoint(s, endpoint_id)
    if endpoint is None:
        raise NotFound(
            f"Webhookの送信先が見つかりませんでした (id: {endpoint_id})",
            code="webhook_endpoint_not_found",
        )
    return endpoint


async def update_endpoint(
    s: AsyncSession, endpoint_id: int, data: EndpointPatch, now: datetime, policy: Policy
) -> WebhookEndpoint:
    """The changes checked first (the URL's lookup holds no database connection)."""
    description = None if data.description is None else check_text(data.description, "description")
    types = None if data.event_types is None else check_event_types(data.event_types)
    url = None if data.url is None else await destination.check(data.url, policy)
    endpoint = await endpoint_or_404(s, endpoint_id)
    if url is not None:
        endpoint.url = url
    if description is not None:
        endpoint.description = description
    if types is not None:
        endpoint.event_types = types
    if data.enabled is not None and data.enabled != endpoint.enabled:
        endpoint.enabled = data.enabled
        endpoint.disabled_reason = None if data.enabled else "手動で無効にしました"
    endpoint.updated_at = now
    await s.flush()
    return endpoint


async def rotate_secret(
    s: AsyncSession, keyring: Keyring, endpoint_id: int, overlap: timedelta, now: datetime
) -> tuple[WebhookEndpoint, str]:
    """A new secret; the old one keeps signing (beside it) for `overlap`."""
    endpoint = await endpoint_or_404(s, endpoint_id)
    secret = signing.new_secret()
    if overlap > timedelta(0):
        endpoint.previous_secret, endpoint.previous_until = endpoint.secret, now + overlap
    else:
        endpoint.previous_secret, endpoint.previous_until = None, None
    endpoint.secret = _seal(keyring, secret)
    endpoint.updated_at = now
    await s.flush()
    return endpoint, secret


async def delete_endpoint(s: AsyncSession, endpoint_id: int) -> None:
    await s.delete(await endpoint_or_404(s, endpoint_id))


def delivery_not_found(delivery_id: int) -> NotFound:
    return NotFound(
        f"Webhookの配信が見つかりませんでした (id: {delivery_id})",
        code="webhook_delivery_not_found",
    )


async def redeliver(services: "Services", delivery_id: int) -> Answer:
    """Send one delivery again now (手動再送), whatever its status; the try is logged as
    manual and a success marks the delivery 送信成功."""
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        found = await repo.get_delivery(s, delivery_id)
        if found is None:
            raise delivery_not_found(delivery_id)
        delivery, _ = found
        if delivery.status == DeliveryStatus.SENDING.value:
            raise Conflict(
                "この配信は送信中です。しばらくしてから再度お試しください",
                code="webhook_delivery_in_progress",
            )
        values: dict[str, Any] = {"attempts": delivery.attempts + 1}
        await repo.set_delivery(s, delivery_id, values)
        outgoing = await repo.outgoing(s, [(delivery_id, delivery.attempts + 1)], now)
    sender = Sender(services)
    try:
        answer = await sender.post(outgoing[0])
    finally:
        await sender.aclose()
    async with transaction(services.sessions) as s:
        await record(s, [(outgoing[0], answer)], services.clock.now(), manual=True)
    return answer
