"""顧客. Stored cards are provider references only (member id, card seq), never numbers."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.db import Base, IdType, UTCDateTime


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A deleted customer's cards are no longer sent to 自動洗替 (seed 000).
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerCard(Base):
    """A card stored at the provider for a customer: references and the masked number only."""

    __tablename__ = "customer_cards"
    __table_args__ = (UniqueConstraint("account_id", "member_id", "card_seq"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("provider_accounts.id"))
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    member_id: Mapped[str] = mapped_column(String(60))
    card_seq: Mapped[str] = mapped_column(String(10))
    masked_number: Mapped[str] = mapped_column(String(25))
    expire: Mapped[str] = mapped_column(String(4))  # YYMM
    holder: Mapped[str | None] = mapped_column(String(100))
    brand: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 洗替ステータス: the last 自動洗替 result (customers.updater.UpdaterResult), none yet.
    updater_result: Mapped[str | None] = mapped_column(String(1))
    updater_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
