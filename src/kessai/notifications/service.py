"""Queueing mails: rendered and written to the outbox in the caller's transaction.

Never commits and never sends: the mail exists exactly when the caller's transaction
commits, and `kessai.notifications.delivery.deliver_pending` sends it afterwards.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kessai.core.errors import NotFound
from kessai.notifications import repository as repo
from kessai.notifications import settings as mail_settings
from kessai.notifications.models import MailStatus, MailTemplate
from kessai.notifications.templates import (
    BUILTIN,
    MailKind,
    Recipient,
    TemplateSpec,
    TemplateText,
    check_text,
    custom_spec,
    default_text,
    render_text,
)
from kessai.shop.schemas import ShopSettings

# The sender when the shop has not set its own address yet.
DEFAULT_FROM = "no-reply@localhost"


@dataclass(frozen=True)
class MailTo:
    recipient: Recipient
    address: str | None


def recipients(shop: ShopSettings, customer_email: str | None) -> list[MailTo]:
    """The customer and, when the shop has set a notification address, the shop."""
    return [
        MailTo(Recipient.CUSTOMER, customer_email),
        MailTo(Recipient.SHOP, shop.notification_email),
    ]


async def queue_mail(
    session: AsyncSession,
    *,
    kind: MailKind,
    to: MailTo,
    shop: ShopSettings,
    context: dict[str, Any],
    now: datetime,
    dedupe_key: str | None = None,
    order_id: int | None = None,
    customer_id: int | None = None,
    template: str | None = None,
) -> int | None:
    """The outbox id of the queued mail; None when there is no address or it was queued before.
    The text is the shop's edit of the template (`template`, by default the kind's for the
    recipient) or its default."""
    if not to.address:
        return None
    code = template or f"{kind.value}.{to.recipient.value}"
    stored = await mail_settings.load(session)
    mail = render_text(
        await template_text(session, code),
        {
            "shop_name": shop.shop_name,
            "shop_email": shop.notification_email,
            "card_change_url": stored.get("card_change_url") or "",
            **context,
        },
    )
    return await repo.insert_mail(
        session,
        {
            "kind": kind.value,
            "recipient": to.recipient.value,
            "to_address": to.address,
            "from_address": shop.mail_from or DEFAULT_FROM,
            "from_name": shop.shop_name,
            "subject": mail.subject,
            "body": mail.body,
            "dedupe_key": None if dedupe_key is None else f"{dedupe_key}:{to.recipient.value}",
            "order_id": order_id,
            "customer_id": customer_id,
            "status": MailStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )


async def queue_for_all(
    session: AsyncSession,
    *,
    kind: MailKind,
    shop: ShopSettings,
    customer_email: str | None,
    context: dict[str, Any],
    now: datetime,
    dedupe_key: str | None = None,
    order_id: int | None = None,
    customer_id: int | None = None,
) -> list[int]:
    """The same event's mail to the customer and to the shop; the ids queued now."""
    ids = []
    for to in recipients(shop, customer_email):
        mail_id = await queue_mail(
            session,
            kind=kind,
            to=to,
            shop=shop,
            context=context,
            now=now,
            dedupe_key=dedupe_key,
            order_id=order_id,
            customer_id=customer_id,
        )
        if mail_id is not None:
            ids.append(mail_id)
    return ids


async def template_text(session: AsyncSession, code: str) -> TemplateText:
    """The shop's text of a template, or the default of a built-in one."""
    row = await repo.get_template(session, code)
    if row is not None:
        return TemplateText(row.subject, row.body)
    return default_text(code)


async def template_spec(
    session: AsyncSession, code: str
) -> tuple[TemplateSpec, MailTemplate | None]:
    """A template's spec and the shop's row for it (None: a built-in one as shipped)."""
    row = await repo.get_template(session, code)
    if code in BUILTIN:
        return BUILTIN[code], row
    if row is None:
        raise NotFound(
            f"メールテンプレート「{code}」は見つかりませんでした", code="mail_template_not_found"
        )
    return custom_spec(code, row.name, Recipient(row.recipient)), row


async def save_template(
    session: AsyncSession,
    code: str,
    text: TemplateText,
    *,
    actor: str,
    now: datetime,
    name: str | None = None,
) -> TemplateSpec:
    """The shop's text of a template, once it renders with the template's sample values
    (InvalidInput otherwise; nothing is saved then)."""
    spec, row = await template_spec(session, code)
    check_text(spec, text)
    if row is None:
        row = MailTemplate(code=code, name=spec.name, recipient=spec.recipient.value)
        session.add(row)
    if name is not None and not spec.builtin:
        row.name = name
    row.subject, row.body = text.subject, text.body
    row.updated_by, row.updated_at = actor, now
    await session.flush()
    return spec


async def reset_template(session: AsyncSession, code: str) -> None:
    """A built-in template back to its default; the shop's own one removed."""
    row = (await template_spec(session, code))[1]
    if row is not None:
        await session.delete(row)
