"""受注管理: the newest orders with their 決済状況 (read-only for now)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from kessai.accounts.models import PaymentMethod
from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.orders.models import Order
from kessai.payments.status import HandlingStatus, PaymentStatus
from kessai.users.service import Permission, Principal
from kessai.web.admin.core import AdminContext, render

PAGE_SIZE = 100


@dataclass(frozen=True)
class OrderRow:
    id: int
    number: str
    ordered_at: str
    method: str
    amount: str
    payment_status: str
    payment_status_label: str
    handling_status_label: str


def yen(amount: int) -> str:
    return f"{amount:,}円"


def _label(enum: type[PaymentStatus] | type[HandlingStatus], code: str) -> str:
    try:
        return enum(code).label
    except ValueError:  # a code a newer version wrote: show it rather than fail
        return code


def add_order_routes(router: APIRouter, ctx: AdminContext) -> None:
    @router.get("/orders", summary="受注一覧")
    async def orders(
        request: Request,
        _: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW))],
        status: Annotated[str, Query(max_length=40)] = "",
    ) -> Response:
        query = (
            select(Order, PaymentMethod.name)
            .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
            .order_by(Order.ordered_at.desc(), Order.id.desc())
            .limit(PAGE_SIZE)
        )
        if status in {s.value for s in PaymentStatus}:
            query = query.where(Order.payment_status == status)
        else:
            status = ""
        async with transaction(ctx.services.sessions) as s:
            found = (await s.execute(query)).all()
        rows = [
            OrderRow(
                id=order.id,
                number=order.number,
                ordered_at=to_tokyo(order.ordered_at).strftime("%Y/%m/%d %H:%M"),
                method=method_name,
                amount=yen(order.amount),
                payment_status=order.payment_status,
                payment_status_label=_label(PaymentStatus, order.payment_status),
                handling_status_label=_label(HandlingStatus, order.handling_status),
            )
            for order, method_name in found
        ]
        return render(
            request,
            "orders.html",
            {
                "nav": "orders",
                "rows": rows,
                "statuses": [(s.value, s.label) for s in PaymentStatus],
                "status": status,
                "page_size": PAGE_SIZE,
            },
        )
