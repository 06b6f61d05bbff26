"""The event outbox, the shop's webhook endpoints, one delivery per event and endpoint, and
the log of every try."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.db import Base, IdType, UTCDateTime


class Event(Base):
    """One change, written in the transaction of the change (the outbox): a change that
    commits has its event, a change undone has none. The relay hands it to the endpoints
    (and the automation rules) after commit and sets `relayed`."""

    __tablename__ = "events"
    __table_args__ = (
        # The relay's scan: only the few rows not yet relayed are in this index.
        Index(
            "ix_events_unrelayed",
            "id",
            sqlite_where=text("relayed = 0"),
            postgresql_where=text("NOT relayed"),
        ),
        Index("ix_events_subject", "subject", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)  # webhook-id: msg_…
    type: Mapped[str] = mapped_column(String(60))  # e.g. order.updated, payment.declined
    subject: Mapped[str] = mapped_column(String(60))  # order:12 — events of one are ordered
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    relayed: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    # Event types (or `order.*`) this endpoint wants; empty: every event.
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)  # whsec_…, sealed with the master key
    # The secret before the last rotation, still signed with until `previous_until`.
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # 送信待ち (new, or waiting for its next try)
    SENDING = "sending"  # 送信中
    SUCCEEDED = "succeeded"  # 送信成功
    FAILED = "failed"  # 送信失敗 (tries used up, or the endpoint answered 410)

    @property
    def label(self) -> str:
        return DELIVERY_STATUS_LABELS[self]


DELIVERY_STATUS_LABELS = {
    DeliveryStatus.PENDING: "送信待ち",
    DeliveryStatus.SENDING: "送信中",
    DeliveryStatus.SUCCEEDED: "送信成功",
    DeliveryStatus.FAILED: "送信失敗",
}


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        # Per endpoint and subject, a delivery waits for the earlier ones (event order).
        Index("ix_webhook_deliveries_subject", "endpoint_id", "subject", "event_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20))  # DeliveryStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """The delivery log: one row per try, with what the endpoint answered."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)  # the first 2,000 characters
    error: Mapped[str | None] = mapped_column(Text)
    # Not sent: the destination broke kessai.webhooks.destination's rule (its code, e.g.
    # webhook_address_not_public; `error` says why in words).
    refused: Mapped[str | None] = mapped_column(String(40))
    duration_ms: Mapped[int] = mapped_column(Integer)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)  # 手動再送
