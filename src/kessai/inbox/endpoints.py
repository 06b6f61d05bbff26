"""/webhooks/<provider>/<account>: where providers post; /api/v1/inbound-webhooks: the stored
notifications and their replay (再処理) for operators."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from sqlalchemy import select

from kessai.core.db import transaction
from kessai.core.errors import InvalidInput, NotFound
from kessai.inbox.models import InboundEvent
from kessai.inbox.service import receive, replay
from kessai.inbox.status import EventStatus
from kessai.orders.schemas import MAX_ID
from kessai.providers.kit import Notification
from kessai.web.deps import PrincipalDep, ServicesDep

# A provider notification is a few kilobytes; anything far larger is not one.
MAX_BODY = 64 * 1024

inbox = APIRouter(tags=["決済サービスからの通知"])
router = APIRouter(prefix="/api/v1/inbound-webhooks", tags=["決済サービスからの通知"])

EventIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="通知ID")]


@inbox.post(
    "/webhooks/{provider}/{account_id}",
    summary="決済サービスからの通知を受け付ける",
    response_class=PlainTextResponse,
)
async def inbound(
    request: Request,
    services: ServicesDep,
    provider: Annotated[str, Path(max_length=40, pattern=r"^[a-z0-9_-]+$")],
    account_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> PlainTextResponse:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidInput("通知が大きすぎます", code="webhook_too_large")
    note = Notification(
        body=body,
        headers={k.lower(): v for k, v in request.headers.items()},
        client_host=request.client.host if request.client else None,
        received_at=services.clock.now(),
    )
    received = await receive(services, provider, account_id, note)
    # Committed: now the provider may stop sending it.
    body, media_type = received.answer()
    return PlainTextResponse(body, media_type=media_type)


class EventOut(BaseModel):
    id: int
    provider: str
    account_id: int
    event_id: str
    reference: str | None
    event: str
    status: str
    status_label: str
    result: str | None
    data: dict[str, Any]
    job_id: int | None
    runs: int
    received_at: datetime
    processed_at: datetime | None

    @classmethod
    def of(cls, e: InboundEvent) -> "EventOut":
        status = EventStatus(e.status)
        return cls(
            id=e.id,
            provider=e.provider,
            account_id=e.account_id,
            event_id=e.event_id,
            reference=e.reference,
            event=e.event,
            status=status.value,
            status_label=status.label,
            result=e.result,
            data=dict(e.data or {}),
            job_id=e.job_id,
            runs=e.runs,
            received_at=e.received_at,
            processed_at=e.processed_at,
        )


class ReplayOut(BaseModel):
    event: EventOut
    job_id: int


@router.get("", summary="受信した通知の一覧", response_model=list[EventOut])
async def list_events(
    services: ServicesDep,
    _: PrincipalDep,
    status: Annotated[str | None, Query(description="received, applied, mismatch, …")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[EventOut]:
    query = select(InboundEvent).order_by(InboundEvent.id.desc()).limit(limit).offset(offset)
    if status is not None:
        if status not in {s.value for s in EventStatus}:
            raise InvalidInput(
                f"通知の状態「{status[:40]}」はありません",
                code="invalid_event_status",
                detail={"allowed": [s.value for s in EventStatus]},
            )
        query = query.where(InboundEvent.status == status)
    async with transaction(services.sessions) as s:
        return [EventOut.of(e) for e in (await s.scalars(query)).all()]


@router.get("/{event_id}", summary="受信した通知", response_model=EventOut)
async def get_event(services: ServicesDep, _: PrincipalDep, event_id: EventIdPath) -> EventOut:
    async with transaction(services.sessions) as s:
        event = await s.get(InboundEvent, event_id)
        if event is None:
            raise NotFound(f"通知が見つかりません (id: {event_id})", code="webhook_event_unknown")
        return EventOut.of(event)


@router.post(
    "/{event_id}/replay",
    summary="通知を再処理する",
    response_model=ReplayOut,
    status_code=202,
)
async def replay_event(
    services: ServicesDep, principal: PrincipalDep, event_id: EventIdPath
) -> ReplayOut:
    event, job_id = await replay(services, event_id, actor=principal.actor)
    return ReplayOut(event=EventOut.of(event), job_id=job_id)
