"""A month's 継続課金 file per account, and the orders it carried."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.db import Base, IdType, UTCDateTime


class RecurringBatch(Base):
    """status: sent → reported (the 18th's result applied) → checked (the 27th's 有効性)."""

    __tablename__ = "recurring_batches"
    __table_args__ = (UniqueConstraint("account_id", "month"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("provider_accounts.id"))
    month: Mapped[str] = mapped_column(String(7))  # "2027-01": sent around 2027-01-08
    status: Mapped[str] = mapped_column(String(20))
    lines: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecurringLine(Base):
    """An order in a 継続課金 file: its 端末処理通番 and, once back, its result."""

    __tablename__ = "recurring_lines"
    __table_args__ = (
        UniqueConstraint("batch_id", "terminal_seq"),
        UniqueConstraint("batch_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("recurring_batches.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    terminal_seq: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[str] = mapped_column(String(60))
    card_seq: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Integer)
    tax: Mapped[int] = mapped_column(Integer)
    result: Mapped[str | None] = mapped_column(String(1))  # 0 売上報告済, else 売上失敗
    error_code: Mapped[str | None] = mapped_column(String(20))
