"""定期受注: what a customer receives every cycle, paid with a card stored at the provider."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.db import Base, IdType, UTCDateTime


class Subscription(Base):
    __tablename__ = "subscriptions"
    # The billing run's question: which 有効 subscriptions ship on or before today?
    __table_args__ = (Index("ix_subscriptions_status_next_ship", "status", "next_ship_on"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(10), unique=True)  # 定期受注番号 (10桁)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    # The stored card (provider member/card references only); none for methods without one.
    card_id: Mapped[int | None] = mapped_column(ForeignKey("customer_cards.id"), index=True)
    # [{"name", "sku", "quantity", "unit_price"}]; amount and tax are the cycle's total.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    amount: Mapped[int] = mapped_column(Integer)  # 合計 (税込, 円)
    tax: Mapped[int] = mapped_column(Integer)  # うち消費税
    # サイクル: every N days, every N months (on cycle_day), or day cycle_day every N months.
    cycle_kind: Mapped[str] = mapped_column(String(20))  # cycles.CycleKind
    cycle_interval: Mapped[int] = mapped_column(Integer)
    cycle_day: Mapped[int | None] = mapped_column(Integer)  # 1-31, clamped to the month's end
    next_ship_on: Mapped[date] = mapped_column(Date)  # 次回発送予定日
    next_delivery_on: Mapped[date | None] = mapped_column(Date)  # 次回配送予定日
    status: Mapped[str] = mapped_column(String(20))  # status.SubscriptionStatus
    # How many cycles have had their child order created (the next one is cycle + 1).
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
