"""Creating, reading and searching 受注. Never commits: the caller owns the transaction."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.methods import require_connector
from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.carddata import looks_like_pan
from kessai.core.clock import to_tokyo
from kessai.core.errors import Conflict, InvalidInput, NotFound
from kessai.core.labels import require_code_or_label
from kessai.customers.models import Customer, CustomerCard
from kessai.customers.service import card_source
from kessai.customers.updater import NOT_CHECKED, parse_updater_filter
from kessai.orders.models import Order
from kessai.orders.schemas import OrderCreate
from kessai.payments import capabilities as caps
from kessai.payments.decide import validate_amount
from kessai.payments.status import HandlingStatus, PaymentStatus, ReauthorizationLabel
from kessai.providers import densan
from kessai.subscriptions.models import Subscription
from kessai.webhooks.events import emit, event_row, state_of

# Compared with separators and case removed: card_no, cardNo and card-no are one key.
_CARD_KEYS = {
    "cardno",
    "cardnumber",
    "cardnum",
    "pan",
    "cvv",
    "cvc",
    "cvv2",
    "cvc2",
    "securitycode",
    "seccode",
}
AUTO_NUMBER_TRIES = 20
# PostgreSQL advisory lock that queues automatic numbering (SQLite's BEGIN IMMEDIATE already
# does): without it, concurrent orders all count the same day's orders and take one number.
NUMBERING_LOCK = 0x6B657373


def reject_card_data(source: dict[str, str]) -> None:
    """Card numbers and security codes never enter kessai: only tokens and stored-card ids."""
    for key, value in source.items():
        if re.sub(r"[\W_]", "", key).lower() in _CARD_KEYS or looks_like_pan(str(value)):
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
    """受注番号: the business date in Tokyo and that day's sequence (20261123000001)."""
    prefix = f"{to_tokyo(now):%Y%m%d}"
    count = await session.scalar(
        select(func.count()).select_from(Order).where(Order.number.startswith(prefix))
    )
    return f"{prefix}{(count or 0) + 1:06d}"


def _following(number: str) -> str:
    return f"{number[:8]}{int(number[8:]) + 1:06d}"


async def _insert(session: AsyncSession, order: Order) -> bool:
    """Insert in a savepoint; False when the number was taken (perhaps by a concurrent insert)."""
    try:
        async with session.begin_nested():
            session.add(order)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def densan_transaction_id(
    session: AsyncSession, account: ProviderAccount, source: densan.RandomSource | None = None
) -> str:
    """電算システム's 17-digit 取引ID that no order holds yet, checked in this transaction."""

    async def taken(candidate: str) -> bool:
        held = await session.scalar(
            select(Order.id).where(Order.provider_reference == candidate).limit(1)
        )
        return held is not None

    return await densan.new_transaction_id(account, taken, source)


async def create_order(session: AsyncSession, data: OrderCreate, now: datetime) -> Order:
    reject_card_data(data.payment_source)
    method = await find_method(session, data.payment_method)
    if not method.enabled:
        raise InvalidInput(
            f"支払い方法「{method.name}」は無効になっています", code="payment_method_disabled"
        )
    if data.channel is not None and data.channel.value not in (method.channels or []):
        raise InvalidInput(
            f"支払い方法「{method.name}」は{data.channel.label}では利用できません",
            code="payment_method_not_in_channel",
            detail={"payment_method": method.code, "channel": data.channel.value},
        )
    validate_amount(method, data.amount, data.tax)
    account = (
        None if method.account_id is None else await session.get(ProviderAccount, method.account_id)
    )
    require_connector(method, account)  # an order nothing could ever be sent for
    # 電算システム: the 17-digit 取引ID (固有値 + 乱数) is the order's reference from the start.
    reference = await densan_transaction_id(session, account) if densan.is_densan(account) else None
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
    source = dict(data.payment_source)
    if "card_id" in source:
        source = await card_source(session, customer.id, source["card_id"], method.account_id)
    if data.number is not None:
        await _require_free_number(session, data.number)
    elif session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": NUMBERING_LOCK})
    order = Order(
        **new_order_values(
            now,
            number=data.number or await next_number(session, now),
            customer_id=customer.id,
            payment_method_id=method.id,
            amount=data.amount,
            tax=data.tax,
            ordered_at=data.ordered_at or now,
            subscription_id=data.subscription_id,
            payment_source=source,
            provider_reference=reference,
        )
    )
    for _ in range(AUTO_NUMBER_TRIES):
        if await _insert(session, order):
            created = event_row(
                "order.created", "order", order.id, now, state=state_of("order", order, {})
            )
            await emit(session, [created])
            return order
        if data.number is not None:  # taken by a concurrent order since the check above
            raise _duplicate(data.number)
        # An automatic number met one given by hand: step over it.
        order.number = _following(order.number)
    raise Conflict(
        "受注番号を採番できませんでした。もう一度お試しください", code="order_number_unavailable"
    )


