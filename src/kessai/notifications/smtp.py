"""Building a mail message and handing it to the SMTP server of KESSAI_SMTP_URL."""

import asyncio
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from kessai.core.clock import to_tokyo
from kessai.core.errors import ConfigurationError
from kessai.notifications.models import OutboxMail
from kessai.notifications.settings import SmtpServer

TIMEOUT_SECONDS = 30


def parse_smtp_url(url: str) -> tuple[str, int]:
    """`host:port`, `host` (port 25) or `smtp://host:port`."""
    raw = url.strip()
    if "://" in raw:
        scheme, raw = raw.split("://", 1)
        if scheme.lower() != "smtp":
            raise ConfigurationError(
                f"KESSAI_SMTP_URL は host:port か smtp://host:port で指定してください ({url})",
                code="invalid_smtp_url",
            )
    raw = raw.rstrip("/")
    host, _, port = raw.rpartition(":") if ":" in raw else (raw, "", "25")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(
            f"KESSAI_SMTP_URL は host:port で指定してください ({url})", code="invalid_smtp_url"
        )
    return host, int(port)


def message_of(mail: OutboxMail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((mail.from_name or "", mail.from_address))
    msg["To"] = mail.to_address
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(to_tokyo(mail.created_at))
    # The same id on every try: a receiver can tell a resend after a crash from a new mail.
    domain = mail.from_address.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = f"<kessai-mail-{mail.id}@{domain}>"
    msg.set_content(mail.body, charset="utf-8")
    return msg


def _send(server: SmtpServer, msg: EmailMessage) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS) as smtp:
        if server.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if server.username:
            smtp.login(server.username, server.password or "")
        smtp.send_message(msg)


async def send(server: SmtpServer, mail: OutboxMail) -> None:
    """Hand one mail to the server; any error means it was not accepted."""
    await asyncio.to_thread(_send, server, message_of(mail))


def describe(exc: BaseException, at: datetime) -> str:
    return f"{to_tokyo(at):%Y-%m-%d %H:%M:%S} {type(exc).__name__}: {exc}"
