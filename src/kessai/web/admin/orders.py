"""受注管理: the newest orders with their 決済状況, and 決済状況一括変更 on them."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import func, select

from kessai.accounts.models import PaymentMethod
from kessai.core.clock import TOKYO, to_tokyo
from kessai.core.db import transaction
from kessai.core.errors import InvalidInput
from kessai.orders.models import Order
from kessai.orders.schemas import MAX_ID
from kessai.payments.bulk import kind as _bulk_kind  # noqa: F401 - registers the job kind
from kessai.payments.bulk.actions import BULK_ACTIONS, parse_action, require_permitted
from kessai.payments.bulk.schemas import OrderFilter
from kessai.payments.bulk.service import bulk_params, submit_bulk
from kessai.payments.status import HandlingStatus, PaymentStatus
from kessai.users.service import Permission, Principal
from kessai.web.admin.core import AdminContext, read_form, redirect, render
from kessai.web.admin.jobs import SUBMISSION_FIELD, dedupe_key, submission_token

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


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:  # a hand-edited URL: the filter is dropped rather than refused
        return None


def _tokyo_day(day: date, *, end: bool) -> datetime:
    start = datetime.combine(day, time(0), TOKYO)
    return start + timedelta(days=1, microseconds=-1) if end else start


def add_order_routes(router: APIRouter, ctx: AdminContext) -> None:
    @router.get("/orders", summary="受注一覧")
    async def orders(
        request: Request,
        principal: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW))],
        status: Annotated[str, Query(max_length=40)] = "",
        number: Annotated[str, Query(max_length=40)] = "",
        ordered_from: Annotated[str, Query(max_length=10)] = "",
        ordered_to: Annotated[str, Query(max_length=10)] = "",
    ) -> Response:
        query = (
            select(Order, PaymentMethod.name)
            .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
            .order_by(Order.ordered_at.desc(), Order.id.desc())
            .limit(PAGE_SIZE)
        )
        conds = []
        if status in {s.value for s in PaymentStatus}:
            conds.append(Order.payment_status == status)
        else:
            status = ""
        number = number.strip()
        if number:
            conds.append(Order.number == number)
        day_from, day_to = _day(ordered_from), _day(ordered_to)
        if day_from:
            conds.append(Order.ordered_at >= _tokyo_day(day_from, end=False))
        if day_to:
            conds.append(Order.ordered_at <= _tokyo_day(day_to, end=True))
        query = query.where(*conds)
        async with transaction(ctx.services.sessions) as s:
            found = (await s.execute(query)).all()
            total = await s.scalar(select(func.count()).select_from(Order).where(*conds))
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
                "number": number,
                "ordered_from": day_from.isoformat() if day_from else "",
                "ordered_to": day_to.isoformat() if day_to else "",
                "total": int(total or 0),
                "bulk_actions": [
                    (b.action.value, b.label)
                    for b in BULK_ACTIONS.values()
                    if principal.can(b.permission)
                ],
                "submission_field": SUBMISSION_FIELD,
                "submission": submission_token(),
            },
        )

    @router.post("/orders/bulk-payment-actions", summary="決済状況一括変更")
    async def bulk_payment_action(
        request: Request,
        principal: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW, csrf=True))],
    ) -> Response:
        form = await read_form(request)
        raw = form.get("action")
        bulk = parse_action(raw) if isinstance(raw, str) and raw else None
        if bulk is None:
            raise InvalidInput(
                "決済状況一括変更の処理を選択してください", code="bulk_action_required"
            )
        # Each operation its own permission: a role without 強制売上処理 cannot run it.
        require_permitted([bulk], principal.can, principal.role.label)
        if form.get("all_results") == "1":
            filters = {k: form.get(k) for k in ("status", "number", "ordered_from", "ordered_to")}
            text = {k: v.strip()[:40] if isinstance(v, str) else "" for k, v in filters.items()}
            search = OrderFilter(
                payment_status=text["status"] or None,
                number=text["number"] or None,
                ordered_from=text["ordered_from"] or None,
                ordered_to=text["ordered_to"] or None,
            )
            params = bulk_params(bulk, order_ids=None, search=search)
        else:
            picked = [
                v
                for v in form.getlist("order_ids")
                if isinstance(v, str) and v.isdigit() and 1 <= int(v) <= MAX_ID
            ]
            if not picked:
                raise InvalidInput(
                    "処理対象の受注を選択するか、「検索結果すべてを処理対象にする」を選んでください",
                    code="bulk_target_required",
                )
            params = bulk_params(bulk, order_ids=[int(v) for v in picked], search=None)
        job, _ = await submit_bulk(
            ctx.services,
            bulk,
            params,
            actor=principal.actor,
            dedupe_key=dedupe_key(principal, form, "bulk"),
        )
        return redirect(f"/admin/jobs/{job.id}")
