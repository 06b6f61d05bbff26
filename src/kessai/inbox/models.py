"""One row per provider notification, unique by (provider, the provider's event id)."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.db import Base, IdType, UTCDateTime


class InboundEvent(Base):
    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(40))  # the declaring provider's name
    account_id: Mapped[int] = mapped_column(ForeignKey("provider_accounts.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(200))  # the provider's own id of the event
    reference: Mapped[str | None] = mapped_column(String(60), index=True)  # our reference
    event: Mapped[str] = mapped_column(String(60))  # what happened, in the provider's words
    # What the verifier kept of the notification (never card data, never a secret).
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20))  # webhooks.status.EventStatus
    result: Mapped[str | None] = mapped_column(Text)  # what processing it did, for people
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))  # the latest run
    runs: Mapped[int] = mapped_column(Integer, default=0)  # processing runs, replays included
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # While 対象待ち: when the inbox looks for its payment again (a scheduler tick plans it).
    next_look_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
