"""The mail outbox: what to send, to whom, and how sending it went."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.db import Base, IdType, UTCDateTime


class MailStatus(StrEnum):
    PENDING = "pending"  # 送信待ち (new, or waiting to retry after an error)
    SENDING = "sending"  # 送信中: claimed by one sender
    SENT = "sent"  # 送信済み

    @property
    def label(self) -> str:
        return MAIL_STATUS_LABELS[self]


MAIL_STATUS_LABELS = {
    MailStatus.PENDING: "送信待ち",
    MailStatus.SENDING: "送信中",
    MailStatus.SENT: "送信済み",
}


class OutboxMail(Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(60))  # MailKind
    recipient: Mapped[str] = mapped_column(String(20))  # customer | shop
    to_address: Mapped[str] = mapped_column(String(254))
    from_address: Mapped[str] = mapped_column(String(254))
    from_name: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # One mail per cause and recipient (e.g. one 決済方法変更のご案内 per order), however
    # often the cause is seen again.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    order_id: Mapped[int | None] = mapped_column(IdType, index=True)
    customer_id: Mapped[int | None] = mapped_column(IdType, index=True)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MailTemplate(Base):
    """The shop's text of a template: an edited built-in one (its code) or its own
    (custom_<n>, for 自動化設定). A built-in template without a row uses its default."""

    __tablename__ = "mail_templates"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(20))  # Recipient
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
