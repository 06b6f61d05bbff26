"""API shapes of webhook endpoints, deliveries and their log."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kessai.webhooks.models import (
    DeliveryStatus,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

Url = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]
Description = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)]
EventType = Annotated[str, StringConstraints(min_length=1, max_length=60)]


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="送信先URL (http:// または https://)")
    description: Description = Field(default="", description="説明")
    event_types: list[EventType] = Field(
        default_factory=list,
        max_length=50,
        description="受け取るイベント (例: order.updated, payment.*)。空ならすべて",
    )


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    description: Description | None = None
    event_types: list[EventType] | None = Field(default=None, max_length=50)
    enabled: bool | None = Field(default=None, description="有効 / 無効")


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: int = Field(
        default=24, ge=0, le=168, description="旧シークレットでも署名を続ける時間 (0〜168)"
    )


class EndpointOut(BaseModel):
    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    previous_secret_until: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, e: WebhookEndpoint, now: datetime) -> "EndpointOut":
        until = e.previous_until if e.previous_until and e.previous_until > now else None
        return cls(
            id=e.id,
            url=e.url,
            description=e.description,
            event_types=list(e.event_types or []),
            enabled=e.enabled,
            disabled_reason=e.disabled_reason,
            previous_secret_until=until,
            created_at=e.created_at,
            updated_at=e.updated_at,
        )


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="署名シークレット (whsec_…)。この応答でのみ表示します")


class AttemptOut(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None
    response_body: str | None
    error: str | None
    refused: str | None = Field(
        description="送信しなかった理由のコード (許可されない送信先など)。error にその説明"
    )
    duration_ms: int
    manual: bool

    @classmethod
    def of(cls, a: WebhookAttempt) -> "AttemptOut":
        return cls(
            attempt=a.attempt,
            at=a.at,
            status_code=a.status_code,
            response_body=a.response_body,
            error=a.error,
            refused=a.refused,
            duration_ms=a.duration_ms,
            manual=a.manual,
        )


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    subject: str
    status: str
    status_label: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptOut]

    @classmethod
    def of(cls, d: WebhookDelivery, e: Event, log: list[WebhookAttempt]) -> "DeliveryOut":
        status = DeliveryStatus(d.status)
        return cls(
            id=d.id,
            endpoint_id=d.endpoint_id,
            event_id=e.uid,
            event_type=e.type,
            subject=d.subject,
            status=status.value,
            status_label=status.label,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at if status is DeliveryStatus.PENDING else None,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            log=[AttemptOut.of(a) for a in log],
        )


class EventOut(BaseModel):
    id: str
    type: str
    subject: str
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, e: Event) -> "EventOut":
        return cls(id=e.uid, type=e.type, subject=e.subject, data=e.data, created_at=e.created_at)


class EventTypeOut(BaseModel):
    type: str
    label: str
