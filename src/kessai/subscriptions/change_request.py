"""決済方法変更のご案内: the mail that asks a customer to change card or payment method
after a payment failed, queued in the caller's transaction (再オーソリバッチ and the admin)."""

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod
from kessai.core.clock import tokyo_date
from kessai.customers.models import Customer
from kessai.notifications.service import queue_for_all
from kessai.notifications.templates import MailKind
from kessai.orders.models import Order
from kessai.payments.status import PaymentStatus
from kessai.shop.schemas import ShopSettings


async def queue_change_request(
    s: AsyncSession,
    shop: ShopSettings,
    order: Order,
    customer: Customer,
    method: PaymentMethod,
    *,
    next_step: str,
    now: datetime,
    deadline: date,
    dedupe_key: str,
    code: str | None = None,
    message: str | None = None,
) -> list[int]:
    """決済方法変更のご案内 about `order`, to the customer and the shop (the outbox ids)."""
    context = {
        "customer_name": customer.name,
        "customer_id": customer.id,
        "customer_email": customer.email,
        "order_id": order.id,
        "order_number": order.number,
        "ordered_on": _japanese_date(tokyo_date(order.ordered_at)),
        "amount": order.amount,
        "payment_method_name": method.name,
        "payment_status_label": PaymentStatus(order.payment_status).label,
        "subscription_id": order.subscription_id,
        "tries": order.reauthorization_tries,
        "provider_error": " ".join(p for p in (code, message) if p),
        "deadline": _japanese_date(deadline),
        "card_change_allowed": shop.card_change_allowed,
        "next_step": next_step,
    }
    return await queue_for_all(
        s,
        kind=MailKind.PAYMENT_METHOD_CHANGE_REQUEST,
        shop=shop,
        customer_email=customer.email,
        context=context,
        now=now,
        dedupe_key=dedupe_key,
        order_id=order.id,
        customer_id=customer.id,
    )


def _japanese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
