"""/api/v1/webhook-endpoints, /api/v1/webhook-deliveries, /api/v1/events: outbound webhooks."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from kessai.core.db import read_transaction, transaction
from kessai.core.errors import InvalidInput
from kessai.web.deps import IdPath, IdQuery, PrincipalDep, ServicesDep
from kessai.webhooks import repository as repo
from kessai.webhooks import service
from kessai.webhooks.destination import Policy
from kessai.webhooks.events import EVENT_TYPES, subject_of
from kessai.webhooks.models import DeliveryStatus
from kessai.webhooks.schemas import (
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointWithSecret,
    EventOut,
    EventTypeOut,
    RotateIn,
)

router = APIRouter(prefix="/api/v1", tags=["Webhook"])


def _with_secret(out: EndpointOut, secret: str) -> EndpointWithSecret:
    return EndpointWithSecret(**out.model_dump(), secret=secret)


@router.get("/webhook-event-types", response_model=list[EventTypeOut], summary="イベントの種類")
async def event_types(_: PrincipalDep) -> list[EventTypeOut]:
    return [EventTypeOut(type=t, label=label) for t, label in EVENT_TYPES.items()]


@router.get("/webhook-endpoints", response_model=list[EndpointOut], summary="Webhook送信先の一覧")
async def list_endpoints(services: ServicesDep, _: PrincipalDep) -> list[EndpointOut]:
    now = services.clock.now()
    async with read_transaction(services.sessions) as s:
        return [EndpointOut.of(e, now) for e in await repo.list_endpoints(s)]


@router.post(
    "/webhook-endpoints",
    response_model=EndpointWithSecret,
    status_code=201,
    summary="Webhook送信先の登録 (署名シークレットはこの応答でのみ表示)",
)
async def create_endpoint(
    data: EndpointIn, services: ServicesDep, _: PrincipalDep
) -> EndpointWithSecret:
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        endpoint, secret = await service.create_endpoint(
            s, services.keyring, data, now, Policy.of(services.settings)
        )
        out = EndpointOut.of(endpoint, now)
    return _with_secret(out, secret)


@router.get("/webhook-endpoints/{endpoint_id}", response_model=EndpointOut, summary="Webhook送信先")
async def get_endpoint(endpoint_id: IdPath, services: ServicesDep, _: PrincipalDep) -> EndpointOut:
    async with read_transaction(services.sessions) as s:
        return EndpointOut.of(await service.endpoint_or_404(s, endpoint_id), services.clock.now())


@router.patch(
    "/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    summary="Webhook送信先の変更 (URL・イベント・有効/無効)",
)
async def update_endpoint(
    endpoint_id: IdPath, data: EndpointPatch, services: ServicesDep, _: PrincipalDep
) -> EndpointOut:
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        endpoint = await service.update_endpoint(
            s, endpoint_id, data, now, Policy.of(services.settings)
        )
        return EndpointOut.of(endpoint, now)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointWithSecret,
    summary="署名シークレットの切り替え (旧シークレットでも overlap_hours の間は署名)",
)
async def rotate_secret(
    endpoint_id: IdPath, services: ServicesDep, _: PrincipalDep, data: RotateIn | None = None
) -> EndpointWithSecret:
    overlap = timedelta(hours=(data or RotateIn()).overlap_hours)
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        endpoint, secret = await service.rotate_secret(
            s, services.keyring, endpoint_id, overlap, now
        )
        out = EndpointOut.of(endpoint, now)
    return _with_secret(out, secret)


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=204, summary="Webhook送信先の削除")
async def delete_endpoint(endpoint_id: IdPath, services: ServicesDep, _: PrincipalDep) -> Response:
    async with transaction(services.sessions) as s:
        await service.delete_endpoint(s, endpoint_id)
    return Response(status_code=204)


@router.get(
    "/webhook-deliveries",
    response_model=list[DeliveryOut],
    summary="Webhookの配信履歴 (試行ごとのステータスと応答)",
)
async def list_deliveries(
    services: ServicesDep,
    _: PrincipalDep,
    endpoint_id: IdQuery = None,
    status: Annotated[str | None, Query(description="pending, sending, succeeded, failed")] = None,
    order_id: IdQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DeliveryOut]:
    if status is not None and status not in {s.value for s in DeliveryStatus}:
        raise InvalidInput(
            f"配信の状態「{status}」はありません",
            code="invalid_delivery_status",
            detail={"allowed": [s.value for s in DeliveryStatus]},
        )
    subject = None if order_id is None else subject_of("order", order_id)
    async with read_transaction(services.sessions) as s:
        rows = await repo.list_deliveries(
            s, endpoint_id=endpoint_id, status=status, subject=subject, limit=limit, offset=offset
        )
        logs = await repo.attempts_of(s, [d.id for d, _ in rows])
    return [DeliveryOut.of(d, e, logs[d.id]) for d, e in rows]


async def _delivery(services: ServicesDep, delivery_id: int) -> DeliveryOut:
    async with read_transaction(services.sessions) as s:
        found = await repo.get_delivery(s, delivery_id)
        if found is None:
            raise service.delivery_not_found(delivery_id)
        logs = await repo.attempts_of(s, [delivery_id])
    return DeliveryOut.of(found[0], found[1], logs[delivery_id])


@router.get(
    "/webhook-deliveries/{delivery_id}", response_model=DeliveryOut, summary="Webhookの配信"
)
async def get_delivery(delivery_id: IdPath, services: ServicesDep, _: PrincipalDep) -> DeliveryOut:
    return await _delivery(services, delivery_id)


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    summary="Webhookの手動再送 (今すぐ送信し、結果を配信履歴に記録)",
)
async def redeliver(delivery_id: IdPath, services: ServicesDep, _: PrincipalDep) -> DeliveryOut:
    await service.redeliver(services, delivery_id)
    return await _delivery(services, delivery_id)


@router.get("/events", response_model=list[EventOut], summary="イベントの一覧 (新しい順)")
async def list_events(
    services: ServicesDep,
    _: PrincipalDep,
    order_id: IdQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[EventOut]:
    subject = None if order_id is None else subject_of("order", order_id)
    async with read_transaction(services.sessions) as s:
        return [
            EventOut.of(e)
            for e in await repo.list_events(s, subject=subject, limit=limit, offset=offset)
        ]
