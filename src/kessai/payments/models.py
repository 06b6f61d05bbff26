"""決済履歴: every provider call, written before the call and completed after it."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.db import Base, IdType, UTCDateTime


class PaymentAttempt(Base):
    __tablename__ = "payment_attempts"
    __table_args__ = (Index("ix_payment_attempts_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    operation: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int | None] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(60))  # our reference sent to the provider
    # sent (written ahead, no answer yet) | succeeded | declined | pending | not_sent | unknown
    outcome: Mapped[str] = mapped_column(String(20))
    provider_code: Mapped[str | None] = mapped_column(String(200))
    provider_message: Mapped[str | None] = mapped_column(Text)
    provider_transaction_id: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    # What was asked (tax, capture, shipment …) so a lost answer can be settled later.
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
