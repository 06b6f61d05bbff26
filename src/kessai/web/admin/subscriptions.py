"""定期受注管理: the search by ステータス and 洗替ステータス (seed 000: 有効性NG・照合エラー・
入力データエラー are the ones to act on), one 定期受注 with its child orders, next dates and
変更履歴, and its status and next shipping date changed from here."""

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.core.errors import InvalidInput
from kessai.customers.updater import (
    NOT_CHECKED,
    NOT_CHECKED_LABEL,
    UpdaterResult,
    parse_updater_filter,
    updater_label,
)
from kessai.history.repository import list_changes
from kessai.orders.schemas import MAX_ID
from kessai.payments.status import PaymentStatus
from kessai.subscriptions import repository as repo
from kessai.subscriptions.schemas import SubscriptionPatch
from kessai.subscriptions.service import update_subscription
from kessai.subscriptions.status import TRANSITIONS, SubscriptionStatus, parse_status
from kessai.users.service import Permission, Principal
from kessai.web.admin import inputs
from kessai.web.admin.core import AdminContext, read_form, redirect, render
from kessai.web.admin.order_detail import day, history_rows, shown, when
from kessai.web.admin.orders import label_of, yen

PAGE_SIZE = 100
SubscriptionId = Annotated[int, Path(ge=1, le=MAX_ID)]
# Seed 000: the 洗替ステータス whose 定期受注 need a new card or another payment method.
ACT_ON = (UpdaterResult.INVALID, UpdaterResult.MISMATCH, UpdaterResult.INPUT_ERROR)
FIELD_LABELS = {
    "status": "ステータス",
    "next_ship_on": "次回発送予定日",
    "next_delivery_on": "次回配送予定日",
    "card_id": "登録カード",
    "cycle_kind": "周期",
    "cycle_interval": "周期(間隔)",
    "cycle_day": "周期(日)",
    "automation": "自動化設定",
}


def cycle_text(kind: str, interval: int, cycle_day: int | None) -> str:
    unit = {"days": "日", "weeks": "週", "months": "ヶ月"}.get(kind, kind)
    text = f"{interval}{unit}ごと"
    return text + (f"({cycle_day}日)" if cycle_day else "")


@dataclass(frozen=True)
class SubscriptionRow:
    id: int
    number: str
    customer_id: int
    customer: str
    method: str
    card: str
    updater: str
    updater_code: str
    status: str
    status_label: str
    next_ship_on: str
    cycle: int
    amount: str

    @classmethod
    def of(cls, v: repo.SubscriptionView) -> "SubscriptionRow":
        sub, card = v.subscription, v.card
        return cls(
            id=sub.id,
            number=sub.number,
            customer_id=v.customer.id,
            customer=v.customer.name,
            method=v.method.name,
            card=card.masked_number if card else "",
            updater=updater_label(card.updater_result) if card else "",
            updater_code=(card.updater_result or "none") if card else "",
            status=sub.status,
            status_label=label_of(SubscriptionStatus, sub.status),
            next_ship_on=day(sub.next_ship_on),
            cycle=sub.cycle,
            amount=yen(sub.amount),
        )


def month_range(month: date) -> tuple[datetime, datetime]:
    """The Tokyo month that starts on `month`, as [start, end)."""
    end = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return datetime.combine(month, time(0), TOKYO), datetime.combine(end, time(0), TOKYO)


def parse_month(raw: str) -> date:
    """洗替月: 2026-12 or 2026/12."""
    found = re.fullmatch(r"(\d{4})[-/](\d{1,2})", raw.strip())
    if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 2000:
        raise InvalidInput(
            f"洗替月「{raw}」は 2026/12 の形で指定してください", code="invalid_updater_month"
        )
    return date(int(found[1]), int(found[2]), 1)


def _value(field: str, raw: str | None) -> str:
    return shown(label_of(SubscriptionStatus, raw) if field == "status" and raw else raw)


