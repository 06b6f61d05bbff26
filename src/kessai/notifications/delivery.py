"""Sending the outbox after commit: each mail claimed by compare-and-set, sent, marked sent.

Two senders never both send a mail (the claim is a conditional UPDATE); a failed send
goes back to 送信待ち with its error and is tried again later, with a growing wait; a
sender that dies mid-send leaves its claim, taken over once the lease has passed.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from kessai.core.db import transaction
from kessai.core.metrics import MAIL_DELIVERIES
from kessai.notifications import repository as repo
from kessai.notifications import settings as mail_settings
from kessai.notifications import smtp

if TYPE_CHECKING:
    from kessai.services import Services

log = logging.getLogger("kessai.notifications")

LEASE = timedelta(minutes=10)
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
BATCH = 200


@dataclass(frozen=True)
class Delivery:
    sent: int = 0
    failed: int = 0


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after each failed try, at most an hour."""
    delay: timedelta = FIRST_RETRY * (2 ** min(max(attempts - 1, 0), 10))
    return min(delay, LONGEST_RETRY)


async def deliver_pending(services: "Services", *, limit: int = BATCH) -> Delivery:
    """Send what is due. Without an SMTP server (メール設定 or KESSAI_SMTP_URL) mails stay in
    the outbox."""
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        server = mail_settings.server(
            await mail_settings.load(s), services.keyring, services.settings.smtp_url
        )
        if server is None:
            return Delivery()
        ids = await repo.due_ids(s, now, now - LEASE, limit)
    sent = failed = 0
    for mail_id in ids:
        now = services.clock.now()
        async with transaction(services.sessions) as s:
            mail = await repo.claim(s, mail_id, now, now - LEASE)
        if mail is None:
            continue  # another sender has it, or it went out meanwhile
        try:
            await smtp.send(server, mail)
        except Exception as exc:  # any failure: the server did not take the mail
            failed += 1
            MAIL_DELIVERIES.labels("failed").inc()
            at = services.clock.now()
            log.warning("mail %s not sent: %s", mail_id, type(exc).__name__)
            async with transaction(services.sessions) as s:
                await repo.release(
                    s,
                    mail_id,
                    mail.attempts,
                    smtp.describe(exc, at),
                    at + retry_delay(mail.attempts),
                )
            continue
        sent += 1
        MAIL_DELIVERIES.labels("sent").inc()
        async with transaction(services.sessions) as s:
            await repo.mark_sent(s, mail_id, mail.attempts, services.clock.now())
    return Delivery(sent=sent, failed=failed)
