"""受注詳細: the order, its 出荷 fields, the tabs 決済履歴 and 変更履歴, and the one-order
actions (売上処理 / 取消処理 / 金額変更 / 再オーソリ / 強制売上処理 / 強制取消処理 / 決済照会).

Which actions are offered, and why the others are not, comes from payments.offers: the same
answer the API gives as `allowed_actions`. Each action is confirmed on a page that names what
will be sent to the provider, and needs its own permission.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.core.errors import InvalidInput, KessaiError, NotFound
from kessai.history.models import ChangeRecord
from kessai.history.repository import list_changes
from kessai.orders.schemas import MAX_ID
from kessai.orders.service import OrderView, authorization_expires_at, get_order_view
from kessai.payments.decide import OrderFacts
from kessai.payments.endpoints import FIELD_LABELS, change_value_label
from kessai.payments.import_lock import refuse_during_shipment_import
from kessai.payments.models import PaymentAttempt
from kessai.payments.offers import Offer, offer
from kessai.payments.plans import OPERATION_LABELS, ActionRequest, ShipmentInput
from kessai.payments.repository import list_attempts
from kessai.payments.status import Action, HandlingStatus, PaymentStatus, ReauthorizationLabel
from kessai.subscriptions.models import Subscription
from kessai.users.service import Permission, Principal
from kessai.web.admin import inputs
from kessai.web.admin.core import AdminContext, AdminError, read_form, redirect, render
from kessai.web.admin.orders import label_of, yen

OrderId = Annotated[int, Path(ge=1, le=MAX_ID)]

# The one-order actions in the order the screen shows them, each with its permission.
ACTION_PERMISSIONS: dict[Action, Permission] = {
    Action.CAPTURE: Permission.ORDERS_OPERATE,
    Action.CANCEL: Permission.ORDERS_OPERATE,
    Action.CHANGE_AMOUNT: Permission.ORDERS_OPERATE,
    Action.REAUTHORIZE: Permission.ORDERS_OPERATE,
    Action.FORCE_CAPTURE: Permission.ORDERS_FORCE_CAPTURE,
    Action.FORCE_CANCEL: Permission.ORDERS_FORCE_CANCEL,
    Action.RECONCILE: Permission.ORDERS_OPERATE,
}
# The FAQ's longer names for the forced ones.
BUTTON_LABELS = {
    Action.FORCE_CAPTURE: "強制売上処理(決済サービス未連携)",
    Action.FORCE_CANCEL: "強制取消処理(決済サービス未連携)",
}
OUTCOME_LABELS = {
    "sent": "送信中",
    "succeeded": "成功",
    "declined": "エラー",
    "pending": "結果待ち",
    "not_sent": "未送信(接続できず)",
    "unknown": "結果不明(要照会)",
    "local": "決済サービス未連携",
    "refused": "処理不可",
}
# Where a change came from: the prefix of its actor.
SOURCES = {
    "admin": "管理画面",
    "api": "API",
    "job": "ジョブ",
    "system": "自動処理",
    "customer": "マイページ",
    "scheduler": "スケジューラ",
}
FLASH_BY_OUTCOME = {
    "succeeded": "action_succeeded",
    "local": "action_local",
    "declined": "action_declined",
    "pending": "action_pending",
    "unknown": "action_unknown",
    "not_sent": "action_not_sent",
}


def when(moment: datetime | None) -> str:
    return "" if moment is None else to_tokyo(moment).strftime("%Y/%m/%d %H:%M:%S")


def day(value: date | None) -> str:
    return "" if value is None else value.strftime("%Y/%m/%d")


_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def shown(raw: str | None) -> str:
    """A 変更履歴 value as the screen writes it: dates YYYY/MM/DD, nothing as (なし)."""
    if raw is None or raw == "":
        return "(なし)"
    return _ISO_DAY.sub(r"\1/\2/\3", raw)


def order_value(field: str, raw: str | None) -> str:
    return shown(change_value_label(field, raw))


def history_rows(
    changes: Sequence[ChangeRecord],
    labels: Mapping[str, str],
    value: Callable[[str, str | None], str],
) -> list[dict[str, str]]:
    """変更履歴 as the screens show it, newest first: when, what, before → after, who, from
    where and why."""
    rows = []
    for r in reversed(changes):
        source, actor = source_of(r.actor)
        rows.append(
            {
                "at": when(r.created_at),
                "field": labels.get(r.field, r.field),
                "before": value(r.field, r.before),
                "after": value(r.field, r.after),
                "source": source,
                "actor": actor,
                "reason": r.reason or "",
            }
        )
    return rows


def source_of(actor: str) -> tuple[str, str]:
    """(from where, who) of an actor such as admin:hanako@example.jp or job:12."""
    prefix, _, rest = actor.partition(":")
    if prefix in SOURCES:
        return SOURCES[prefix], rest or actor
    return "", actor


def button_label(action: Action) -> str:
    return BUTTON_LABELS.get(action, action.label)


@dataclass(frozen=True)
class ActionButton:
    action: str
    label: str
    allowed: bool
    reason: str | None


@dataclass(frozen=True)
class HistoryRow:
    at: str
    operation: str
    amount: str
    reference: str
    outcome: str
    outcome_code: str
    provider_code: str
    provider_message: str
    note: str
    source: str
    actor: str

    @classmethod
    def of(cls, a: PaymentAttempt) -> "HistoryRow":
        source, actor = source_of(a.actor)
        return cls(
            at=when(a.created_at),
            operation=OPERATION_LABELS.get(a.operation, a.operation),
            amount="" if a.amount is None else yen(a.amount),
            reference=a.reference,
            outcome=OUTCOME_LABELS.get(a.outcome, a.outcome),
            outcome_code=a.outcome,
            provider_code=a.provider_code or "",
            provider_message=a.provider_message or "",
            note=a.note or "",
            source=source,
            actor=actor,
        )


def facts_of(view: OrderView, now: datetime) -> OrderFacts:
    return OrderFacts(view.order, view.method, view.account, now)


def parse_action(raw: str) -> Action:
    try:
        action = Action(raw)
    except ValueError:
        action = None
    if action is None or action not in ACTION_PERMISSIONS:
        raise AdminError(404, "見つかりませんでした", f"決済処理「{raw[:40]}」はありません")
    return action


def action_request(action: Action, form: FormData, actor: str) -> ActionRequest:
    """The operator's form as the engine's request: only the fields the action takes."""
    if action is Action.CHANGE_AMOUNT:
        amount = inputs.yen(form, "amount", "変更後の合計金額")
        if amount is None:
            raise InvalidInput("変更後の合計金額を入力してください", code="amount_required")
        tax = inputs.yen(form, "tax", "うち消費税")
        return ActionRequest(action=action.value, actor=actor, amount=amount, tax=tax)
    if action is Action.CAPTURE:
        shipment = ShipmentInput(
            inputs.day(inputs.text(form, "shipped_on", "発送完了日", 10), "発送完了日"),
            inputs.text(form, "tracking_number", "配送伝票番号", 60) or None,
            inputs.text(form, "carrier", "配送業者", 60) or None,
        )
        return ActionRequest(action=action.value, actor=actor, shipment=shipment)
    return ActionRequest(action=action.value, actor=actor)


def add_order_detail_routes(router: APIRouter, ctx: AdminContext) -> None:
    async def load(order_id: int) -> OrderView:
        async with transaction(ctx.services.sessions) as s:
            return await get_order_view(s, order_id)

    @router.get("/orders/{order_id}", summary="受注詳細")
    async def order_detail(
        request: Request,
        order_id: OrderId,
        principal: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW))],
        tab: Annotated[str, Query(max_length=20)] = "payments",
    ) -> Response:
        now = ctx.services.clock.now()
        async with transaction(ctx.services.sessions) as s:
            view = await get_order_view(s, order_id)
            attempts = await list_attempts(s, order_id)
            changes = await list_changes(s, "order", order_id)
            sub_number = (
                None
                if view.order.subscription_id is None
                else await s.scalar(
                    select(Subscription.number).where(Subscription.id == view.order.subscription_id)
                )
            )
        facts = facts_of(view, now)
        buttons = []
        for action, permission in ACTION_PERMISSIONS.items():
            if not principal.can(permission):
                continue  # no button for what this user may not do
            got: Offer = offer(facts, action)
            if action is Action.RECONCILE and not got.allowed:
                continue  # shown only when there is something to look up
            buttons.append(
                ActionButton(action.value, button_label(action), got.allowed, got.reason)
            )
        history = history_rows(changes, FIELD_LABELS, order_value)
        o = view.order
        return render(
            request,
            "order_detail.html",
            {
                "nav": "orders",
                "view": view,
                "order": o,
                "tab": "changes" if tab == "changes" else "payments",
                "status_label": label_of(PaymentStatus, o.payment_status),
                "handling_label": label_of(HandlingStatus, o.handling_status),
                "label": label_of(ReauthorizationLabel, o.reauthorization_label),
                "ordered_at": when(o.ordered_at),
                "authorized_at": when(o.authorized_at),
                "captured_at": when(o.captured_at),
                "expires_at": when(authorization_expires_at(view)),
                "shipped_on": day(o.shipped_on),
                "amount": yen(o.amount),
                "tax": yen(o.tax),
                "sub_number": sub_number,
                "buttons": buttons,
                "attempts": [HistoryRow.of(a) for a in reversed(attempts)],
                "changes": history,
            },
        )

    @router.get("/orders/{order_id}/actions/{action}", summary="決済処理の確認")
    async def confirm_action(
        request: Request,
        order_id: OrderId,
        action: Annotated[str, Path(max_length=40)],
        principal: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW))],
    ) -> Response:
        act = parse_action(action)
        require(principal, act)
        view = await load(order_id)
        o = offer(facts_of(view, ctx.services.clock.now()), act)
        return render(
            request,
            "order_action.html",
            {
                "nav": "orders",
                "view": view,
                "order": view.order,
                "action": act,
                "label": button_label(act),
                "offer": o,
                "status_label": label_of(PaymentStatus, view.order.payment_status),
                "amount": yen(view.order.amount),
                "shipped_on": day(view.order.shipped_on)
                or day(to_tokyo(ctx.services.clock.now()).date()),
                "deferred": facts_of(view, ctx.services.clock.now()).kind.value == "deferred",
            },
            status_code=200 if o.allowed else 409,
        )

    @router.post("/orders/{order_id}/actions/{action}", summary="決済処理を実行")
    async def run_action(
        request: Request,
        order_id: OrderId,
        action: Annotated[str, Path(max_length=40)],
        principal: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW, csrf=True))],
    ) -> Response:
        act = parse_action(action)
        require(principal, act)
        form = await read_form(request)
        req = action_request(act, form, principal.actor)
        view = await load(order_id)
        refused = offer(facts_of(view, ctx.services.clock.now()), act)
        if not refused.allowed:
            raise AdminError(409, f"{button_label(act)}できません", refused.reason or "")
        try:
            await refuse_during_shipment_import(ctx.services.sessions, [act])
            result = await ctx.services.payments.run(order_id, req)
        except NotFound:
            raise
        except KessaiError as exc:
            title = f"{button_label(act)}できませんでした"
            raise AdminError(exc.status_code, title, exc.message) from exc
        flash = FLASH_BY_OUTCOME.get(result.outcome, "action_succeeded")
        return redirect(f"/admin/orders/{order_id}", flash=flash)


def require(principal: Principal, action: Action) -> None:
    """A user without the action's permission gets 403 and nothing runs."""
    if not principal.can(ACTION_PERMISSIONS[action]):
        raise AdminError(
            403,
            "権限がありません",
            f"{button_label(action)}を実行する権限がありません"
            f"({principal.role.label}には許可されていません)",
        )
