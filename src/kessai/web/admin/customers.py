"""顧客: the customer search, one customer with the stored cards (masked, with their 洗替
results), 定期受注, orders and mails, and 決済方法変更のご案内 sent from here for an order
whose payment failed (seed 004: 仮売上失敗・与信審査エラー …)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import func, or_, select

from kessai.accounts.models import PaymentMethod
from kessai.core.db import transaction
from kessai.core.errors import Conflict, NotFound
from kessai.customers.models import Customer, CustomerCard
from kessai.customers.updater import updater_label
from kessai.notifications.delivery import deliver_pending
from kessai.notifications.models import MailStatus
from kessai.notifications.repository import list_mails
from kessai.notifications.templates import MailKind
from kessai.orders.models import Order
from kessai.orders.schemas import MAX_ID
from kessai.payments.status import PaymentStatus
from kessai.shop.service import get_shop_settings
from kessai.subscriptions import repository as subs
from kessai.subscriptions.change_request import queue_change_request
from kessai.subscriptions.reauthorization import deadline
from kessai.users.service import Permission, Principal
from kessai.web.admin.core import AdminContext, read_form, redirect, render
from kessai.web.admin.jobs import SUBMISSION_FIELD, dedupe_key, submission_token
from kessai.web.admin.order_detail import when
from kessai.web.admin.orders import label_of, yen
from kessai.web.admin.subscriptions import SubscriptionRow

PAGE_SIZE = 100
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
S = PaymentStatus
# 決済エラー: the customer must change card or payment method (seed 004).
PAYMENT_FAILED = frozenset(
    {
        S.AUTHORIZE_FAILED,
        S.REGISTER_FAILED,
        S.CREDIT_CHECK_FAILED,
        S.PAYMENT_ERROR,
        S.CAPTURE_FAILED,
        S.MODIFY_FAILED,
        S.SHIPMENT_REPORT_FAILED,
    }
)
MANUAL_STEP = "ショップの担当者が管理画面からご案内をお送りしました。"


def add_customer_routes(router: APIRouter, ctx: AdminContext) -> None:
    @router.get("/customers", summary="顧客一覧")
    async def customers(
        request: Request,
        _: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW))],
        q: Annotated[str, Query(max_length=100)] = "",
    ) -> Response:
        q = q.strip()
        cond = []
        if q:
            like = f"%{q.replace('%', '').replace('_', '')}%"
            cond.append(or_(Customer.name.like(like), Customer.email.like(like.lower())))
        async with transaction(ctx.services.sessions) as s:
            found = (
                await s.scalars(
                    select(Customer).where(*cond).order_by(Customer.id.desc()).limit(PAGE_SIZE)
                )
            ).all()
            total = int(
                await s.scalar(select(func.count()).select_from(Customer).where(*cond)) or 0
            )
        return render(
            request,
            "customers.html",
            {"nav": "customers", "customers": found, "q": q, "total": total},
        )

    @router.get("/customers/{customer_id}", summary="顧客詳細")
    async def customer_detail(
        request: Request,
        customer_id: RowId,
        principal: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW))],
    ) -> Response:
        async with transaction(ctx.services.sessions) as s:
            customer = await s.get(Customer, customer_id)
            if customer is None:
                raise NotFound(f"顧客が見つかりませんでした (id: {customer_id})")
            cards = (
                await s.execute(
                    select(CustomerCard, PaymentMethod.name)
                    .join(PaymentMethod, PaymentMethod.id == CustomerCard.payment_method_id)
                    .where(CustomerCard.customer_id == customer_id)
                    .order_by(CustomerCard.id)
                )
            ).all()
            views, _ = await subs.search(
                s, subs.SubscriptionSearch(customer_id=customer_id, limit=100)
            )
            orders = (
                await s.scalars(
                    select(Order)
                    .where(Order.customer_id == customer_id)
                    .order_by(Order.ordered_at.desc(), Order.id.desc())
                    .limit(50)
                )
            ).all()
            mails = await list_mails(s, customer_id=customer_id, limit=50)
        return render(
            request,
            "customer_detail.html",
            {
                "nav": "customers",
                "customer": customer,
                "cards": [
                    {
                        "masked": card.masked_number,
                        "expire": f"20{card.expire[:2]}/{card.expire[2:]}",
                        "brand": card.brand or "",
                        "method": method_name,
                        "updater": updater_label(card.updater_result),
                        "updater_code": card.updater_result or "none",
                        "checked_at": when(card.updater_checked_at),
                        "deleted": card.deleted_at is not None,
                    }
                    for card, method_name in cards
                ],
                "subscriptions": [SubscriptionRow.of(v) for v in views],
                "orders": [
                    {
                        "id": o.id,
                        "number": o.number,
                        "ordered_at": when(o.ordered_at),
                        "amount": yen(o.amount),
                        "status": o.payment_status,
                        "status_label": label_of(PaymentStatus, o.payment_status),
                        "failed": o.payment_status in PAYMENT_FAILED,
                    }
                    for o in orders
                ],
                "mails": [
                    {
                        "at": when(m.created_at),
                        "kind": label_of(MailKind, m.kind),
                        "to": m.to_address,
                        "subject": m.subject,
                        "status": label_of(MailStatus, m.status),
                    }
                    for m in mails
                ],
                "can_notify": principal.can(Permission.CUSTOMERS_NOTIFY) and bool(customer.email),
                "submission_field": SUBMISSION_FIELD,
                "submission": submission_token(),
            },
        )

    @router.post(
        "/customers/{customer_id}/orders/{order_id}/change-request",
        summary="決済方法変更のご案内を送信",
    )
    async def send_change_request(
        request: Request,
        customer_id: RowId,
        order_id: RowId,
        principal: Annotated[
            Principal, Depends(ctx.require(Permission.CUSTOMERS_NOTIFY, csrf=True))
        ],
    ) -> Response:
        form = await read_form(request)
        now = ctx.services.clock.now()
        async with transaction(ctx.services.sessions) as s:
            row = (
                await s.execute(
                    select(Order, Customer, PaymentMethod)
                    .join(Customer, Customer.id == Order.customer_id)
                    .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
                    .where(Order.id == order_id, Order.customer_id == customer_id)
                )
            ).one_or_none()
            if row is None:
                raise NotFound(f"この顧客の受注が見つかりませんでした (id: {order_id})")
            order, customer, method = row
            if order.payment_status not in PAYMENT_FAILED:
                raise Conflict(
                    f"決済状況が「{label_of(PaymentStatus, order.payment_status)}」の受注には"
                    "決済方法変更のご案内を送信できません(決済エラーの受注のみ)",
                    code="not_payment_failed",
                )
            if not customer.email:
                raise Conflict("顧客のメールアドレスが登録されていません", code="no_email")
            # One mail per form shown: a double click sends once, a later click again.
            key = dedupe_key(principal, form, f"change-request:{order.id}")
            await queue_change_request(
                s,
                await get_shop_settings(s),
                order,
                customer,
                method,
                next_step=MANUAL_STEP,
                now=now,
                deadline=deadline(order.ordered_at),
                dedupe_key=key or f"admin:change-request:{order.id}:{now.isoformat()}",
            )
        await deliver_pending(ctx.services)
        return redirect(f"/admin/customers/{customer_id}", flash="mail_queued")