def add_subscription_routes(router: APIRouter, ctx: AdminContext) -> None:
    @router.get("/subscriptions", summary="定期受注管理")
    async def subscriptions(
        request: Request,
        _: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW))],
    ) -> Response:
        params = request.query_params
        errors: list[str] = []
        status_raw = params.get("status", "")[:20]
        updater_raw = params.get("updater_result", "")[:20]
        month_raw = params.get("updater_month", "")[:20]
        status = None
        updater = None
        month = None
        try:
            status = parse_status(status_raw) if status_raw else None
        except InvalidInput as exc:
            errors.append(exc.message)
        try:
            updater = parse_updater_filter(updater_raw) if updater_raw else None
        except InvalidInput as exc:
            errors.append(exc.message)
        try:
            month = parse_month(month_raw) if month_raw else None
        except InvalidInput as exc:
            errors.append(exc.message)
        checked = month_range(month) if month else (None, None)
        page = inputs.page(params)
        async with transaction(ctx.services.sessions) as s:
            views, total = await repo.search(
                s,
                repo.SubscriptionSearch(
                    status=status,
                    updater_result=updater,
                    updater_checked_from=checked[0],
                    updater_checked_to=checked[1],
                    limit=PAGE_SIZE,
                    offset=(page - 1) * PAGE_SIZE,
                ),
            )
        query = {
            k: v
            for k, v in (
                ("status", status.value if status else ""),
                ("updater_result", updater or ""),
                ("updater_month", f"{month:%Y-%m}" if month else ""),
            )
            if v
        }
        return render(
            request,
            "subscriptions.html",
            {
                "nav": "subscriptions",
                "rows": [SubscriptionRow.of(v) for v in views],
                "total": total,
                "errors": errors,
                "status": query.get("status", ""),
                "updater": query.get("updater_result", ""),
                "updater_month": f"{month.year}年{month.month}月" if month else "",
                "updater_month_value": query.get("updater_month", ""),
                "statuses": [(s.value, s.label) for s in SubscriptionStatus],
                "updaters": [(r.value, r.label) for r in UpdaterResult]
                + [(NOT_CHECKED, NOT_CHECKED_LABEL)],
                "act_on": [(r.value, r.label) for r in ACT_ON],
                "query": query,
                "page": page,
                "pages": max(1, -(-total // PAGE_SIZE)),
            },
        )

    @router.get("/subscriptions/{subscription_id}", summary="定期受注詳細")
    async def subscription_detail(
        request: Request,
        subscription_id: SubscriptionId,
        principal: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW))],
    ) -> Response:
        async with transaction(ctx.services.sessions) as s:
            view = await repo.get_view(s, subscription_id)
            orders = await repo.child_orders(s, subscription_id)
            changes = await list_changes(s, repo.ENTITY, subscription_id)
        sub = view.subscription
        current = SubscriptionStatus(sub.status)
        history = history_rows(changes, FIELD_LABELS, _value)
        return render(
            request,
            "subscription_detail.html",
            {
                "nav": "subscriptions",
                "view": view,
                "sub": sub,
                "row": SubscriptionRow.of(view),
                "cycle": cycle_text(sub.cycle_kind, sub.cycle_interval, sub.cycle_day),
                "next_delivery_on": day(sub.next_delivery_on),
                "blocked": view.card is not None
                and view.card.updater_result in {r.value for r in ACT_ON},
                "orders": [
                    {
                        "id": o.id,
                        "number": o.number,
                        "cycle": o.subscription_cycle,
                        "ordered_at": when(o.ordered_at),
                        "amount": yen(o.amount),
                        "status": o.payment_status,
                        "status_label": label_of(PaymentStatus, o.payment_status),
                    }
                    for o in orders
                ],
                "moves": [
                    (t.value, t.label) for t in SubscriptionStatus if t in TRANSITIONS[current]
                ],
                "can_edit": principal.can(Permission.SUBSCRIPTIONS_EDIT),
                "changes": history,
            },
        )

    @router.post("/subscriptions/{subscription_id}", summary="定期受注を変更")
    async def change_subscription(
        request: Request,
        subscription_id: SubscriptionId,
        principal: Annotated[
            Principal, Depends(ctx.require(Permission.SUBSCRIPTIONS_EDIT, csrf=True))
        ],
    ) -> Response:
        form = await read_form(request)
        raw_status = form.get("status")
        reason = form.get("reason")
        patch = SubscriptionPatch(
            status=raw_status if isinstance(raw_status, str) and raw_status else None,
            next_ship_on=inputs.day(
                inputs.text(form, "next_ship_on", "次回発送予定日", 10), "次回発送予定日"
            ),
            reason=reason.strip()[:200] if isinstance(reason, str) and reason.strip() else None,
        )
        async with transaction(ctx.services.sessions) as s:
            await update_subscription(
                s, subscription_id, patch, ctx.services.clock.now(), principal.actor
            )
        return redirect(f"/admin/subscriptions/{subscription_id}", flash="saved")
