"""API shapes of the mail outbox."""

from datetime import datetime

from pydantic import BaseModel

from kessai.notifications.models import MailStatus, OutboxMail
from kessai.notifications.templates import MailKind


class MailOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    recipient: str
    to_address: str
    subject: str
    body: str
    status: str
    status_label: str
    attempts: int
    last_error: str | None
    order_id: int | None
    customer_id: int | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None

    @classmethod
    def of(cls, m: OutboxMail) -> "MailOut":
        status = MailStatus(m.status)
        return cls(
            id=m.id,
            kind=m.kind,
            kind_label=MailKind(m.kind).label,
            recipient=m.recipient,
            to_address=m.to_address,
            subject=m.subject,
            body=m.body,
            status=status.value,
            status_label=status.label,
            attempts=m.attempts,
            last_error=m.last_error,
            order_id=m.order_id,
            customer_id=m.customer_id,
            created_at=m.created_at,
            sent_at=m.sent_at,
            next_attempt_at=None if status is MailStatus.SENT else m.next_attempt_at,
        )