def _duplicate(number: str) -> Conflict:
    return Conflict(f"受注番号「{number}」は既に使われています", code="duplicate_order_number")


async def _require_free_number(session: AsyncSession, number: str) -> None:
    if await session.scalar(select(Order.id).where(Order.number == number)) is not None:
        raise _duplicate(number)


def new_order_values(now: datetime, **values: Any) -> dict[str, Any]:
    """A new order's columns: 決済準備中 and 新規受付, nothing shipped or tried yet, ordered
    `now` unless `values` say otherwise; `values` give the rest (number, customer, method,
    amount, tax, payment source …). For the ORM and for bulk Core inserts alike."""
    return {
        "payment_status": PaymentStatus.PENDING.value,
        "handling_status": HandlingStatus.NEW.value,
        "ordered_at": now,
        "shipment_count": 0,
        "authorization_count": 0,
        "tracking_reported": False,
        "three_d_secure": False,
        "version": 0,
        "created_at": now,
        "updated_at": now,
        **values,
    }


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
    handling_status: str | None = None  # 対応状況: code or label
    subscription: bool | None = None  # 定期: True 定期受注の受注のみ, False 通常の受注のみ
    updater_result: str | None = None  # the 定期受注's card's 洗替ステータス ("0"-"3", "none")
    label: str | None = None  # 再オーソリバッチのラベル (ReauthorizationLabel code or label)


def status_code(raw: str) -> PaymentStatus:
    """A 決済状況 by its code (authorized) or by the label operators use (仮売上完了)."""
    return require_code_or_label(PaymentStatus, raw, "決済状況", "unknown_payment_status")


def search_conditions(q: OrderSearch) -> list[ColumnElement[bool]]:
    """The WHERE of an order search (the query joins PaymentMethod for its code)."""
    conds: list[ColumnElement[bool]] = []
    if q.payment_status:
        conds.append(Order.payment_status == status_code(q.payment_status).value)
    if q.ordered_from:
        conds.append(Order.ordered_at >= q.ordered_from)
    if q.ordered_to:
        conds.append(Order.ordered_at <= q.ordered_to)
    if q.number:
        conds.append(Order.number == q.number)
    if q.payment_method:
        conds.append(PaymentMethod.code == q.payment_method)
    if q.handling_status:
        conds.append(Order.handling_status == handling_code(q.handling_status).value)
    if q.subscription is not None:
        sub = Order.subscription_id
        conds.append(sub.is_not(None) if q.subscription else sub.is_(None))
    if q.updater_result:
        code = parse_updater_filter(q.updater_result)
        card = (
            CustomerCard.updater_result.is_(None)
            if code == NOT_CHECKED
            else CustomerCard.updater_result == code
        )
        conds.append(
            Order.subscription_id.in_(
                select(Subscription.id)
                .join(CustomerCard, CustomerCard.id == Subscription.card_id)
                .where(card)
            )
        )
    if q.label:
        conds.append(Order.reauthorization_label == label_code(q.label).value)
    return conds


def handling_code(raw: str) -> HandlingStatus:
    """A 対応状況 by its code (shipped) or label (発送済み)."""
    return require_code_or_label(HandlingStatus, raw, "対応状況", "unknown_handling_status")


def label_code(raw: str) -> ReauthorizationLabel:
    """A 再オーソリバッチ label by its code (target) or its words (再与信対象)."""
    return require_code_or_label(ReauthorizationLabel, raw, "ラベル", "unknown_label")


async def search_orders(session: AsyncSession, q: OrderSearch) -> tuple[Sequence[OrderView], int]:
    conds = search_conditions(q)
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
