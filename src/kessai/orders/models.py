"""受注: amounts in integer yen, 決済状況 and 対応状況, shipping, the live provider transaction."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.db import Base, IdType, UTCDateTime


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_status_ordered", "payment_status", "ordered_at"),
        # One child order per 定期受注 and cycle: a billing run claimed twice inserts once.
        UniqueConstraint(
            "subscription_id", "subscription_cycle", name="uq_orders_subscription_cycle"
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    amount: Mapped[int] = mapped_column(Integer)  # 合計 (税込)
    tax: Mapped[int] = mapped_column(Integer)  # うち消費税
    payment_status: Mapped[str] = mapped_column(String(40))
    handling_status: Mapped[str] = mapped_column(String(40))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    subscription_id: Mapped[int | None] = mapped_column(IdType, index=True)
    subscription_cycle: Mapped[int | None] = mapped_column(Integer)  # 定期 回数 (1, 2, …)
    # 発送: 発送完了日, 配送伝票番号, 配送業者, 発送回数
    shipped_on: Mapped[date | None] = mapped_column(Date)
    tracking_number: Mapped[str | None] = mapped_column(String(60))
    carrier: Mapped[str | None] = mapped_column(String(60))
    shipment_count: Mapped[int] = mapped_column(Integer, default=0)
    # How the customer pays: a one-time token or a stored card (provider references only).
    payment_source: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The live provider transaction: our own reference and the provider's id for it.
    provider_reference: Mapped[str | None] = mapped_column(String(60), index=True)
    provider_transaction_id: Mapped[str | None] = mapped_column(String(100), index=True)
    authorized_amount: Mapped[int | None] = mapped_column(Integer)
    authorized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 決済日時
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # オーソリ確定日時
    tracking_reported: Mapped[bool] = mapped_column(default=False)  # 伝票番号連携済
    three_d_secure: Mapped[bool] = mapped_column(default=False)
    redirect_url: Mapped[str | None] = mapped_column(String(2000))
    # コンビニ・Pay-easy・銀行振込: what the customer pays with (受付番号, 支払期限 …)
    payment_slip: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # 決済準備中 until this moment at most (支払期限, 決済可能期限): then kessai asks by itself
    payment_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    authorization_count: Mapped[int] = mapped_column(Integer, default=0)
    # The attempt that holds the order: sent and not yet settled, or unknown.
    in_flight_attempt_id: Mapped[int | None] = mapped_column(IdType)
    # 再オーソリバッチ: its label (再与信対象, 再与信完了 …: subscriptions.reauthorization),
    # how many times it retried the order and the shipping day of the last try (once a day).
    reauthorization_label: Mapped[str | None] = mapped_column(String(20), index=True)
    reauthorization_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reauthorization_tried_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderLabel(Base):
    """受注ラベル: a tag an operator or 自動化設定 puts on an order (each at most once)."""

    __tablename__ = "order_labels"
    __table_args__ = (UniqueConstraint("order_id", "label"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
