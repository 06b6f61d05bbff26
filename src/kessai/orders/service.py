"""Creating, reading and searching 受注. Never commits: the caller owns the transaction."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.errors import Conflict, InvalidInput, NotFound
from kessai.customers.models import Customer
from kessai.orders.models import Order
from kessai.orders.schemas import OrderCreate
from kessai.payments import capabilities as caps
from kessai.payments.decide import validate_amount
from kessai.payments.status import Action, HandlingStatus, PaymentStatus, allows

_PAN = re.compile(r"\d{12,19}")
_CARD_KEYS = {
    "cardno",
    "card_number",
    "cardnumber",
    "pan",
    "cvv",
    "cvc",
    "securitycode",
    "security_code",
    "cvv2",
    "seccode",
}


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def reject_card_data(source: dict[str, str]) -> None:
    """Card numbers and security codes never enter kessai: only tokens and stored-card ids."""
    for key, value in source.items():
        compact = re.sub(r"[\s-]", "", str(value))
        if key.lower().replace("-", "_") in _CARD_KEYS or (
            _PAN.fullmatch(compact) and _luhn(compact)
        ):
            raise InvalidInput(
                "カード番号・セキュリティコードは受け付けません。カードトークンまたは登録カードを指定してください",
                code="card_data_not_accepted",
                detail={"field": f"payment_source.{key}"},
            )


async def find_method(session: AsyncSession, code: str) -> PaymentMethod:
    method = await session.scalar(select(PaymentMethod).where(PaymentMethod.code == code))
    if method is None:
        raise InvalidInput(
            f"支払い方法「{code}」は登録されていません",
            code="unknown_payment_method",
            detail={"payment_method": code},
        )
    return method


async def next_number(session: AsyncSession, now: datetime) -> str:
    count = await session.scalar(select(func.count()).select_from(Order)) or 0
    return f"{now:%Y%m%d}{count + 1:06d}"


async def create_order(session: AsyncSession, data: OrderCreate, now: datetime) -> Order:
    method = await find_method(session, data.payment_method)
    if not method.enabled:
        raise InvalidInput(
            f"支払い方法「{method.name}」は無効になっています", code="payment_method_disabled"
        )
    validate_amount(method, data.amount, data.tax)
    reject_card_data(data.payment_source)
    if data.customer_id is not None:
        customer = await session.get(Customer, data.customer_id)
        if customer is None:
            raise InvalidInput(
                f"顧客が見つかりませんでした (id: {data.customer_id})", code="unknown_customer"
            )
    elif data.customer is not None:
        customer = Customer(name=data.customer.name, email=data.customer.email, created_at=now)
        session.add(customer)
        await session.flush()
    else:
        raise InvalidInput(
            "顧客(customer または customer_id)を指定してください", code="customer_required"
        )
    number = data.number or await next_number(session, now)
    if await session.scalar(select(Order.id).where(Order.number == number)) is not None:
        raise Conflict(f"受注番号「{number}」は既に使われています", code="duplicate_order_number")
    order = Order(
        number=number,
        customer_id=customer.id,
        payment_method_id=method.id,
        amount=data.amount,
        tax=data.tax,
        payment_status=PaymentStatus.PENDING.value,
        handling_status=HandlingStatus.NEW.value,
        ordered_at=data.ordered_at or now,
        subscription_id=data.subscription_id,
        payment_source=dict(data.payment_source),
        shipment_count=0,
        authorization_count=0,
        tracking_reported=False,
        three_d_secure=False,
        version=0,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    return order


@dataclass(frozen=True)
class OrderView:
    order: Order
    customer: Customer
    method: PaymentMethod
    account: ProviderAccount | None


def _view_query() -> Any:
    return (
        select(Order, Customer, PaymentMethod, ProviderAccount)
        .join(Customer, Customer.id == Order.customer_id)
        .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
        .outerjoin(ProviderAccount, ProviderAccount.id == PaymentMethod.account_id)
    )


async def get_order_view(session: AsyncSession, order_id: int) -> OrderView:
    row = (
        await session.execute(
            _view_query().where(Order.id == order_id).execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"受注が見つかりませんでした (id: {order_id})", code="order_not_found")
    return OrderView(*row)


@dataclass(frozen=True)
class OrderSearch:
    payment_status: str | None = None
    ordered_from: datetime | None = None
    ordered_to: datetime | None = None
    number: str | None = None
    payment_method: str | None = None
    limit: int = 50
    offset: int = 0


async def search_orders(session: AsyncSession, q: OrderSearch) -> tuple[Sequence[OrderView], int]:
    conds = []
    if q.payment_status:
        try:
            PaymentStatus(q.payment_status)
        except ValueError:
            raise InvalidInput(
                f"決済状況「{q.payment_status}」は存在しません",
                code="unknown_payment_status",
                detail={"allowed": [s.value for s in PaymentStatus]},
            ) from None
        conds.append(Order.payment_status == q.payment_status)
    if q.ordered_from:
        conds.append(Order.ordered_at >= q.ordered_from)
    if q.ordered_to:
        conds.append(Order.ordered_at <= q.ordered_to)
    if q.number:
        conds.append(Order.number == q.number)
    if q.payment_method:
        conds.append(PaymentMethod.code == q.payment_method)
    base = _view_query().where(*conds)
    total = await session.scalar(
        select(func.count()).select_from(
            select(Order.id)
            .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
            .where(*conds)
            .subquery()
        )
    )
    rows = (
        await session.execute(base.order_by(Order.id.desc()).limit(q.limit).offset(q.offset))
    ).all()
    return [OrderView(*r) for r in rows], int(total or 0)


def allowed_actions(view: OrderView) -> list[str]:
    status = PaymentStatus(view.order.payment_status)
    return [a.value for a in Action if a is not Action.RECONCILE and allows(status, a)]


def authorization_expires_at(view: OrderView) -> datetime | None:
    o = view.order
    if o.authorized_at is None or o.captured_at is not None:
        return None
    days = caps.authorization_days_for(
        view.method.provider,
        view.method.method_type,
        view.account.authorization_days if view.account else None,
    )
    return None if days is None else o.authorized_at + timedelta(days=days)
